//! A buildah image store of a test's own: vfs (no overlay mount, so it
//! works in any container) in a temporary directory, removed on drop. A
//! process sees it through `CONTAINERS_STORAGE_CONF`.

use std::path::PathBuf;

pub struct Store {
    dir: tempfile::TempDir,
}

impl Default for Store {
    fn default() -> Store {
        Store::new()
    }
}

impl Store {
    pub fn new() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let conf = format!("[storage]\ndriver = \"vfs\"\nrunroot = \"{0}/run\"\ngraphroot = \"{0}/graph\"\n", dir.path().display());
        std::fs::write(dir.path().join("storage.conf"), conf).unwrap();
        Store { dir }
    }

    /// The variable that points buildah at this store, and its value.
    pub fn env(&self) -> (&'static str, PathBuf) {
        ("CONTAINERS_STORAGE_CONF", self.dir.path().join("storage.conf"))
    }
}
