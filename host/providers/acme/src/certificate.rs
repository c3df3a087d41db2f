//! An issued chain and its key, and reading a chain's expiry.

use std::time::{Duration, SystemTime};

use crate::error::AcmeError;

/// What an order produced.
#[derive(Clone)]
pub struct Certificate {
    /// The leaf first, then the intermediates: nginx's `ssl_certificate`.
    pub chain_pem: String,
    /// Made on this machine for this order; written only to the host.
    pub key_pem: String,
    /// The leaf's `notAfter`.
    pub not_after: SystemTime,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate").field("not_after", &self.not_after).finish_non_exhaustive()
    }
}

impl Certificate {
    pub(crate) fn new(chain_pem: String, key_pem: String) -> Result<Certificate, AcmeError> {
        let not_after = summary(&chain_pem).map_err(AcmeError::Certificate)?.not_after;
        Ok(Certificate { chain_pem, key_pem, not_after })
    }
}

/// What a plan shows of a certificate on a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The leaf's DNS names (subject alternative names).
    pub names: Vec<String>,
    pub not_after: SystemTime,
}

/// The names and `notAfter` of the first certificate in a PEM chain.
pub fn summary(chain_pem: &str) -> Result<Summary, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(chain_pem.as_bytes()).map_err(|e| format!("not a PEM certificate: {e}"))?;
    let leaf = pem.parse_x509().map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let seconds = leaf.validity().not_after.timestamp();
    let seconds = u64::try_from(seconds).map_err(|_| format!("notAfter {seconds} is before 1970"))?;
    let names = match leaf.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(name) => Some((*name).to_owned()),
                _ => None,
            })
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(format!("its subject alternative names: {e}")),
    };
    Ok(Summary { names, not_after: SystemTime::UNIX_EPOCH + Duration::from_secs(seconds) })
}
