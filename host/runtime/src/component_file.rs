//! Reading a custom step's component file, which ferry.toml names and a pull
//! request may have written.
//!
//! The path is resolved with `cap-std` inside one directory (the one holding
//! the workflow file, i.e. the checkout), so neither `..`, an absolute path
//! nor a symlink reaches outside it. The file must be a regular file of at
//! most [`MAX_COMPONENT_BYTES`], checked before it is opened and again on the
//! open file, then read through a bounded reader: `/dev/zero`, a FIFO or a
//! file outside the checkout is refused without reading a byte of it, so
//! nothing about it (such as its sha256) can end up in an error.

use std::io::Read;
use std::path::{Component, Path};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::engine::MAX_COMPONENT_BYTES;

/// Why a component file was not read. Said after "the component … at PATH".
#[derive(Debug, thiserror::Error)]
pub enum ComponentFileError {
    #[error(
        "is outside {root} (after resolving `..` and symlinks); a custom component must be a file in the \
         directory of the workflow file"
    )]
    Outside { root: String },
    #[error("is not a regular file; a custom component must be a .wasm file")]
    NotAFile,
    #[error("is {size} bytes, over the {max}-byte limit for a component")]
    TooLarge { size: u64, max: u64 },
    #[error("does not exist")]
    NotFound,
    #[error("cannot be read: {0}")]
    Io(std::io::Error),
}

/// Reads the component at `path`, relative to `root`, refusing anything that
/// is not a regular file inside `root` of at most [`MAX_COMPONENT_BYTES`].
pub fn read_component_file(root: &Path, path: &Path) -> Result<Vec<u8>, ComponentFileError> {
    read_capped(root, path, MAX_COMPONENT_BYTES)
}

fn read_capped(root: &Path, path: &Path, max: u64) -> Result<Vec<u8>, ComponentFileError> {
    let root = if root.as_os_str().is_empty() { Path::new(".") } else { root };
    let outside = || ComponentFileError::Outside { root: root.display().to_string() };
    if path.components().any(|c| matches!(c, Component::RootDir | Component::Prefix(_))) {
        return Err(outside());
    }
    let dir = Dir::open_ambient_dir(root, ambient_authority()).map_err(ComponentFileError::Io)?;
    let classify = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => ComponentFileError::NotFound,
        // cap-std reports an escape as PermissionDenied ("a path led outside of the filesystem").
        std::io::ErrorKind::PermissionDenied if e.to_string().contains("outside") => outside(),
        _ => ComponentFileError::Io(e),
    };
    // Checked before opening: opening a FIFO would block, and a device
    // would be read forever.
    let meta = dir.metadata(path).map_err(classify)?;
    check(&meta, max)?;
    let file = dir.open(path).map_err(classify)?;
    // And again on the open file, in case the path was swapped in between.
    check(&file.metadata().map_err(ComponentFileError::Io)?, max)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes).map_err(ComponentFileError::Io)?;
    let size = bytes.len() as u64;
    if size > max {
        return Err(ComponentFileError::TooLarge { size, max });
    }
    Ok(bytes)
}

fn check(meta: &cap_std::fs::Metadata, max: u64) -> Result<(), ComponentFileError> {
    if !meta.is_file() {
        return Err(ComponentFileError::NotAFile);
    }
    if meta.len() > max {
        return Err(ComponentFileError::TooLarge { size: meta.len(), max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ci")).unwrap();
        std::fs::write(dir.path().join("ci/step.wasm"), b"\0asm").unwrap();
        dir
    }

    #[test]
    fn reads_a_file_inside_the_root() {
        let co = root();
        assert_eq!(read_component_file(co.path(), Path::new("ci/step.wasm")).unwrap(), b"\0asm");
        assert_eq!(read_component_file(co.path(), Path::new("./ci/../ci/step.wasm")).unwrap(), b"\0asm");
    }

    #[test]
    fn refuses_what_is_not_a_regular_file_inside_the_root() {
        let co = root();
        let err = |p: &str| read_component_file(co.path(), Path::new(p)).unwrap_err();
        assert!(matches!(err("/dev/zero"), ComponentFileError::Outside { .. }));
        assert!(matches!(err("../../../../etc/passwd"), ComponentFileError::Outside { .. }));
        assert!(matches!(err("ci"), ComponentFileError::NotAFile));
        assert!(matches!(err("missing.wasm"), ComponentFileError::NotFound));
        std::os::unix::fs::symlink("/etc/passwd", co.path().join("escape.wasm")).unwrap();
        assert!(matches!(err("escape.wasm"), ComponentFileError::Outside { .. }));
    }

    #[test]
    fn refuses_a_file_over_the_cap_before_reading_it() {
        let co = root();
        assert!(matches!(read_capped(co.path(), Path::new("ci/step.wasm"), 3), Err(ComponentFileError::TooLarge { size: 4, max: 3 })));
    }
}
