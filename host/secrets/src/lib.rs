//! Secret values: read from the environment in one place, masked in every
//! output.
//!
//! ferry.toml and the plan hold only the *names* of environment variables
//! (`FERRY_SECRET_*`); the host reads their values at the moment it needs
//! them, through [`var`]. Every value read is learnt by the process-wide
//! [`Masker`] before it is returned, so nothing ferry prints, posts or stores
//! can show it, in any of the encodings it may pass through (JSON, a URL,
//! Markdown, one line of a multi-line key).
//!
//! When the trusted configuration does not vouch for where credentials go
//! (a pull request that changes `[dns]`, `[data]` or `[targets]`), the CLI
//! calls [`withhold`] and every later [`var`] fails with the reason instead
//! of reading a value.

mod masker;

use std::sync::RwLock;

pub use masker::{MIN_SECRET_LEN, Masker};

/// The prefix of the variables that carry secret values to ferry.
pub const SECRET_PREFIX: &str = "FERRY_SECRET_";

/// Tokens ferry's environment holds that are secret without a prefix.
pub const TOKEN_VARS: [&str; 5] = ["GITHUB_TOKEN", "GH_TOKEN", "FLY_API_TOKEN", "FLY_ACCESS_TOKEN", "ACTIONS_RUNTIME_TOKEN"];

/// A secret value. Its `Debug` never shows it; [`Secret::expose`] is the
/// one way to the text, so every use is easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the environment variable {name} is not set")]
    Missing { name: String },
    #[error("the credential in {name} is withheld: {reason}")]
    Withheld { name: String, reason: String },
}

static WITHHELD: RwLock<Option<String>> = RwLock::new(None);

/// The value of the environment variable `name`, learnt by the masker.
/// An empty or blank value counts as not set. While credentials are
/// withheld, every `FERRY_SECRET_*` read (the only variables ferry.toml can
/// name) fails with the reason; ferry's own keys (`FERRY_STATE_KEY`) are
/// not credentials a config can send anywhere, and stay readable.
pub fn var(name: &str) -> Result<Secret, SecretError> {
    if let Some(reason) = withheld().filter(|_| name.starts_with(SECRET_PREFIX)) {
        return Err(SecretError::Withheld { name: name.to_string(), reason });
    }
    let value = std::env::var(name).ok().filter(|v| !v.trim().is_empty()).ok_or_else(|| SecretError::Missing { name: name.to_string() })?;
    Masker::global().learn(&value);
    Ok(Secret(value))
}

/// From now on, [`var`] refuses every `FERRY_SECRET_*` read with `reason`.
pub fn withhold(reason: impl Into<String>) {
    *WITHHELD.write().expect("withheld lock") = Some(reason.into());
}

/// Why credentials are withheld, if they are.
pub fn withheld() -> Option<String> {
    WITHHELD.read().expect("withheld lock").clone()
}

/// A secret ferry came to know at run time (a password read from a host):
/// masked from now on like any other.
pub fn learn(value: &str) {
    Masker::global().learn(value);
}

/// The names (without the prefix) of the `FERRY_SECRET_<NAME>` variables
/// that are set: a step may learn which names are covered, never a value.
pub fn provided_names() -> Vec<String> {
    let mut names: Vec<String> =
        std::env::vars_os().filter_map(|(k, _)| k.to_str().and_then(|k| k.strip_prefix(SECRET_PREFIX)).map(str::to_string)).filter(|n| !n.is_empty()).collect();
    names.sort();
    names
}

/// Whether `name` may hold a credential ferry.toml points at: only
/// `FERRY_SECRET_*`, so no ferry.toml can name the CI's own tokens
/// (`GITHUB_TOKEN`, `FLY_API_TOKEN`, `ACTIONS_*`) as the credential to send
/// somewhere.
pub fn check_credential_var(name: &str) -> Result<(), String> {
    match name.strip_prefix(SECRET_PREFIX) {
        Some(rest) if !rest.is_empty() && rest.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') => Ok(()),
        _ => Err(format!(
            "`{name}` cannot hold a credential for ferry.toml: name a variable `{SECRET_PREFIX}<NAME>` (capitals, digits and _), \
             so that no setting can point at the CI's own tokens"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ferry_secret_names_hold_credentials() {
        assert!(check_credential_var("FERRY_SECRET_TSIG").is_ok());
        for bad in ["FLY_API_TOKEN", "GITHUB_TOKEN", "ACTIONS_RUNTIME_TOKEN", "FERRY_SECRET_", "FERRY_SECRET_a", "HOME", "FERRY_SECRET_X-Y"] {
            assert!(check_credential_var(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_secret_does_not_debug_print_its_value() {
        assert_eq!(format!("{:?}", Secret("hunter2-value".into())), "Secret(***)");
    }
}
