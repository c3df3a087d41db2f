//! Compiled components on disk, so a second run skips compilation.
//!
//! Key: the engine's compatibility hash (wasmtime version, target, and every
//! setting that changes code) and the component's sha256. A new ferry or a
//! changed component simply misses; nothing is ever invalidated by hand.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    pub(crate) fn new(root: PathBuf, engine: &Engine) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        CompileCache { dir: root.join(format!("engine-{:016x}", h.finish())) }
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.cwasm"))
    }

    /// The cached component, or `None` on a miss or an unreadable entry
    /// (which is then recompiled and overwritten).
    pub(crate) fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        if !path.is_file() {
            return None;
        }
        // SAFETY: the cache directory belongs to the user running ferry (like
        // ~/.cargo) and holds only files this function's twin `put` wrote with
        // `Component::serialize` from this engine configuration; wasmtime also
        // checks the header and compatibility hash before mapping the code.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("ignoring unreadable cache entry {}: {e:#}", path.display());
                None
            }
        }
    }

    /// Stores a compiled component atomically; a failure only costs a recompile later.
    pub(crate) fn put(&self, sha256: &str, component: &Component) {
        if let Err(e) = self.try_put(sha256, component) {
            tracing::warn!("could not write the compile cache in {}: {e:#}", self.dir.display());
        }
    }

    fn try_put(&self, sha256: &str, component: &Component) -> Result<(), Box<dyn std::error::Error>> {
        std::fs::create_dir_all(&self.dir)?;
        let bytes = component.serialize()?;
        let final_path = self.path(sha256);
        let tmp = tmp_path(&final_path);
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, &final_path)?;
        Ok(())
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    path.with_extension(format!("tmp{}", std::process::id()))
}
