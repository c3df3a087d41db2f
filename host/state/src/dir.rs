//! A state store in a local directory.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{StateStore, StoreError, Version};

/// Documents as files under a directory; each write swaps the file under an
/// exclusive lock on `.lock`, so concurrent ferry processes on one machine
/// never interleave.
#[derive(Debug, Clone)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store in `root`, created if needed. A `.gitignore` keeps it out of
    /// commits when it lives inside a checkout.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        let store = DirStore { root };
        std::fs::create_dir_all(&store.root).map_err(|e| store.io("creating the directory", e))?;
        let ignore = store.root.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "*\n").map_err(|e| store.io("writing .gitignore", e))?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        crate::validate_key(key).map_err(|message| StoreError::Backend { location: self.describe(), message })?;
        Ok(self.root.join(key))
    }

    fn io(&self, what: &str, e: std::io::Error) -> StoreError {
        StoreError::Backend { location: self.describe(), message: format!("{what}: {e}") }
    }

    /// Holds the store's lock until dropped.
    fn lock(&self) -> Result<File, StoreError> {
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(self.root.join(".lock")).map_err(|e| self.io("opening .lock", e))?;
        file.lock().map_err(|e| self.io("locking .lock", e))?;
        Ok(file)
    }

    fn current(&self, path: &Path) -> Result<Option<Version>, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(version_of(&bytes))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("reading", e)),
        }
    }

    fn check(&self, key: &str, current: Option<&Version>, expected: Option<&Version>) -> Result<(), StoreError> {
        if current == expected { Ok(()) } else { Err(StoreError::Conflict { key: key.to_string() }) }
    }
}

fn version_of(bytes: &[u8]) -> Version {
    Version(hex::encode(Sha256::digest(bytes)))
}

impl StateStore for DirStore {
    fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, StoreError> {
        let path = self.path(key)?;
        match std::fs::read(&path) {
            Ok(bytes) => {
                let v = version_of(&bytes);
                Ok(Some((bytes, v)))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(&format!("reading {key}"), e)),
        }
    }

    fn write(&self, key: &str, content: &[u8], expected: Option<&Version>) -> Result<Version, StoreError> {
        let path = self.path(key)?;
        let _lock = self.lock()?;
        self.check(key, self.current(&path)?.as_ref(), expected)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| self.io("creating a directory", e))?;
        }
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, content).map_err(|e| self.io(&format!("writing {key}"), e))?;
        // The journal must survive a killed runner: flush before the rename.
        File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| self.io(&format!("syncing {key}"), e))?;
        std::fs::rename(&tmp, &path).map_err(|e| self.io(&format!("replacing {key}"), e))?;
        Ok(version_of(content))
    }

    fn delete(&self, key: &str, expected: &Version) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let _lock = self.lock()?;
        self.check(key, self.current(&path)?.as_ref(), Some(expected))?;
        std::fs::remove_file(&path).map_err(|e| self.io(&format!("deleting {key}"), e))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out).map_err(|e| self.io("listing", e))?;
        out.retain(|k| k.starts_with(prefix) && !k.starts_with('.') && !k.contains(".tmp"));
        out.sort();
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("directory {}", self.root.display())
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        assert!(store.read("journal/a.json").unwrap().is_none());
        let v1 = store.write("journal/a.json", b"one", None).unwrap();
        assert!(matches!(store.write("journal/a.json", b"two", None), Err(StoreError::Conflict { .. })));
        let v2 = store.write("journal/a.json", b"two", Some(&v1)).unwrap();
        assert!(matches!(store.write("journal/a.json", b"three", Some(&v1)), Err(StoreError::Conflict { .. })));
        assert_eq!(store.read("journal/a.json").unwrap().unwrap(), (b"two".to_vec(), v2.clone()));
        assert_eq!(store.list("journal/").unwrap(), ["journal/a.json"]);
        store.delete("journal/a.json", &v2).unwrap();
        assert!(store.read("journal/a.json").unwrap().is_none());
        assert!(matches!(store.write("../escape", b"x", None), Err(StoreError::Backend { .. })));
    }

    #[test]
    fn keys_that_leave_the_store_or_reach_its_own_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path().join("state")).unwrap();
        for key in ["../escape", "journal/../../escape", "/etc/passwd", "journal//a", ".lock", "journal/.hidden", "a\\b", "x?ref=main", "a b", ""] {
            let err = store.write(key, b"x", None).unwrap_err().to_string();
            assert!(err.contains("invalid key"), "{key}: {err}");
            assert!(store.read(key).is_err(), "{key}");
        }
        assert!(!dir.path().join("escape").exists());
        store.write("journal/shop/deploy-0123abcd.json", b"x", None).unwrap();
    }

    #[test]
    fn update_retries_on_conflict_and_counts_every_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(DirStore::open(dir.path()).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..5 {
                        crate::update_json::<u32, ()>(&*store, "counter", |n| Ok((n.unwrap_or(0) + 1, ()))).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(crate::read_json::<u32>(&*store, "counter").unwrap().unwrap().0, 20);
    }
}
