//! The secret that authenticates compile-cache entries.
//!
//! It lives outside the cache directory, in the user's configuration, so
//! restoring a cache (GitHub's Actions cache, which any job of the repository
//! may have written) can replace entries but never forge their tags. It is
//! created once, with random bytes and mode 0600, and only read after that.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Bytes of key: HMAC-SHA256's block-size-independent sweet spot.
pub(crate) const KEY_BYTES: usize = 32;

/// A key, and whether this process just made it (so no older entry can
/// verify, and a failed verification is expected rather than suspicious).
pub(crate) struct CacheKey {
    pub(crate) bytes: [u8; KEY_BYTES],
    pub(crate) created: bool,
}

impl std::fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheKey").field("created", &self.created).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("{path} may be read by other users (mode {mode:o}); run `chmod 600 {path}`")]
    Exposed { path: PathBuf, mode: u32 },
    #[error("{path} holds {len} bytes, not a {KEY_BYTES}-byte key; delete it and ferry makes a new one")]
    Malformed { path: PathBuf, len: usize },
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

/// Reads the key at `path`, creating it (and its directory, mode 0700) if
/// it does not exist yet.
pub(crate) fn load_or_create(path: &Path) -> Result<CacheKey, KeyError> {
    match read(path) {
        Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => create(path),
        other => other.map(|bytes| CacheKey { bytes, created: false }),
    }
}

fn read(path: &Path) -> Result<[u8; KEY_BYTES], KeyError> {
    let io = |source| KeyError::Io { path: path.to_path_buf(), source };
    // Not followed: a key file is ferry's own, never a link to elsewhere.
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile { path: path.to_path_buf() });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed { path: path.to_path_buf(), mode });
    }
    let mut bytes = Vec::with_capacity(KEY_BYTES);
    std::fs::File::open(path).map_err(io)?.take(KEY_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    bytes.try_into().map_err(|b: Vec<u8>| KeyError::Malformed { path: path.to_path_buf(), len: b.len() })
}

/// Writes a fresh key beside `path` and links it into place, so a reader
/// never sees a half-written key and two processes racing agree on one.
fn create(path: &Path) -> Result<CacheKey, KeyError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| KeyError::Io { path: p, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
    }
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    // A leftover from a crashed run; `create_new` below never follows a link.
    let _ = std::fs::remove_file(&tmp);
    let written =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&tmp)(e));
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(CacheKey { bytes, created: true }),
        // Another ferry made one first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path).map(|bytes| CacheKey { bytes, created: false }),
        Err(e) => Err(io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config/ferry/cache-key");
        let first = load_or_create(&path).unwrap();
        assert!(first.created);
        assert_ne!(first.bytes, [0; KEY_BYTES]);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        let second = load_or_create(&path).unwrap();
        assert!(!second.created);
        assert_eq!(first.bytes, second.bytes);
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_key_others_may_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache-key");
        load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("may be read by other users (mode 644)"), "{err}");
    }

    #[test]
    fn a_linked_or_short_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        load_or_create(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(load_or_create(&link), Err(KeyError::NotAFile { .. })));

        let short = dir.path().join("short");
        std::fs::write(&short, b"0123").unwrap();
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(load_or_create(&short), Err(KeyError::Malformed { len: 4, .. })));
    }
}
