//! A credential that cannot leak through formatting.
//!
//! API tokens and TSIG secrets end up in the executor's config structs,
//! which get `{:?}`-printed in logs and panics. [`Secret`] has no `Display`
//! and a redacted `Debug`, and the only way to read it is crate-private.

use std::fmt;

/// An API token, API key or TSIG secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret, trimming the whitespace a pasted CI secret often
    /// carries (a trailing newline is a classic authentication failure).
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into().trim().to_owned())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the secret replaced, for messages an
    /// API sends back (some echo the request's headers).
    pub(crate) fn redact(&self, text: &str) -> String {
        if self.0.is_empty() { text.to_owned() } else { text.replace(&self.0, "<redacted>") }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formatted() {
        let s = Secret::new(" tok-123\n");
        assert_eq!(s.expose(), "tok-123");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.redact("bad token tok-123!"), "bad token <redacted>!");
    }
}
