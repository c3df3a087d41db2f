//! `ferry:step/checkout`: read-only access to the repository checkout.
//!
//! Paths are resolved with `cap-std`, which refuses any path that leaves the
//! checkout, by `..` or by a symlink. Files above the step's `file_bytes`
//! limit are refused before they are read in full.

use std::io::Read;
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use wasmtime::component::{ComponentType, Lift, LinkerInstance, Lower};

use crate::call::CallState;

/// The most entries `list-dir` returns.
const MAX_DIR_ENTRIES: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(variant)]
pub enum ReadError {
    #[component(name = "not-found")]
    NotFound(String),
    #[component(name = "too-large")]
    TooLarge(u64),
    #[component(name = "outside-checkout")]
    OutsideCheckout(String),
    #[component(name = "io")]
    Io(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
pub enum EntryKind {
    #[component(name = "file")]
    File,
    #[component(name = "directory")]
    Directory,
    #[component(name = "other")]
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct DirEntry {
    pub name: String,
    pub kind: EntryKind,
}

pub(super) fn add_to_linker(linker: &mut LinkerInstance<'_, CallState>) -> wasmtime::Result<()> {
    linker.func_wrap("read-file", |store, (path,): (String,)| {
        let state = store.data();
        Ok((read_file(state.host.checkout.as_deref(), &path, state.limits.file_bytes),))
    })?;
    linker.func_wrap("list-dir", |store, (path,): (String,)| Ok((list_dir(store.data().host.checkout.as_deref(), &path),)))
}

/// Reads `path` inside `root`, refusing escapes and files over `cap` bytes.
pub fn read_file(root: Option<&Path>, path: &str, cap: u64) -> Result<Vec<u8>, ReadError> {
    let dir = open_root(root, path)?;
    let rel = relative(path)?;
    let file = dir.open(rel).map_err(|e| io_error(path, e))?;
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if !meta.is_file() {
        return Err(ReadError::Io(format!("{path} is not a regular file")));
    }
    if meta.len() > cap {
        return Err(ReadError::TooLarge(cap));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // `take` guards against a file that grew after the size check.
    file.take(cap + 1).read_to_end(&mut bytes).map_err(|e| io_error(path, e))?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge(cap));
    }
    Ok(bytes)
}

/// Lists `path` inside `root`, sorted by name.
pub fn list_dir(root: Option<&Path>, path: &str) -> Result<Vec<DirEntry>, ReadError> {
    let dir = open_root(root, path)?;
    let rel = relative(path)?;
    let entries = if rel.is_empty() { dir.entries() } else { dir.read_dir(rel) };
    let mut out = Vec::new();
    for entry in entries.map_err(|e| io_error(path, e))?.take(MAX_DIR_ENTRIES) {
        let entry = entry.map_err(|e| io_error(path, e))?;
        let kind = match entry.file_type() {
            Ok(t) if t.is_file() => EntryKind::File,
            Ok(t) if t.is_dir() => EntryKind::Directory,
            _ => EntryKind::Other,
        };
        out.push(DirEntry { name: entry.file_name().to_string_lossy().into_owned(), kind });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn open_root(root: Option<&Path>, path: &str) -> Result<Dir, ReadError> {
    let root = root.ok_or_else(|| ReadError::NotFound(format!("{path} (no checkout was given to this step)")))?;
    Dir::open_ambient_dir(root, ambient_authority()).map_err(|e| ReadError::Io(format!("opening the checkout {}: {e}", root.display())))
}

/// The path relative to the checkout root; absolute paths are refused.
fn relative(path: &str) -> Result<&str, ReadError> {
    if path.starts_with('/') || path.starts_with('\\') || path.contains('\0') {
        return Err(ReadError::OutsideCheckout(path.to_string()));
    }
    Ok(path.trim_start_matches("./"))
}

fn io_error(path: &str, e: std::io::Error) -> ReadError {
    match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound(path.to_string()),
        // cap-std reports an escape as PermissionDenied ("a path led outside of the filesystem").
        std::io::ErrorKind::PermissionDenied if e.to_string().contains("outside") => ReadError::OutsideCheckout(path.to_string()),
        _ => ReadError::Io(format!("{path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fly.toml"), "app = 'x'\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a.txt"), "a").unwrap();
        dir
    }

    #[test]
    fn reads_inside_and_refuses_escapes() {
        let co = checkout();
        let root = Some(co.path());
        assert_eq!(read_file(root, "fly.toml", 1024).unwrap(), b"app = 'x'\n");
        assert_eq!(read_file(root, "./sub/a.txt", 1024).unwrap(), b"a");
        assert_eq!(read_file(root, "/etc/passwd", 1024), Err(ReadError::OutsideCheckout("/etc/passwd".into())));
        assert_eq!(read_file(root, "../x", 1024), Err(ReadError::OutsideCheckout("../x".into())));
        assert_eq!(read_file(root, "nope", 1024), Err(ReadError::NotFound("nope".into())));
    }

    #[test]
    fn refuses_symlinks_that_leave_the_checkout() {
        let co = checkout();
        std::os::unix::fs::symlink("/etc/hostname", co.path().join("link")).unwrap();
        assert_eq!(read_file(Some(co.path()), "link", 1024), Err(ReadError::OutsideCheckout("link".into())));
    }

    #[test]
    fn refuses_files_over_the_cap() {
        let co = checkout();
        assert_eq!(read_file(Some(co.path()), "fly.toml", 4), Err(ReadError::TooLarge(4)));
    }

    #[test]
    fn lists_sorted() {
        let co = checkout();
        let names: Vec<String> = list_dir(Some(co.path()), "").unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(names, ["fly.toml", "sub"]);
        assert_eq!(list_dir(Some(co.path()), "sub").unwrap()[0].kind, EntryKind::File);
    }
}
