//! Why no certificate could be looked at.
//!
//! A bad certificate is not an error (it is a [`crate::Report`] with
//! problems); these are the cases where there is nothing to report on. Each
//! names the address, and the server name once SNI was sent, because the
//! operator's next step depends on which host and which domain it was.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rustls::AlertDescription;

/// What stopped a TLS check before a certificate was seen.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The server name is not a DNS name (IP addresses are refused: they
    /// would send no SNI).
    #[error("`{server_name}` is not a domain name to check a certificate for")]
    ServerName {
        /// The name as given.
        server_name: String,
    },
    /// `Roots::Pem` held no usable CA certificate.
    #[error("the CA bundle is unusable: {reason}")]
    Roots {
        /// Why it was refused.
        reason: String,
    },
    /// The TCP connection failed (refused, unreachable…).
    #[error("could not connect to {address}: {source}")]
    Connect {
        /// The address dialled.
        address: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The TCP connection did not complete in time.
    #[error("timed out after {timeout:?} connecting to {address}")]
    ConnectTimeout {
        /// The address dialled.
        address: SocketAddr,
        /// The check's timeout.
        timeout: Duration,
    },
    /// TCP connected, but the TLS handshake did not finish in time: usually
    /// something other than TLS listens on that port.
    #[error(
        "timed out after {timeout:?} waiting for {address} to complete a TLS handshake for \
         {server_name} (does it serve TLS on that port?)"
    )]
    HandshakeTimeout {
        /// The address dialled.
        address: SocketAddr,
        /// The name sent as SNI.
        server_name: String,
        /// The check's timeout.
        timeout: Duration,
    },
    /// The server sent a fatal alert, typically because it has no
    /// certificate for the name asked for.
    #[error(
        "{address} rejected the TLS handshake for {server_name} ({alert:?} alert); does it have a \
         certificate for that name?"
    )]
    Rejected {
        /// The address dialled.
        address: SocketAddr,
        /// The name sent as SNI.
        server_name: String,
        /// The alert the server sent.
        alert: AlertDescription,
    },
    /// The handshake failed on our side (protocol error, bad signature…).
    #[error("the TLS handshake with {address} for {server_name} failed: {source}")]
    Handshake {
        /// The address dialled.
        address: SocketAddr,
        /// The name sent as SNI.
        server_name: String,
        /// What rustls objected to.
        source: rustls::Error,
    },
    /// The connection broke (closed, reset) during the handshake.
    #[error("the connection to {address} broke during the TLS handshake for {server_name}: {source}")]
    Io {
        /// The address dialled.
        address: SocketAddr,
        /// The name sent as SNI.
        server_name: String,
        /// The I/O error.
        source: io::Error,
    },
    /// A certificate was presented but cannot be read.
    #[error("the certificate {address} presented for {server_name} is unreadable: {reason}")]
    Certificate {
        /// The address dialled.
        address: SocketAddr,
        /// The name sent as SNI.
        server_name: String,
        /// What the parser said.
        reason: String,
    },
}
