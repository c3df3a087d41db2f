//! Whether the presented chain leads to a trusted root.
//!
//! webpki's verdict mixes three questions: is the chain trusted, is the
//! certificate for this name, is it in date. The report answers the last two
//! itself (`matches_name`, the dates), so when webpki's complaint is about
//! name or date, the chain is verified again for a name the certificate does
//! cover, at a moment inside its validity. `trusted` then says only whether
//! the chain is good, and a wrong-name or expired certificate is reported
//! once, as what it is, rather than also as "not trusted".

use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};

use crate::capture::Presented;
use crate::leaf::Leaf;
use crate::{Roots, TlsError};

/// A real webpki verifier for `roots`; `None` when trust is not to be judged.
pub(crate) fn verifier(roots: &Roots, provider: &Arc<CryptoProvider>) -> Result<Option<Arc<WebPkiServerVerifier>>, TlsError> {
    let store = match roots {
        Roots::None => return Ok(None),
        Roots::System => RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
        Roots::Pem(pem) => pem_store(pem)?,
    };
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone()).build().map(Some).map_err(|e| TlsError::Roots { reason: e.to_string() })
}

fn pem_store(pem: &[u8]) -> Result<RootCertStore, TlsError> {
    let refused = |reason: String| TlsError::Roots { reason };
    let mut store = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| refused(e.to_string()))?;
        store.add(cert).map_err(|e| refused(e.to_string()))?;
    }
    if store.is_empty() {
        return Err(refused("it contains no PEM certificate".into()));
    }
    Ok(store)
}

/// `Ok(())` if the chain is trusted, else a sentence-ready reason.
pub(crate) fn judge(verifier: &WebPkiServerVerifier, presented: &Presented, server_name: &ServerName<'static>, leaf: &Leaf) -> Result<(), String> {
    let verify = |name: &ServerName<'_>, at: UnixTime| {
        verifier.verify_server_cert(&presented.end_entity, &presented.intermediates, name, &presented.ocsp_response, at).map(drop)
    };
    let verdict = match verify(server_name, presented.at) {
        Err(rustls::Error::InvalidCertificate(e)) if reported_elsewhere(&e) => match covered_name(leaf) {
            Some(name) => verify(&name, inside_validity(leaf)),
            None => Err(rustls::Error::InvalidCertificate(e)),
        },
        verdict => verdict,
    };
    verdict.map_err(|e| reason(&e))
}

/// Complaints the report already makes in its own words.
fn reported_elsewhere(e: &CertificateError) -> bool {
    matches!(
        e,
        CertificateError::NotValidForName
            | CertificateError::NotValidForNameContext { .. }
            | CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. }
    )
}

/// A concrete name the leaf is for (a wildcard filled in with one label).
fn covered_name(leaf: &Leaf) -> Option<ServerName<'static>> {
    leaf.names.iter().find_map(|name| {
        let name = match name.strip_prefix("*.") {
            Some(parent) => format!("wildcard.{parent}"),
            None => name.clone(),
        };
        ServerName::try_from(name).ok().filter(|n| matches!(n, ServerName::DnsName(_)))
    })
}

/// The middle of the leaf's validity, where its own dates cannot object.
fn inside_validity(leaf: &Leaf) -> UnixTime {
    let middle = leaf.not_before / 2 + leaf.not_after / 2;
    UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(middle).unwrap_or(0)))
}

/// rustls' messages for the common cases are enum names; say them plainly.
fn reason(e: &rustls::Error) -> String {
    let rustls::Error::InvalidCertificate(e) = e else {
        return e.to_string();
    };
    match e {
        CertificateError::UnknownIssuer => "it is not issued by any of the trusted authorities (unknown issuer)".into(),
        CertificateError::BadSignature => "its signature does not verify against its issuer".into(),
        CertificateError::Revoked => "it has been revoked".into(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "a certificate in its chain has expired".into(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => "a certificate in its chain is not valid yet".into(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => "it is not issued for TLS servers (extended key usage)".into(),
        other => other.to_string(),
    }
}
