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
        let not_after = expiry(&chain_pem).map_err(AcmeError::Certificate)?;
        Ok(Certificate { chain_pem, key_pem, not_after })
    }
}

/// The `notAfter` of the first certificate in a PEM chain.
pub fn expiry(chain_pem: &str) -> Result<SystemTime, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(chain_pem.as_bytes()).map_err(|e| format!("not a PEM certificate: {e}"))?;
    let leaf = pem.parse_x509().map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let seconds = leaf.validity().not_after.timestamp();
    let seconds = u64::try_from(seconds).map_err(|_| format!("notAfter {seconds} is before 1970"))?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}
