//! Reading the checkout through the host's `checkout` import.

use crate::host::checkout::{self, ReadError};

/// Reads a checkout file as UTF-8 text. `Ok(None)` when it does not exist.
pub fn read_text(path: &str) -> Result<Option<String>, String> {
    match checkout::read_file(path) {
        Ok(bytes) => {
            String::from_utf8(bytes).map(Some).map_err(|e| format!("{path} is not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
        }
        Err(ReadError::NotFound(_)) => Ok(None),
        Err(e) => Err(describe(path, &e)),
    }
}

/// One sentence for a failed read.
pub fn describe(path: &str, error: &ReadError) -> String {
    match error {
        ReadError::NotFound(p) => format!("{p}: no such file in the checkout"),
        ReadError::TooLarge(cap) => format!("{path} is larger than the {cap}-byte limit for files a step reads"),
        ReadError::OutsideCheckout(p) => format!("{p} is outside the checkout"),
        ReadError::Io(msg) => format!("reading {path}: {msg}"),
    }
}
