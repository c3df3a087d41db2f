//! Compiled components on disk, so a second run skips compilation.
//!
//! A cache entry is native code that wasmtime maps and runs, and the cache
//! directory is not trusted: in CI it is restored from GitHub's Actions cache,
//! which any job of the repository (a pull request's included) may have
//! written. So every entry carries an HMAC-SHA256 tag under a key kept
//! outside the cache (see [`crate::cache_key`]), over:
//!
//! - the engine's identity: ferry's version and wasmtime's compatibility hash
//!   (wasmtime version, target, and every setting that changes code), so a
//!   new ferry never loads an old entry;
//! - the component's sha256, so an entry of one step cannot stand in for
//!   another's;
//! - the compiled bytes.
//!
//! An entry is read into memory once, verified, and deserialized from those
//! same bytes: nothing on disk can change between the check and the use. An
//! entry that fails is recompiled and replaced. A new ferry or a changed
//! component simply misses; nothing is ever invalidated by hand.

use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::cache_key::{self, CacheKey};
use crate::engine::MAX_COMPONENT_BYTES;

/// The start of every entry; bumped when the layout changes.
const MAGIC: &[u8; 8] = b"ferryc1\n";
/// Bytes of the HMAC-SHA256 tag that follows [`MAGIC`].
const TAG_BYTES: usize = 32;
/// The largest entry read. Compiled code runs to a few times the
/// component's size, and components are capped; anything bigger was not
/// written by ferry and is not read into memory to find that out.
const MAX_ENTRY_BYTES: u64 = 16 * MAX_COMPONENT_BYTES;

/// ferry's version, part of every entry's identity.
const FERRY_VERSION: &str = env!("CARGO_PKG_VERSION");

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug)]
pub(crate) struct CompileCache {
    dir: PathBuf,
    key: CacheKey,
    /// ferry's version and the engine's compatibility hash, digested.
    engine_id: [u8; 32],
}

impl CompileCache {
    /// The cache under `root`, keyed by the key in `key_file`; `None` (after
    /// saying why) when no key can be kept, for then nothing read from disk
    /// could be trusted.
    pub(crate) fn open(root: PathBuf, key_file: &Path, engine: &Engine) -> Option<Self> {
        Self::open_as(root, key_file, engine, FERRY_VERSION)
    }

    fn open_as(root: PathBuf, key_file: &Path, engine: &Engine, version: &str) -> Option<Self> {
        if resolved(key_file).starts_with(resolved(&root)) {
            tracing::warn!(
                "not caching compiled steps: the key file {} is inside the cache {}, where a restored cache could replace it",
                key_file.display(),
                root.display()
            );
            return None;
        }
        let key = match cache_key::load_or_create(key_file) {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!("not caching compiled steps: the cache key cannot be kept: {e}");
                return None;
            }
        };
        let engine_id = engine_id(engine, version);
        let dir = root.join(format!("engine-{}", hex::encode(&engine_id[..8])));
        Some(CompileCache { dir, key, engine_id })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.cwasm"))
    }

    /// The cached component, or `None` on a miss or an entry that fails
    /// verification (which is then recompiled and overwritten).
    pub(crate) fn get(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path(sha256);
        let bytes = match read_entry(&path) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(why) => {
                tracing::warn!("ignoring cache entry {}: {why}", path.display());
                return None;
            }
        };
        let Some(compiled) = self.verified(sha256, &bytes) else {
            if self.key.created {
                tracing::debug!("ignoring cache entry {}: written under another key", path.display());
            } else {
                tracing::warn!(
                    "ignoring cache entry {}: its tag does not verify (it was not written by this ferry for this component); recompiling",
                    path.display()
                );
            }
            return None;
        };
        // SAFETY: `compiled` is the in-memory copy whose tag was just
        // verified: it was written by `put` under this key, from this ferry
        // version and engine configuration, for the component with this
        // sha256. Nothing else holds the key, so nothing else could have made
        // the tag, and the bytes cannot change between the check and this call.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize(engine, compiled) };
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
        let compiled = component.serialize()?;
        let tag = self.tag(sha256, &compiled);
        let final_path = self.path(sha256);
        let tmp = final_path.with_extension(format!("tmp{}", std::process::id()));
        // The directory may hold anything a restored cache put there: remove
        // a leftover, and never follow a link planted at the temporary name.
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let written = file.write_all(MAGIC).and_then(|()| file.write_all(&tag)).and_then(|()| file.write_all(&compiled));
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &final_path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
        Ok(())
    }

    /// The compiled bytes of `entry` if its tag verifies for `sha256`.
    fn verified<'e>(&self, sha256: &str, entry: &'e [u8]) -> Option<&'e [u8]> {
        let rest = entry.strip_prefix(MAGIC)?;
        let (tag, compiled) = rest.split_at_checked(TAG_BYTES)?;
        self.mac(sha256, compiled).verify_slice(tag).ok()?;
        Some(compiled)
    }

    fn tag(&self, sha256: &str, compiled: &[u8]) -> [u8; TAG_BYTES] {
        self.mac(sha256, compiled).finalize().into_bytes().into()
    }

    /// The MAC over everything an entry vouches for. Only the compiled bytes
    /// vary in length, and they come last, so no two inputs run together.
    fn mac(&self, sha256: &str, compiled: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key.bytes).expect("HMAC takes a key of any length");
        mac.update(&self.engine_id);
        mac.update(&Sha256::digest(sha256.as_bytes()));
        mac.update(compiled);
        mac
    }
}

