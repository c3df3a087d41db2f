//! Edits of the app's own files, made the way a careful person would: one
//! key changed in place, every comment, blank line and the order of keys
//! kept (`toml_edit`), and the value it replaced returned so the change can
//! be undone exactly. Seed 000's first steps ("write `app` and
//! `primary_region` into fly.toml") are such edits.

use std::path::{Component, Path, PathBuf};

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
    let mut doc: DocumentMut =
        text.parse().map_err(|e: toml_edit::TomlError| EditError::Parse { file: file.into(), message: e.message().trim().into() })?;
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts.split_last().expect("split always yields one part");
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
                }
            }
        }
        None => {
            table.remove(last);
        }
    }
    let mut text_out = doc.to_string();
    // toml_edit ends every line it re-renders with a newline; a file that
    // had none at the end keeps having none.
    if !text.ends_with('\n') && text_out.ends_with('\n') {
        text_out.pop();
    }
    Ok(Edited { text: text_out, previous })
}

/// The table that holds the last key of the path; created when setting,
/// `None` when removing from a path that does not exist.
fn parent_table<'t>(
    root: &'t mut Table,
    parents: &[&str],
    file: &str,
    key: &str,
    create: bool,
) -> Result<Option<&'t mut Table>, EditError> {
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
    let doc: DocumentMut =
        text.parse().map_err(|e: toml_edit::TomlError| EditError::Parse { file: file.into(), message: e.message().trim().into() })?;
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
/// file it names must be relative and must not climb out with `..`.
pub fn inside(checkout: &Path, file: &str) -> Result<PathBuf, EditError> {
    let relative = Path::new(file);
    let confined = !file.is_empty() && relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if confined { Ok(checkout.join(relative)) } else { Err(EditError::Outside { file: file.into() }) }
}

/// Reads a file of the checkout.
pub fn read_file(checkout: &Path, file: &str) -> Result<String, EditError> {
    std::fs::read_to_string(inside(checkout, file)?).map_err(|source| EditError::Io { file: file.into(), source })
}

/// Reads a file of the checkout, `None` when there is none.
pub fn read_optional(checkout: &Path, file: &str) -> Result<Option<String>, EditError> {
    match std::fs::read_to_string(inside(checkout, file)?) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EditError::Io { file: file.into(), source }),
    }
}

/// Writes a whole file of the checkout (atomically), or removes it with
/// `None`; returns what it held before, for the undo.
pub fn write_file(checkout: &Path, file: &str, contents: Option<&str>) -> Result<Option<String>, EditError> {
    let path = inside(checkout, file)?;
    let previous = read_optional(checkout, file)?;
    let io = |source| EditError::Io { file: file.into(), source };
    match contents {
        Some(text) => replace(&path, text).map_err(io)?,
        None if previous.is_some() => std::fs::remove_file(&path).map_err(io)?,
        None => {}
    }
    Ok(previous)
}

/// Replaces `path` with `text` through a temporary file and a rename, so a
/// crash leaves the old or the new file, never half of one.
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".ferry-tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Applies an edit to a file of the checkout in place; returns the previous
/// literal (for the undo). The file is replaced atomically.
pub fn edit_file(checkout: &Path, file: &str, key: &str, value: Option<&str>) -> Result<Option<String>, EditError> {
    if !file.ends_with(".toml") {
        return Err(EditError::NotToml { file: file.into() });
    }
    let text = read_file(checkout, file)?;
    let edited = set_key(file, &text, key, value)?;
    if edited.text != text {
        replace(&inside(checkout, file)?, &edited.text).map_err(|source| EditError::Io { file: file.into(), source })?;
    }
    Ok(edited.previous)
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

    #[test]
    fn edits_nested_keys_and_creates_tables() {
        let e = set_key("fly.toml", FLY, "build.dockerfile", Some("\"Dockerfile.prod\"")).unwrap();
        assert!(e.text.contains("  dockerfile = \"Dockerfile.prod\"\n"), "{}", e.text);
        let e = set_key("fly.toml", FLY, "deploy.strategy", Some("\"rolling\"")).unwrap();
        assert!(e.text.ends_with("[deploy]\nstrategy = \"rolling\"\n"), "{}", e.text);
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
