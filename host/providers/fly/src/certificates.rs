//! Custom-domain certificates (fly-go `flaps_certificates.go`): a migration
//! re-adds the source app's hostnames to the new app.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;

/// One entry of the certificates list.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CertificateSummary {
    pub hostname: String,
    #[serde(default)]
    pub status: String,
}

/// A certificate as `GET/POST …/certificates[/{hostname}]` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Certificate {
    pub hostname: String,
    #[serde(default)]
    pub configured: bool,
    #[serde(default)]
    pub acme_requested: bool,
    #[serde(default)]
    pub status: String,
}

impl FlyClient {
    pub fn list_certificates(&self, app: &str) -> Result<Vec<CertificateSummary>, FlyError> {
        #[derive(Deserialize)]
        struct Listing {
            #[serde(default, deserialize_with = "crate::types::null_default")]
            certificates: Vec<CertificateSummary>,
        }
        let listing: Listing = self.http().send(&Request::flaps(Method::GET, &["apps", app, "certificates"]))?.json()?;
        Ok(listing.certificates)
    }

    /// The certificate, or `None` when the app has no such hostname.
    pub fn get_certificate(&self, app: &str, hostname: &str) -> Result<Option<Certificate>, FlyError> {
        match self.http().send(&Request::flaps(Method::GET, &["apps", app, "certificates", hostname])) {
            Ok(response) => response.json().map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Adds the hostname and starts ACME issuance.
    pub fn add_certificate(&self, app: &str, hostname: &str) -> Result<Certificate, FlyError> {
        #[derive(Serialize)]
        struct Body<'a> {
            hostname: &'a str,
        }
        let request = Request::flaps(Method::POST, &["apps", app, "certificates", "acme"]).json(&Body { hostname });
        self.http().send(&request)?.json()
    }

    /// Removes the hostname and its certificates; already gone is fine.
    pub fn delete_certificate(&self, app: &str, hostname: &str) -> Result<(), FlyError> {
        match self.http().send(&Request::flaps(Method::DELETE, &["apps", app, "certificates", hostname])) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}
