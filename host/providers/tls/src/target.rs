//! What to check: the new host's address and the domain it must serve.

use std::net::SocketAddr;
use std::time::Duration;

/// One TLS check.
#[derive(Debug, Clone)]
pub struct Target {
    /// The new host. Deliberately an address rather than a name: before the
    /// cutover, DNS still points at the old host.
    pub address: SocketAddr,
    /// The domain the certificate must be for; sent as SNI.
    pub server_name: String,
    /// Bound on the whole check, connect and handshake together.
    pub timeout: Duration,
    /// Which authorities count as trusted.
    pub roots: Roots,
}

/// The certificate authorities a certificate must chain to.
#[derive(Debug, Clone)]
pub enum Roots {
    /// Mozilla's root program (compiled in via `webpki-roots`), so the answer
    /// does not depend on what the machine running ferry has installed.
    System,
    /// A PEM bundle of CA certificates: for private CAs, and for tests.
    Pem(Vec<u8>),
    /// Do not judge trust at all ([`crate::Report::trusted`] is `None`).
    None,
}
