//! ferry's pre-cutover TLS check: does the new host serve a valid
//! certificate for the domain?
//!
//! Before a `cutover` points DNS at a new host, ferry connects to that host's
//! address directly (not to wherever DNS points today), asks for the domain
//! via SNI and looks at the certificate it gets back. The point is a
//! *report*, not a pass/fail handshake: a certificate for the wrong name, an
//! expired one or one from an unknown authority is still captured and
//! described ([`Report::problems`]), so the plan can say what is wrong
//! instead of "handshake failed". Only failures to get any certificate at all
//! are errors ([`TlsError`]).
//!
//! Everything is blocking std I/O, like the rest of ferry's executor.

mod capture;
mod clock;
mod error;
mod handshake;
mod leaf;
mod name;
mod report;
mod target;
mod trust;

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{DnsName, ServerName};

pub use error::TlsError;
pub use report::Report;
pub use target::{Roots, Target};

use capture::Recorder;

/// Connects to `target.address`, completes a TLS handshake for
/// `target.server_name` and reports on the certificate presented.
///
/// `target.timeout` bounds the whole check (connect and handshake together).
pub fn check(target: &Target) -> Result<Report, TlsError> {
    let server_name = dns_name(&target.server_name)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = trust::verifier(&target.roots, &provider)?;
    let recorder = Arc::new(Recorder::new(&provider));
    let config = client_config(provider, recorder.clone());

    let protocol = handshake::run(target, server_name.clone(), config)?;
    let presented = recorder.presented().ok_or_else(|| TlsError::Certificate {
        address: target.address,
        server_name: target.server_name.clone(),
        reason: "the handshake finished without capturing one".into(),
    })?;
    let leaf = leaf::Leaf::parse(&presented.end_entity).map_err(|reason| TlsError::Certificate {
        address: target.address,
        server_name: target.server_name.clone(),
        reason,
    })?;
    let verdict = verifier.map(|v| trust::judge(&v, &presented, &server_name, &leaf));

    Ok(Report::new(&target.server_name, leaf, presented.at, verdict, protocol))
}

/// Only DNS names are accepted: an IP address would send no SNI at all, and
/// the question this crate answers is about a domain.
fn dns_name(server_name: &str) -> Result<ServerName<'static>, TlsError> {
    DnsName::try_from(server_name.trim_end_matches('.'))
        .map(|name| ServerName::DnsName(name.to_owned()))
        .map_err(|_| TlsError::ServerName { server_name: server_name.to_owned() })
}

/// A config that accepts whatever certificate it is shown (the [`Recorder`]
/// keeps it for judging afterwards) and never resumes a session, because a
/// resumed session presents no certificate to look at.
fn client_config(provider: Arc<CryptoProvider>, recorder: Arc<Recorder>) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring's default provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(recorder)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Arc::new(config)
}
