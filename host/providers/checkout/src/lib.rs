//! Edits of the app's own files, made the way a careful person would: one
//! key changed in place, every comment, blank line and the order of keys
//! kept (`toml_edit`), and the value it replaced returned so the change can
//! be undone exactly. Seed 000's first steps ("write `app` and
//! `primary_region` into fly.toml") are such edits.

use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use toml_edit::{DocumentMut, Item, Table, Value};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("`{value}` is not a TOML value (write strings with quotes, e.g. \"ams\")")]
    Value { value: String },
    #[error("{file}: `{key}` cannot be set: `{at}` is not a table")]
    NotATable { file: String, key: String, at: String },
    #[error("{file}: in-place edits support TOML files only")]
    NotToml { file: String },
    #[error("{file}: {source}")]
    Io { file: String, source: std::io::Error },
    #[error("`{file}` is outside the checkout: plans may only change files inside it (a relative path without `..`)")]
    Outside { file: String },
    #[error("`{file}` leads outside the checkout through a symbolic link committed in it; ferry reads and writes only inside the checkout")]
    Escapes { file: String },
}

/// The result of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    pub text: String,
    /// The value the key held, as a TOML literal; `None` if it was absent.
    /// Setting it back undoes the edit.
    pub previous: Option<String>,
}

/// Sets `key` (a dotted path such as `primary_region` or `deploy.strategy`)
/// to the TOML literal `value`, or removes it when `value` is `None`.
pub fn set_key(file: &str, text: &str, key: &str, value: Option<&str>) -> Result<Edited, EditError> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| EditError::Parse { file: file.into(), message: e.message().trim().into() })?;
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts.split_last().expect("split always yields one part");
    let indent = indentation(&doc, parents);
    let table = parent_table(doc.as_table_mut(), parents, file, key, value.is_some())?;
    let Some(table) = table else {
        return Ok(Edited { text: text.to_string(), previous: None });
    };
    let previous = table.get(last).and_then(|item| item.as_value()).map(literal);
    match value {
        Some(literal) => {
            let mut new: Value = literal.parse().map_err(|_| EditError::Value { value: literal.into() })?;
            match table.get_mut(last) {
                // Replace the value only: the key keeps its comments and
                // indentation, the value its spacing and trailing comment.
                Some(Item::Value(old)) => {
                    *new.decor_mut() = old.decor().clone();
                    *old = new;
                }
                _ => {
                    new.decor_mut().set_prefix(" ");
                    table.insert(last, Item::Value(new));
                    if let Some(indent) = indent
                        && let Some(mut key) = table.key_mut(last)
                    {
                        key.leaf_decor_mut().set_prefix(indent);
                    }
                }
            }
        }
        None => {
            table.remove(last);
        }
    }
    Ok(Edited { text: same_line_endings(text, doc.to_string()), previous })
}

/// How the file indents the keys of a table: as the table's own keys are
/// (the last one's indentation), or for a new table as the other tables'
/// keys are; `None` for keys at the top level, which nobody indents.
fn indentation(doc: &DocumentMut, parents: &[&str]) -> Option<String> {
    if parents.is_empty() {
        return None;
    }
    let mut table = doc.as_table();
    for part in parents {
        match table.get(part).and_then(Item::as_table) {
            Some(t) => table = t,
            None => return first_table_indent(doc.as_table()),
        }
    }
    key_indent(table).or_else(|| first_table_indent(doc.as_table()))
}

/// The whitespace before the last plain key of `table`, if it has one.
fn key_indent(table: &Table) -> Option<String> {
    let (name, _) = table.iter().filter(|(_, item)| item.is_value()).last()?;
    let prefix = table.key(name)?.leaf_decor().prefix()?.as_str()?;
    // A comment above the key is part of its prefix: keep the last line's.
    let indent = prefix.rsplit('\n').next().unwrap_or_default();
    indent.chars().all(|c| c == ' ' || c == '\t').then(|| indent.to_string())
}

/// The indentation of the first table in the document that has keys.
fn first_table_indent(root: &Table) -> Option<String> {
    root.iter().filter_map(|(_, item)| item.as_table()).find_map(|t| key_indent(t).or_else(|| first_table_indent(t)))
}

