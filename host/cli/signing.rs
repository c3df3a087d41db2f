//! Signed state documents. The state branch is writable by every job with
//! `contents: write` — pull requests' jobs included — which is more people
//! than review covers. With `FERRY_STATE_KEY` set (a secret kept in an
//! environment that only the default branch can use), every document ferry
//! writes carries an HMAC-SHA256 of its key and contents, and a journal or
//! lock without a valid one is refused: an edited journal's actions, undo
//! data or progress can then neither be resumed nor undone.
//!
//! Kept plans are written by pull requests' plan jobs, which never hold the
//! key; an unsigned one is read as absent (it only explains what changed).
//! A job without the key (a pull request's) reads signed documents without
//! checking them and writes unsigned ones.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use ferry_state::{StateStore, StoreError, Version};

/// The first line of a signed document.
const HEADER: &str = "ferry-signed hmac-sha256 ";

/// The environment variable holding the key.
pub const KEY_VAR: &str = "FERRY_STATE_KEY";

pub struct SigningStore {
    inner: Box<dyn StateStore>,
    /// `None`: this job has no key (it neither signs nor checks).
    key: Option<ferry_secrets::Secret>,
}

impl SigningStore {
    /// Signs with `FERRY_STATE_KEY` when it is set.
    pub fn from_env(inner: Box<dyn StateStore>) -> Self {
        SigningStore { inner, key: ferry_secrets::var(KEY_VAR).ok() }
    }

    fn mac(key: &ferry_secrets::Secret, doc: &str, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()).expect("HMAC takes any key length");
        mac.update(doc.as_bytes());
        mac.update(&[0]);
        mac.update(body);
        mac
    }

    /// The header's tag and the body, when the document has a header.
    fn split(bytes: &[u8]) -> Option<(&str, &[u8])> {
        let newline = bytes.iter().position(|&b| b == b'\n')?;
        let tag = std::str::from_utf8(&bytes[..newline]).ok()?.strip_prefix(HEADER)?;
        Some((tag, &bytes[newline + 1..]))
    }

    /// The contents of a signed document, if its signature holds.
    fn verify<'b>(key: &ferry_secrets::Secret, doc: &str, bytes: &'b [u8]) -> Option<&'b [u8]> {
        let (tag, body) = Self::split(bytes)?;
        let tag = hex::decode(tag).ok()?;
        Self::mac(key, doc, body).verify_slice(&tag).ok().map(|()| body)
    }
}

impl StateStore for SigningStore {
    fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Version)>, StoreError> {
        let Some((bytes, version)) = self.inner.read(key)? else { return Ok(None) };
        let Some(secret) = &self.key else {
            let body = Self::split(&bytes).map_or(bytes.as_slice(), |(_, body)| body);
            return Ok(Some((body.to_vec(), version)));
        };
        match Self::verify(secret, key, &bytes) {
            Some(body) => Ok(Some((body.to_vec(), version))),
            None if key.starts_with("plans/") => {
                tracing::warn!("{key} is not signed with {KEY_VAR} (a pull request's plan job wrote it): ignored");
                Ok(None)
            }
            None => Err(StoreError::Unverified { location: self.inner.describe(), key: key.to_string(), version }),
        }
    }

    fn write(&self, key: &str, content: &[u8], expected: Option<&Version>) -> Result<Version, StoreError> {
        let Some(secret) = &self.key else { return self.inner.write(key, content, expected) };
        let tag = Self::mac(secret, key, content).finalize().into_bytes();
        let mut signed = format!("{HEADER}{}\n", hex::encode(tag)).into_bytes();
        signed.extend_from_slice(content);
        self.inner.write(key, &signed, expected)
    }

    fn delete(&self, key: &str, expected: &Version) -> Result<(), StoreError> {
        self.inner.delete(key, expected)
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list(prefix)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}
