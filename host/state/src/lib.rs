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
    /// The store could not be reached or refused the request.
    #[error("state store {location}: {message}")]
    Backend { location: String, message: String },
    /// The document is there but is not what ferry wrote (not JSON, or
    /// not of the expected shape): a hand edit or a truncated write.
    #[error("{key} in {location} cannot be read: {message}")]
    Invalid { location: String, key: String, message: String },
    /// The document says it has a shape this ferry does not read: written
    /// by a newer ferry (or edited by hand).
    #[error(
        "{key} in {location} is a {kind} of format {found}, and this ferry reads {kind}s of format {reads} only: \
         run the ferry that wrote it, or upgrade this one"
    )]
    Format { location: String, key: String, kind: &'static str, found: String, reads: u32 },
    /// The document does not carry a valid signature of this repository's
    /// state key (`FERRY_STATE_KEY`): written without it, or changed since.
    /// Its version is kept so that `ferry unlock` can still remove it.
    #[error(
        "{key} in {location} is not signed with this repository's FERRY_STATE_KEY: it was written without the key or changed \
         since, so ferry does not act on it (look at the state branch's history for who wrote it, and remove it if it is not ferry's)"
    )]
    Unverified { location: String, key: String, version: Version },
}

impl StoreError {
    /// True when the document exists but cannot be used (as opposed to the
    /// store failing): callers that scan many documents skip such a one.
    pub fn is_unreadable_document(&self) -> bool {
        match self {
            StoreError::Invalid { .. } | StoreError::Format { .. } | StoreError::Unverified { .. } => true,
            StoreError::Conflict { .. } | StoreError::Backend { .. } => false,
        }
    }
}

/// Checks a key before any store turns it into a path or a URL: segments
/// of letters, digits, `.`, `_` and `-` joined by `/`, none empty, none
/// starting with `.` (so no `..`, and no store-private files such as
/// `.lock`). Keys carry user input (`--run`, `--app`); without this,
/// `--run ../../x` reaches another path, and `?` or `#` in a GitHub URL
/// would change the request itself.
pub fn validate_key(key: &str) -> Result<(), String> {
    const MAX_KEY: usize = 512;
    const MAX_SEGMENT: usize = 200;
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let bad = |why: &str| Err(format!("invalid key `{}`: {why}", key.escape_debug()));
    if key.is_empty() {
        return bad("it is empty");
    }
    if key.len() > MAX_KEY {
        return bad(&format!("it is longer than {MAX_KEY} bytes"));
    }
    for segment in key.split('/') {
        if segment.is_empty() {
            return bad("it has an empty path segment (a leading, trailing or doubled `/`)");
        }
        if segment.starts_with('.') {
            return bad("a path segment starts with `.`");
        }
        if segment.len() > MAX_SEGMENT {
            return bad(&format!("a path segment is longer than {MAX_SEGMENT} bytes"));
        }
        if !segment.chars().all(safe) {
            return bad("only letters, digits, `.`, `_`, `-` and `/` may appear in a key (an app or run name)");
        }
    }
    Ok(())
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
pub fn read_json<T: serde::de::DeserializeOwned>(store: &dyn StateStore, key: &str) -> Result<Option<(T, Version)>, StoreError> {
    match store.read(key)? {
        None => Ok(None),
        Some((bytes, version)) => serde_json::from_slice(&bytes).map(|v| Some((v, version))).map_err(|e| StoreError::Invalid {
            location: store.describe(),
            key: key.to_string(),
            message: format!("not valid JSON: {e}"),
        }),
    }
}

/// A kind of document and the version of its JSON shape (its `format`
/// field) that this ferry reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// What it is, for messages: "journal", "lock", "kept plan".
    pub kind: &'static str,
    pub reads: u32,
}

/// Reads a JSON document that names its shape in `format`, refusing any
/// other format than `format.reads`: a newer ferry's journal read as if it
/// were ours could be resumed or undone wrongly. A document without a
/// `format` field is left to `T` to accept or refuse.
pub fn read_format_json<T: serde::de::DeserializeOwned>(store: &dyn StateStore, key: &str, format: Format) -> Result<Option<(T, Version)>, StoreError> {
    let Some((bytes, version)) = store.read(key)? else { return Ok(None) };
    let (location, key) = (store.describe(), key.to_string());
    match parse(&bytes, format) {
        Ok(document) => Ok(Some((document, version))),
        Err(Unusable::Invalid(message)) => Err(StoreError::Invalid { location, key, message }),
        Err(Unusable::Format(found)) => Err(StoreError::Format { location, key, kind: format.kind, found, reads: format.reads }),
    }
}

/// [`read_format_json`] on bytes already read; the error says why they
/// are not a document of `format`.
pub fn parse_format_json<T: serde::de::DeserializeOwned>(bytes: &[u8], format: Format) -> Result<T, String> {
    parse(bytes, format).map_err(|e| match e {
        Unusable::Invalid(message) => message,
        Unusable::Format(found) => format!("a {} of format {found}, and this ferry reads format {} only", format.kind, format.reads),
    })
}

enum Unusable {
    Invalid(String),
    /// The `format` it names.
    Format(String),
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], format: Format) -> Result<T, Unusable> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| Unusable::Invalid(format!("not valid JSON: {e}")))?;
    match value.get("format") {
        None => {}
        Some(found) if found.as_u64() == Some(u64::from(format.reads)) => {}
        Some(serde_json::Value::Number(n)) => return Err(Unusable::Format(n.to_string())),
        Some(other) => return Err(Unusable::Format(other.to_string().chars().take(40).collect())),
    }
    serde_json::from_value(value).map_err(|e| Unusable::Invalid(format!("not a {} this ferry reads: {e}", format.kind)))
}

/// Writes a JSON document with compare-and-swap.
pub fn write_json<T: serde::Serialize>(store: &dyn StateStore, key: &str, value: &T, expected: Option<&Version>) -> Result<Version, StoreError> {
    let bytes = serde_json::to_vec_pretty(value).expect("state documents always serialise");
    store.write(key, &bytes, expected)
}

/// Reads, changes and writes a JSON document, retrying when another writer
/// got in between. `change` sees `None` when the document does not exist.
pub fn update_json<T, R>(store: &dyn StateStore, key: &str, mut change: impl FnMut(Option<T>) -> Result<(T, R), StoreError>) -> Result<R, StoreError>
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