/// `rendered` with `original`'s line endings: CRLF when every line of the
/// original ended so, and a final newline exactly when it had one
/// (toml_edit renders LF and ends every line it re-renders).
fn same_line_endings(original: &str, mut rendered: String) -> String {
    if original.contains("\r\n") && !original.replace("\r\n", "").contains('\n') {
        rendered = rendered.replace("\r\n", "\n").replace('\n', "\r\n");
    }
    let ending = if original.contains("\r\n") { "\r\n" } else { "\n" };
    match (original.ends_with('\n'), rendered.ends_with('\n')) {
        (true, false) if !rendered.is_empty() => rendered.push_str(ending),
        (false, true) => {
            let trimmed = rendered.trim_end_matches(['\r', '\n']).len();
            rendered.truncate(trimmed);
        }
        _ => {}
    }
    rendered
}

/// The table that holds the last key of the path; created when setting,
/// `None` when removing from a path that does not exist.
fn parent_table<'t>(root: &'t mut Table, parents: &[&str], file: &str, key: &str, create: bool) -> Result<Option<&'t mut Table>, EditError> {
    let mut table = root;
    for (i, part) in parents.iter().enumerate() {
        if !table.contains_key(part) {
            if !create {
                return Ok(None);
            }
            let mut t = Table::new();
            t.set_implicit(false);
            table.insert(part, Item::Table(t));
        }
        let at = parents[..=i].join(".");
        table = match table.get_mut(part) {
            Some(Item::Table(t)) => t,
            _ => return Err(EditError::NotATable { file: file.into(), key: key.into(), at }),
        };
    }
    Ok(Some(table))
}

/// The TOML literal `key` holds in `text` (normalised: no comments or
/// spacing), or `None` when it is absent.
pub fn get_key(file: &str, text: &str, key: &str) -> Result<Option<String>, EditError> {
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| EditError::Parse { file: file.into(), message: e.message().trim().into() })?;
    let mut item = doc.as_item();
    for part in key.split('.') {
        match item.get(part) {
            Some(next) => item = next,
            None => return Ok(None),
        }
    }
    Ok(item.as_value().map(literal))
}

/// A literal as a string, without the comments and spacing around it.
pub fn literal(value: &Value) -> String {
    let mut bare = value.clone();
    bare.decor_mut().clear();
    bare.to_string()
}

/// `value` normalised the way [`get_key`] returns literals, so the two compare.
pub fn normalize_literal(value: &str) -> Result<String, EditError> {
    let v: Value = value.trim().parse().map_err(|_| EditError::Value { value: value.into() })?;
    Ok(literal(&v))
}

/// The path of `file` in the checkout. A plan comes from a step, so a
/// file it names must be relative and must not climb out with `..`. This
/// check is lexical: reads and writes go through [`Checkout`], which also
/// refuses symbolic links that lead out.
pub fn inside(checkout: &Path, file: &str) -> Result<PathBuf, EditError> {
    Ok(checkout.join(relative(file)?))
}

/// `file` of the checkout reached without any symbolic link: what another
/// machine reads after the checkout is copied there as a tar (a VM's
/// Docker reading the Dockerfile or the ignorefile), where a committed link
/// would resolve against that machine's own files (`Dockerfile ->
/// /etc/shadow`).
pub fn without_links(checkout: &Path, file: &str) -> Result<PathBuf, EditError> {
    let mut path = checkout.to_path_buf();
    for part in relative(file)?.components() {
        path.push(part);
        let meta = std::fs::symlink_metadata(&path).map_err(|source| EditError::Io { file: file.into(), source })?;
        if meta.file_type().is_symlink() {
            return Err(EditError::Escapes { file: file.into() });
        }
    }
    Ok(path)
}

/// `file` as a path relative to the checkout, refused when it is empty,
/// absolute or climbs with `..`.
fn relative(file: &str) -> Result<&Path, EditError> {
    let relative = Path::new(file);
    let confined = !file.is_empty() && !file.contains('\0') && relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if confined { Ok(relative) } else { Err(EditError::Outside { file: file.into() }) }
}

/// A directory of the checkout (a build context), resolved through any
/// symbolic links and refused unless it is a directory that is still inside
/// the checkout: `tar -C` follows a link, so a committed `context -> /`
/// would otherwise ship this machine's root to the host.
pub fn directory(checkout: &Path, dir: &str) -> Result<PathBuf, EditError> {
    let io = |source| EditError::Io { file: dir.into(), source };
    let root = checkout.canonicalize().map_err(io)?;
    let resolved = root.join(relative(dir)?).canonicalize().map_err(io)?;
    if !resolved.starts_with(&root) {
        return Err(EditError::Escapes { file: dir.into() });
    }
    if !resolved.is_dir() {
        return Err(EditError::Io { file: dir.into(), source: std::io::Error::other("not a directory") });
    }
    Ok(resolved)
}

