//! What the end-entity certificate says about itself: names, dates, issuer.

use rustls::pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

/// The parts of the leaf certificate a report is made of.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    /// SAN DNS names; the subject CN only when there are none (RFC 6125 §6.4.4).
    pub(crate) names: Vec<String>,
    /// Validity bounds, in seconds since the Unix epoch.
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    /// The issuer's distinguished name, e.g. `CN=R11, O=Let's Encrypt, C=US`.
    pub(crate) issuer: String,
}

impl Leaf {
    pub(crate) fn parse(der: &CertificateDer<'_>) -> Result<Self, String> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        let mut names = san_dns_names(&cert)?;
        if names.is_empty() {
            names.extend(common_name(&cert));
        }
        let validity = cert.validity();
        Ok(Self { names, not_before: validity.not_before.timestamp(), not_after: validity.not_after.timestamp(), issuer: cert.issuer().to_string() })
    }
}

fn san_dns_names(cert: &X509Certificate<'_>) -> Result<Vec<String>, String> {
    let Some(san) = cert.subject_alternative_name().map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    Ok(san
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_string()),
            _ => None,
        })
        .collect())
}

fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject().iter_common_name().find_map(|cn| cn.as_str().ok()).map(str::to_owned)
}
