use std::path::PathBuf;

/// Which ACME server issues, from the trusted ferry.toml (`[acme]`): never
/// from a step or a pull request, since the account and the certificate's
/// private key are made for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directory {
    /// The directory URL, e.g. Let's Encrypt's
    /// `https://acme-v02.api.letsencrypt.org/directory`.
    pub url: String,
    pub roots: Roots,
    /// `mailto:` addresses for the CA's expiry notices; may be empty.
    pub contact: Vec<String>,
}

/// Whom the client trusts for the ACME server's own TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Roots {
    /// The platform's trust store.
    System,
    /// One PEM root: a private CA or a test server such as Pebble.
    Pem(PathBuf),
}

impl Directory {
    /// Let's Encrypt's production directory.
    pub const LETS_ENCRYPT: &'static str = "https://acme-v02.api.letsencrypt.org/directory";
}