/// The checkout, opened as a capability (`cap-std`): every path is
/// resolved inside it, and one that leads out, by `..` or by a symbolic link
/// committed in the repository (`config -> /etc`), is refused. Writes and
/// the reads that capture undo data both go through it.
struct Checkout {
    dir: Dir,
}

impl Checkout {
    fn open(checkout: &Path) -> Result<Self, EditError> {
        let dir = Dir::open_ambient_dir(checkout, ambient_authority()).map_err(|source| EditError::Io { file: checkout.display().to_string(), source })?;
        Ok(Checkout { dir })
    }

    fn read(&self, file: &str) -> Result<Option<String>, EditError> {
        match self.dir.read_to_string(relative(file)?) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(file, e)),
        }
    }

    /// Replaces `file` with `text` through a temporary file and a rename, so
    /// a crash leaves the old or the new file, never half of one. A rename
    /// replaces a link itself, never what it points to.
    fn replace(&self, file: &str, text: &str) -> Result<(), EditError> {
        let path = relative(file)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.dir.create_dir_all(parent).map_err(|e| io_error(file, e))?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".ferry-tmp");
        self.dir.write(&tmp, text).map_err(|e| io_error(file, e))?;
        self.dir.rename(&tmp, &self.dir, path).map_err(|e| io_error(file, e))
    }

    fn remove(&self, file: &str) -> Result<(), EditError> {
        self.dir.remove_file(relative(file)?).map_err(|e| io_error(file, e))
    }
}

/// cap-std reports an escape as PermissionDenied ("a path led outside of
/// the filesystem"); that is a refusal of ferry's, not a permission problem.
fn io_error(file: &str, source: std::io::Error) -> EditError {
    if source.kind() == std::io::ErrorKind::PermissionDenied && source.to_string().contains("outside") {
        EditError::Escapes { file: file.into() }
    } else {
        EditError::Io { file: file.into(), source }
    }
}

