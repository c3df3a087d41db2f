//! The API token and the `Authorization` headers built from it, as fly-go's
//! `tokens` package builds them (`tokens/tokens.go`).
//!
//! A token string may carry a scheme (`Bearer`, `FlyV1`, in any case, even
//! repeated: a pasted `Bearer FlyV1 fm2_…` is common) and a comma-separated
//! list of macaroons (`fm1r_`, `fm1a_`, `fm2_`) and user tokens. Each API
//! wants a different form, so the header is built here once instead of by
//! each caller:
//!
//! * the Machines API ("flaps", fly-go `FlapsHeader`): `FlyV1 <macaroons>`
//!   when there is any macaroon, else `Bearer <user tokens>`;
//! * the release-record API (flyctl `uiex`, `Tokens.GraphQL()`): `Bearer`
//!   followed by every macaroon, then every user token, whatever their kind.

use std::fmt;

/// What fly-go counts as a macaroon: the part before the first `_`.
const MACAROON_KINDS: [&str; 3] = ["fm1r", "fm1a", "fm2"];

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

    /// The token without any `Bearer`/`FlyV1` scheme (fly-go
    /// `StripAuthorizationScheme`: case-insensitive, repeated).
    fn bare(&self) -> &str {
        let mut token = self.0.trim();
        while let Some((scheme, rest)) = token.split_once(' ') {
            let scheme = scheme.trim();
            if scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("flyv1") {
                token = rest.trim();
            } else {
                break;
            }
        }
        // A scheme with nothing after it (a secret pasted as `Bearer `).
        if token.eq_ignore_ascii_case("bearer") || token.eq_ignore_ascii_case("flyv1") { "" } else { token }
    }

    /// The macaroons and the user tokens, in the order given (fly-go `Parse`).
    fn parts(&self) -> (Vec<&str>, Vec<&str>) {
        self.bare().split(',').map(str::trim).filter(|part| !part.is_empty()).partition(|part| is_macaroon(part))
    }

    /// The `Authorization` header for the Machines API.
    pub(crate) fn authorization(&self) -> String {
        let (macaroons, users) = self.parts();
        if macaroons.is_empty() { format!("Bearer {}", users.join(",")) } else { format!("FlyV1 {}", macaroons.join(",")) }
    }

    /// The `Authorization` header for the release-record API: flyctl sends
    /// `Bearer <cfg.Tokens.GraphQL()>`, every macaroon then every user token
    /// (`internal/uiex/releases.go`).
    pub(crate) fn uiex_authorization(&self) -> String {
        let (macaroons, users) = self.parts();
        let all: Vec<&str> = macaroons.into_iter().chain(users).collect();
        format!("Bearer {}", all.join(","))
    }

    /// Replaces every occurrence of the token (or of one of its
    /// comma-separated parts) in `text`, so that an API error echoing the
    /// credential cannot leak it into our error messages.
    pub(crate) fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let bare = self.bare();
        let mut parts: Vec<&str> = bare.split(',').map(str::trim).collect();
        parts.push(bare);
        parts.push(&self.0);
        // Longest first, so a part inside the whole is not redacted halfway.
        parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
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
        self.bare().split(',').all(|p| p.trim().is_empty())
    }
}

fn is_macaroon(token: &str) -> bool {
    token.split_once('_').is_some_and(|(kind, _)| MACAROON_KINDS.contains(&kind))
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

#[cfg(test)]
mod tests {
    use super::Token;

    /// fly-go `TestAuthorizationHeader` (`tokens/tokens_test.go`): schemes
    /// are stripped case-insensitively and repeatedly.
    #[test]
    fn schemes_are_stripped_like_fly_go() {
        for given in ["foobar", "Bearer foobar", "FlyV1 foobar", "Bearer FlyV1 foobar", "FlyV1 Bearer foobar", "BEARER FLYV1 foobar"] {
            assert_eq!(Token::new(given).bare(), "foobar", "{given}");
            assert_eq!(Token::new(given).authorization(), "Bearer foobar", "{given}");
        }
    }

    /// The same test's token lists: flaps gets macaroons only (as FlyV1),
    /// the GraphQL/uiex form gets macaroons first, then the rest.
    #[test]
    fn flaps_sends_macaroons_only_and_uiex_sends_all_macaroons_first() {
        let mixed = Token::new("foobar,fm2_foobar");
        assert_eq!(mixed.authorization(), "FlyV1 fm2_foobar");
        assert_eq!(mixed.uiex_authorization(), "Bearer fm2_foobar,foobar");
        let deploy = Token::new("FlyV1 fm2_a,fm2_b");
        assert_eq!(deploy.authorization(), "FlyV1 fm2_a,fm2_b");
        assert_eq!(deploy.uiex_authorization(), "Bearer fm2_a,fm2_b");
        assert_eq!(Token::new("Bearer fm1r_x").authorization(), "FlyV1 fm1r_x", "a macaroon pasted as Bearer");
        // `fm2` alone (no underscore) is not a macaroon kind.
        assert_eq!(Token::new("fm2x").authorization(), "Bearer fm2x");
    }

    #[test]
    fn a_scheme_alone_is_an_empty_token() {
        assert!(Token::new("Bearer ").is_empty());
        assert!(Token::new(" FlyV1  , ").is_empty());
        assert!(!Token::new("FlyV1 fm2_a").is_empty());
    }
}
