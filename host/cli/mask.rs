//! Secret values never leave ferry in clear: every output (stdout, stderr,
//! the job summary, PR comments, the journal) passes through [`Masker`].
//! Inside GitHub Actions each value is also registered with `::add-mask::`.

use std::io::Write;
use std::sync::{Arc, OnceLock};

/// Environment variables that hold secret values.
const SECRET_VARS: [&str; 5] = ["GITHUB_TOKEN", "GH_TOKEN", "FLY_API_TOKEN", "FLY_ACCESS_TOKEN", "ACTIONS_RUNTIME_TOKEN"];

/// Values shorter than this are not masked: masking `1` or `true` would
/// garble every output without protecting anything.
const MIN_SECRET_LEN: usize = 6;

/// Replaces known secret values with `***`.
#[derive(Debug, Default, Clone)]
pub struct Masker {
    secrets: Vec<String>,
}

static GLOBAL: OnceLock<Arc<Masker>> = OnceLock::new();

impl Masker {
    /// The secrets in this process's environment: tokens, and every
    /// `FERRY_SECRET_<NAME>` (how secret values reach ferry's actions).
    pub fn from_env() -> Self {
        let mut secrets: Vec<String> = std::env::vars()
            .filter(|(k, _)| SECRET_VARS.contains(&k.as_str()) || k.starts_with("FERRY_SECRET_"))
            .map(|(_, v)| v)
            .filter(|v| v.len() >= MIN_SECRET_LEN)
            .collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Masker { secrets }
    }

    /// The process-wide masker.
    pub fn global() -> Arc<Masker> {
        GLOBAL.get_or_init(|| Arc::new(Masker::from_env())).clone()
    }

    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }

    pub fn mask_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.mask(text).into_bytes(),
            Err(_) => bytes.to_vec(),
        }
    }

    /// `::add-mask::` for each value, on stderr (stdout may carry JSON).
    pub fn register_with_github(&self) {
        let mut err = std::io::stderr().lock();
        for s in &self.secrets {
            for line in s.lines().filter(|l| !l.trim().is_empty()) {
                let _ = writeln!(err, "::add-mask::{line}");
            }
        }
    }
}

/// A writer that masks what passes through it (used for stderr logs).
pub struct MaskingWriter<W: Write> {
    inner: W,
    masker: Arc<Masker>,
}

impl<W: Write> MaskingWriter<W> {
    pub fn new(inner: W) -> Self {
        MaskingWriter { inner, masker: Masker::global() }
    }
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write_all(&self.masker.mask_bytes(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A state store that masks every document it writes, so no secret lands
/// in a journal or a kept plan.
pub struct MaskingStore<S> {
    pub inner: S,
}

impl<S: ferry_state::StateStore> ferry_state::StateStore for MaskingStore<S> {
    fn read(&self, key: &str) -> Result<Option<(Vec<u8>, ferry_state::Version)>, ferry_state::StoreError> {
        self.inner.read(key)
    }
    fn write(
        &self,
        key: &str,
        content: &[u8],
        expected: Option<&ferry_state::Version>,
    ) -> Result<ferry_state::Version, ferry_state::StoreError> {
        self.inner.write(key, &Masker::global().mask_bytes(content), expected)
    }
    fn delete(&self, key: &str, expected: &ferry_state::Version) -> Result<(), ferry_state::StoreError> {
        self.inner.delete(key, expected)
    }
    fn list(&self, prefix: &str) -> Result<Vec<String>, ferry_state::StoreError> {
        self.inner.list(prefix)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_longest_first() {
        let m = Masker { secrets: vec!["s3cr3t-and-more".into(), "s3cr3t".into()] };
        assert_eq!(m.mask("a s3cr3t-and-more b s3cr3t c"), "a *** b *** c");
        assert_eq!(m.mask("nothing"), "nothing");
    }
}