fn not_found(file: &str) -> EditError {
    EditError::Io { file: file.into(), source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file in the checkout") }
}

/// Reads a file of the checkout.
pub fn read_file(checkout: &Path, file: &str) -> Result<String, EditError> {
    read_optional(checkout, file)?.ok_or_else(|| not_found(file))
}

/// Reads a file of the checkout, `None` when there is none.
pub fn read_optional(checkout: &Path, file: &str) -> Result<Option<String>, EditError> {
    relative(file)?;
    Checkout::open(checkout)?.read(file)
}

/// Writes a whole file of the checkout (atomically), or removes it with
/// `None`; returns what it held before, for the undo.
pub fn write_file(checkout: &Path, file: &str, contents: Option<&str>) -> Result<Option<String>, EditError> {
    relative(file)?;
    let checkout = Checkout::open(checkout)?;
    let previous = checkout.read(file)?;
    match contents {
        Some(text) => checkout.replace(file, text)?,
        None if previous.is_some() => checkout.remove(file)?,
        None => {}
    }
    Ok(previous)
}

/// Applies an edit to a file of the checkout in place; returns the previous
/// literal (for the undo). The file is replaced atomically.
pub fn edit_file(checkout: &Path, file: &str, key: &str, value: Option<&str>) -> Result<Option<String>, EditError> {
    if !file.ends_with(".toml") {
        return Err(EditError::NotToml { file: file.into() });
    }
    relative(file)?;
    let checkout = Checkout::open(checkout)?;
    let text = checkout.read(file)?.ok_or_else(|| not_found(file))?;
    let edited = set_key(file, &text, key, value)?;
    if edited.text != text {
        checkout.replace(file, &edited.text)?;
    }
    Ok(edited.previous)
}

#[cfg(test)]
mod links {
    use super::*;

    #[test]
    fn a_file_reached_through_a_link_is_refused_by_name() {
        let co = tempfile::tempdir().unwrap();
        std::fs::create_dir(co.path().join("deploy")).unwrap();
        std::fs::write(co.path().join("deploy/Dockerfile"), "FROM scratch\n").unwrap();
        assert!(without_links(co.path(), "deploy/Dockerfile").is_ok());
        std::os::unix::fs::symlink("/etc/hostname", co.path().join("Dockerfile")).unwrap();
        std::os::unix::fs::symlink("/etc", co.path().join("etc")).unwrap();
        for file in ["Dockerfile", "etc/hostname", "../x"] {
            assert!(matches!(without_links(co.path(), file), Err(EditError::Escapes { .. } | EditError::Outside { .. })), "{file}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_outside_the_checkout_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["../x.toml", "/etc/x.toml", "a/../../x.toml", ""] {
            assert!(matches!(inside(dir.path(), file), Err(EditError::Outside { .. })), "{file}");
            assert!(matches!(write_file(dir.path(), file, Some("x")), Err(EditError::Outside { .. })), "{file}");
        }
        assert_eq!(inside(dir.path(), "./deploy/fly.toml").unwrap(), dir.path().join("./deploy/fly.toml"));
    }

    #[test]
    fn write_file_returns_what_was_there_and_none_removes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(write_file(dir.path(), "sub/fly.toml", Some("app = \"a\"\n")).unwrap(), None);
        assert_eq!(read_optional(dir.path(), "sub/fly.toml").unwrap().as_deref(), Some("app = \"a\"\n"));
        assert_eq!(write_file(dir.path(), "sub/fly.toml", Some("app = \"b\"\n")).unwrap().as_deref(), Some("app = \"a\"\n"));
        assert_eq!(write_file(dir.path(), "sub/fly.toml", None).unwrap().as_deref(), Some("app = \"b\"\n"));
        assert_eq!(read_optional(dir.path(), "sub/fly.toml").unwrap(), None);
        assert_eq!(write_file(dir.path(), "sub/fly.toml", None).unwrap(), None, "removing what is gone is fine");
    }

    /// A repository that commits links out of itself (`config -> /etc`, a
    /// file linked to one outside, a planted `.ferry-tmp` link): no write
    /// through them, no read of what they point to into undo data, and the
    /// files outside are untouched.
    #[test]
    fn writes_and_undo_reads_do_not_follow_links_out_of_the_checkout() {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("passwd");
        std::fs::write(&victim, "root:x:0:0\n").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("config")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("fly.toml")).unwrap();
        std::fs::write(dir.path().join("other.toml"), "app = \"a\"\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("planted"), dir.path().join("other.toml.ferry-tmp")).unwrap();

        for (file, contents) in [("config/passwd", Some("pwned")), ("config/new", Some("pwned")), ("config/passwd", None), ("fly.toml", Some("pwned"))] {
            let error = write_file(dir.path(), file, contents).unwrap_err();
            assert!(matches!(error, EditError::Escapes { .. }), "{file}: {error}");
            assert!(error.to_string().contains("symbolic link"), "{error}");
        }
        assert!(matches!(read_optional(dir.path(), "config/passwd"), Err(EditError::Escapes { .. })), "no undo data from outside");
        assert!(matches!(edit_file(dir.path(), "fly.toml", "app", Some("\"x\"")), Err(EditError::Escapes { .. })));
        assert!(matches!(edit_file(dir.path(), "other.toml", "app", Some("\"x\"")), Err(EditError::Escapes { .. })), "the planted temp link");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root:x:0:0\n");
        assert!(!outside.path().join("new").exists() && !outside.path().join("planted").exists());
    }

    #[test]
    fn links_that_stay_inside_the_checkout_are_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("deploy")).unwrap();
        std::os::unix::fs::symlink("deploy", dir.path().join("current")).unwrap();
        assert_eq!(write_file(dir.path(), "current/fly.toml", Some("app = \"a\"\n")).unwrap(), None);
        assert_eq!(std::fs::read_to_string(dir.path().join("deploy/fly.toml")).unwrap(), "app = \"a\"\n");
    }

    #[test]
    fn a_build_context_must_resolve_to_a_directory_inside_the_checkout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("web")).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("root")).unwrap();
        std::os::unix::fs::symlink("web", dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let real = dir.path().canonicalize().unwrap();
        assert_eq!(directory(dir.path(), ".").unwrap(), real);
        assert_eq!(directory(dir.path(), "app").unwrap(), real.join("web"));
        assert!(matches!(directory(dir.path(), "root"), Err(EditError::Escapes { .. })));
        assert!(matches!(directory(dir.path(), "root/etc"), Err(EditError::Escapes { .. })));
        assert!(matches!(directory(dir.path(), "../"), Err(EditError::Outside { .. })));
        assert!(directory(dir.path(), "Dockerfile").is_err(), "a file is not a context");
    }

    const FLY: &str = "# my app\napp = \"old\"   # the name\n\n[build]\n  dockerfile = \"Dockerfile\"\n\n[env]\n  PORT = \"8080\"\n";

    #[test]
    fn replaces_in_place_keeping_comments_and_spacing() {
        let e = set_key("fly.toml", FLY, "app", Some("\"new-app\"")).unwrap();
        assert_eq!(e.text, FLY.replace("\"old\"", "\"new-app\""));
        assert_eq!(e.previous.as_deref(), Some("\"old\""));
    }

    #[test]
    fn adds_a_missing_key_and_undo_removes_it() {
        let e = set_key("fly.toml", FLY, "primary_region", Some("\"ams\"")).unwrap();
        assert!(e.text.contains("app = \"old\"   # the name\nprimary_region = \"ams\"\n"), "{}", e.text);
        assert_eq!(e.previous, None);
        let undone = set_key("fly.toml", &e.text, "primary_region", None).unwrap();
        assert_eq!(undone.text, FLY);
    }

    /// The audit's case (L6): a key added to `[env]` is indented like its
    /// siblings, a new table's keys like the file's other tables, and the
    /// file keeps its final newline, or its lack of one, and its CRLFs.
    #[test]
    fn added_keys_keep_the_files_style() {
        let e = set_key("fly.toml", FLY, "env.B", Some("\"x\"")).unwrap();
        assert!(e.text.ends_with("[env]\n  PORT = \"8080\"\n  B = \"x\"\n"), "{}", e.text);
        let tabs = "app = \"a\"\n[env]\n\tA = \"1\"\n\t# note\n\tC = \"2\"\n";
        let e = set_key("fly.toml", tabs, "env.B", Some("\"x\"")).unwrap();
        assert!(e.text.ends_with("\tC = \"2\"\n\tB = \"x\"\n"), "{}", e.text);
        let e = set_key("fly.toml", FLY, "deploy.strategy", Some("\"rolling\"")).unwrap();
        assert!(e.text.ends_with("[deploy]\n  strategy = \"rolling\"\n"), "a new table follows the others: {}", e.text);
        let e = set_key("fly.toml", "app = \"a\"\n", "primary_region", Some("\"ams\"")).unwrap();
        assert_eq!(e.text, "app = \"a\"\nprimary_region = \"ams\"\n", "top-level keys are not indented");

        let bare = FLY.trim_end();
        let e = set_key("fly.toml", bare, "env.B", Some("\"x\"")).unwrap();
        assert!(e.text.ends_with("  B = \"x\""), "no final newline stays none: {:?}", e.text);
        let crlf = FLY.replace('\n', "\r\n");
        let e = set_key("fly.toml", &crlf, "env.B", Some("\"x\"")).unwrap();
        assert!(e.text.ends_with("  PORT = \"8080\"\r\n  B = \"x\"\r\n") && !e.text.replace("\r\n", "").contains('\n'), "{:?}", e.text);
        let undone = set_key("fly.toml", &e.text, "env.B", None).unwrap();
        assert_eq!(undone.text, crlf, "the undo gives the file back byte for byte");
    }

    #[test]
    fn edits_nested_keys_and_creates_tables() {
        let e = set_key("fly.toml", FLY, "build.dockerfile", Some("\"Dockerfile.prod\"")).unwrap();
        assert!(e.text.contains("  dockerfile = \"Dockerfile.prod\"\n"), "{}", e.text);
        let e = set_key("fly.toml", FLY, "deploy.strategy", Some("\"rolling\"")).unwrap();
        assert!(e.text.ends_with("[deploy]\n  strategy = \"rolling\"\n"), "{}", e.text);
    }

    #[test]
    fn refuses_bad_input_clearly() {
        assert!(matches!(set_key("fly.toml", FLY, "app", Some("ams")), Err(EditError::Value { .. })));
        let e = set_key("fly.toml", FLY, "app.name", Some("\"x\"")).unwrap_err().to_string();
        assert_eq!(e, "fly.toml: `app.name` cannot be set: `app` is not a table");
        assert!(set_key("fly.toml", "app = ", "app", Some("\"x\"")).unwrap_err().to_string().starts_with("fly.toml: "));
    }

    #[test]
    fn reads_keys_as_normalised_literals() {
        assert_eq!(get_key("fly.toml", FLY, "app").unwrap().as_deref(), Some("\"old\""));
        assert_eq!(get_key("fly.toml", FLY, "env.PORT").unwrap().as_deref(), Some("\"8080\""));
        assert_eq!(get_key("fly.toml", FLY, "deploy.strategy").unwrap(), None);
        assert_eq!(normalize_literal(" \"old\"  ").unwrap(), "\"old\"");
    }

    #[test]
    fn edits_a_file_atomically() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fly.toml"), FLY).unwrap();
        let previous = edit_file(dir.path(), "fly.toml", "app", Some("\"new\"")).unwrap();
        assert_eq!(previous.as_deref(), Some("\"old\""));
        edit_file(dir.path(), "fly.toml", "app", previous.as_deref()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("fly.toml")).unwrap(), FLY);
        assert!(matches!(edit_file(dir.path(), "fly.json", "app", None), Err(EditError::NotToml { .. })));
    }
}
