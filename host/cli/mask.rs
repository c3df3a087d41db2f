//! Secret values never leave ferry in clear: every output (stdout, stderr,
//! the job summary, PR comments, the journal) passes through the process's
//! [`Masker`] (`ferry-secrets`, which also reads every secret value).

use std::io::Write;

pub use ferry_secrets::Masker;

/// A writer that masks what passes through it (used for stderr logs).
pub struct MaskingWriter<W: Write> {
    inner: W,
    masker: &'static Masker,
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
pub struct MaskingStore {
    pub inner: Box<dyn ferry_state::StateStore>,
}

impl ferry_state::StateStore for MaskingStore {
    fn read(&self, key: &str) -> Result<Option<(Vec<u8>, ferry_state::Version)>, ferry_state::StoreError> {
        self.inner.read(key)
    }
    fn write(&self, key: &str, content: &[u8], expected: Option<&ferry_state::Version>) -> Result<ferry_state::Version, ferry_state::StoreError> {
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
