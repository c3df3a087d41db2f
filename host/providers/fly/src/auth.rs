//! The API token and the `Authorization` header built from it.
//!
//! Fly has two token families and the Machines API wants them in different
//! schemes: macaroons (`fm1r_`, `fm1a_`, `fm2_`, what `fly tokens create`
//! prints today) go as `FlyV1 <token>`, older personal tokens as
//! `Bearer <token>` (fly-go `tokens/tokens.go` L34-49, L231-252). Sending a
//! macaroon as Bearer yields a confusing 401, so the scheme is picked here
//! once instead of by each caller.

use std::fmt;

/// Prefixes that mark a macaroon token (fly-go `tokens.go`).
const MACAROON_PREFIXES: [&str; 3] = ["fm1r_", "fm1a_", "fm2_"];

/// The scheme prefix flyctl uses for macaroons, also accepted verbatim.
const FLYV1: &str = "FlyV1 ";

/// A Fly API token. It has no `Display`, and its `Debug` is redacted, so it
/// cannot end up in logs, error messages or a `{:?}` of the client by
/// accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token, trimming the whitespace a pasted secret often carries
    /// (a trailing newline in a CI secret is a classic 401).
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into().trim().to_owned())
    }

    /// The value of the `Authorization` header for this token.
    ///
    /// * already `FlyV1 …`: sent as is;
    /// * one or more comma-separated macaroons: `FlyV1 m1,m2` (like fly-go's
    ///   `FlapsHeader`, only the macaroon parts are sent when a list mixes
    ///   kinds);
    /// * anything else: `Bearer <token>`.
    pub(crate) fn authorization(&self) -> String {
        if self.0.starts_with(FLYV1) {
            return self.0.clone();
        }
        let macaroons: Vec<&str> = self
            .0
            .split(',')
            .map(str::trim)
            .filter(|part| MACAROON_PREFIXES.iter().any(|p| part.starts_with(p)))
            .collect();
        if macaroons.is_empty() {
            format!("Bearer {}", self.0)
        } else {
            format!("{FLYV1}{}", macaroons.join(","))
        }
    }

    /// Replaces every occurrence of the token (or of one of its
    /// comma-separated parts) in `text`, so that an API error echoing the
    /// credential cannot leak it into our error messages.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let bare = self.0.strip_prefix(FLYV1).unwrap_or(&self.0);
        let mut parts: Vec<&str> = bare.split(',').map(str::trim).collect();
        parts.push(bare);
        for part in parts {
            // Very short fragments would redact unrelated text; real tokens
            // are long.
            if part.len() >= 8 {
                out = out.replace(part, "<redacted>");
            }
        }
        out
    }

    /// The raw token, for the one place it must leave the client: the
    /// registry login (`registry.fly.io`, user `x`, password = the token).
    /// Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl From<String> for Token {
    fn from(value: String) -> Self {
        Token::new(value)
    }
}

impl From<&str> for Token {
    fn from(value: &str) -> Self {
        Token::new(value)
    }
}
