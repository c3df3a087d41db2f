//! ferry's state: the journal of every apply and the per-app locks.
//!
//! State must outlive a CI runner: `prepare` on Monday and `finalize` on
//! Wednesday run on different machines and share one journal. So a store is
//! anything that can read a document and write it back only if nobody
//! changed it in between (compare-and-swap on a version token):
//!
//! - [`DirStore`]: a local directory (the default outside CI), with an
//!   exclusive file lock around each swap;
//! - the GitHub store (crate `ferry-github`): files on a dedicated branch,
//!   written through the contents API, whose blob sha is the version. It
//!   needs nothing but the workflow's token, and every change is a commit
//!   that can be read in the repository's history.

mod dir;
pub mod lock;

pub use dir::DirStore;

/// The version of a stored document, opaque to callers (a content hash,
/// a blob sha…). Writes name the version they replace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Version(pub String);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else wrote the document since it was read.
    #[error("{key} changed since it was read (another ferry run is writing it)")]
    Conflict { key: String },
    #[error("state store {location}: {message}")]
    Backend { location: String, message: String },
}

/// A key-value store of documents with compare-and-swap writes.
pub trait StateStore: Send + Sync {
    /// The document at `key` and its version, or `None`.
    fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, StoreError>;

    /// Writes `key` if its current version is `expected` (`None`: it must
    /// not exist yet). Returns the new version.
    fn write(&self, key: &str, content: &[u8], expected: Option<&Version>) -> Result<Version, StoreError>;

    /// Deletes `key` if its current version is `expected`.
    fn delete(&self, key: &str, expected: &Version) -> Result<(), StoreError>;

    /// Keys under `prefix` (e.g. `journal/shop/`), sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Where the state lives, for messages.
    fn describe(&self) -> String;
}

/// Reads a JSON document.
pub fn read_json<T: serde::de::DeserializeOwned>(
    store: &dyn StateStore,
    key: &str,
) -> Result<Option<(T, Version)>, StoreError> {
    match store.read(key)? {
        None => Ok(None),
        Some((bytes, version)) => serde_json::from_slice(&bytes).map(|v| Some((v, version))).map_err(|e| {
            StoreError::Backend { location: format!("{} {key}", store.describe()), message: format!("not valid JSON: {e}") }
        }),
    }
}

/// Writes a JSON document with compare-and-swap.
pub fn write_json<T: serde::Serialize>(
    store: &dyn StateStore,
    key: &str,
    value: &T,
    expected: Option<&Version>,
) -> Result<Version, StoreError> {
    let bytes = serde_json::to_vec_pretty(value).expect("state documents always serialise");
    store.write(key, &bytes, expected)
}

/// Reads, changes and writes a JSON document, retrying when another writer
/// got in between. `change` sees `None` when the document does not exist.
pub fn update_json<T, R>(
    store: &dyn StateStore,
    key: &str,
    mut change: impl FnMut(Option<T>) -> Result<(T, R), StoreError>,
) -> Result<R, StoreError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    for attempt in 0..100u64 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(attempt.min(20)));
        }
        let current = read_json::<T>(store, key)?;
        let (value, version) = match current {
            Some((v, version)) => (Some(v), Some(version)),
            None => (None, None),
        };
        let (new, result) = change(value)?;
        match write_json(store, key, &new, version.as_ref()) {
            Ok(_) => return Ok(result),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict { key: key.to_string() })
}