/// ferry's version and wasmtime's compatibility hash, as one digest.
/// wasmtime exposes the hash only through `Hash`, so its bytes are fed to
/// SHA-256 rather than to `DefaultHasher`, whose output is not promised to
/// stay the same across Rust releases.
fn engine_id(engine: &Engine, version: &str) -> [u8; 32] {
    struct Sha256Hasher(Sha256);
    impl Hasher for Sha256Hasher {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            unreachable!("only the digest is read")
        }
    }
    let mut hasher = Sha256Hasher(Sha256::new());
    hasher.write(b"ferry compiled-step cache\0");
    hasher.write(version.as_bytes());
    hasher.write(b"\0");
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finalize().into()
}

/// The entry at `path`: `None` if there is none, an error (said as why it
/// was skipped) if it is not a plain file of a plausible size.
fn read_entry(path: &Path) -> Result<Option<Vec<u8>>, String> {
    // Not followed: a link to /dev/zero must not be read forever.
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_ENTRY_BYTES {
        return Err(format!("{} bytes, more than ferry ever writes ({MAX_ENTRY_BYTES})", meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    file.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return Err("it grew past the size limit while being read".into());
    }
    Ok(Some(bytes))
}

/// `path` with symlinks resolved as far as it exists, so a key file and a
/// cache directory that are not there yet can still be compared.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut missing = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return missing.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::new(&crate::engine::engine_config()).unwrap()
    }

    #[test]
    fn the_engine_id_covers_ferrys_version_and_the_engine_config() {
        let engine = engine();
        assert_eq!(engine_id(&engine, "0.1.0"), engine_id(&engine, "0.1.0"));
        assert_ne!(engine_id(&engine, "0.1.0"), engine_id(&engine, "0.1.1"));
        let mut other = crate::engine::engine_config();
        other.cranelift_opt_level(wasmtime::OptLevel::None);
        assert_ne!(engine_id(&engine, "0.1.0"), engine_id(&Engine::new(&other).unwrap(), "0.1.0"));
    }

    #[test]
    fn an_entry_of_another_ferry_version_does_not_verify() {
        let engine = engine();
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        let old = CompileCache::open_as(dir.path().join("cache"), &key, &engine, "0.1.0").unwrap();
        let new = CompileCache::open_as(dir.path().join("cache"), &key, &engine, "0.2.0").unwrap();
        assert_ne!(old.dir, new.dir, "each version has its own directory");
        let sha = "ab".repeat(32);
        let entry = [MAGIC.as_slice(), &old.tag(&sha, b"code"), b"code"].concat();
        assert_eq!(old.verified(&sha, &entry), Some(b"code".as_slice()));
        assert_eq!(new.verified(&sha, &entry), None, "even if copied into the new version's directory");
        assert_eq!(old.verified(&"cd".repeat(32), &entry), None, "bound to the component's sha256");
    }

    #[test]
    fn a_key_inside_the_cache_means_no_cache() {
        let dir = tempfile::tempdir().unwrap();
        assert!(CompileCache::open(dir.path().to_path_buf(), &dir.path().join("sub/key"), &engine()).is_none());
        assert!(!dir.path().join("sub/key").exists(), "refused before a key was made");
        assert!(CompileCache::open(dir.path().join("cache"), &dir.path().join("key"), &engine()).is_some());
    }

    #[test]
    fn oversized_and_linked_entries_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.cwasm");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert_eq!(read_entry(&link), Err("not a regular file".into()));
        let big = dir.path().join("big.cwasm");
        std::fs::File::create(&big).unwrap().set_len(MAX_ENTRY_BYTES + 1).unwrap();
        assert!(read_entry(&big).unwrap_err().contains("more than ferry ever writes"));
        assert_eq!(read_entry(&dir.path().join("none.cwasm")), Ok(None));
    }
}
