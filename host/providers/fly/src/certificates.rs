//! Custom-domain certificates (fly-go `flaps_certificates.go`, Fly's
//! `certificates-resource` docs): a migration re-adds the source app's
//! hostnames to the new app, and must not move traffic before each is
//! issued.
//!
//! The REST API's hostname status is `active` once a certificate is issued,
//! `pending_validation` / `pending_ownership` (or another `pending_*`)
//! before; the GraphQL-era "Ready" does not appear here. The list is
//! paginated (`limit`, `cursor` → `next_cursor`). Hostnames go in paths
//! escaped as Go's `url.PathEscape` does (`*.example.com` →
//! `%2A.example.com`, as the docs require), which the transport does.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;
use crate::types::null_default;

/// The hostname status of an issued certificate.
pub const CERTIFICATE_ACTIVE: &str = "active";

/// Page size asked for when listing (flyctl's `fly certs list` asks 50).
const PAGE: &str = "50";

/// At most this many pages are read: a loop guard against a server that
/// keeps returning a cursor (50 × 200 = 10 000 hostnames).
const MAX_PAGES: usize = 200;

/// One entry of the certificates list (fly-go `CertificateSummary`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct CertificateSummary {
    pub hostname: String,
    /// `active`, `pending_validation`, `pending_ownership`…
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_default")]
    pub configured: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub acme_requested: bool,
}

impl CertificateSummary {
    /// Whether a certificate is issued for the hostname.
    pub fn is_active(&self) -> bool {
        self.status == CERTIFICATE_ACTIVE
    }
}

/// The DNS-01 challenge record Fly validates a hostname with: a CNAME at
/// `name` pointing at `target`. With it in place Fly can issue the
/// certificate before the hostname's traffic points at the app.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct AcmeChallenge {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub target: String,
}

/// The records a hostname needs (`dns_requirements`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct DnsRequirements {
    #[serde(default, deserialize_with = "null_default")]
    pub a: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub aaaa: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub cname: String,
    #[serde(default)]
    pub acme_challenge: Option<AcmeChallenge>,
}

/// Why validation failed, as the API explains it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ValidationError {
    #[serde(default, deserialize_with = "null_default")]
    pub code: String,
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    #[serde(default, deserialize_with = "null_default")]
    pub remediation: String,
}

/// A certificate as `GET/POST …/certificates[/{hostname}]` returns it
/// (fly-go `CertificateDetailResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Certificate {
    pub hostname: String,
    #[serde(default, deserialize_with = "null_default")]
    pub configured: bool,
    #[serde(default, deserialize_with = "null_default")]
    pub acme_requested: bool,
    /// `active`, `pending_validation`, `pending_ownership`…
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    #[serde(default)]
    pub dns_requirements: Option<DnsRequirements>,
    #[serde(default, deserialize_with = "null_default")]
    pub validation_errors: Vec<ValidationError>,
    /// Set while Let's Encrypt rate-limits the hostname.
    #[serde(default)]
    pub rate_limited_until: Option<String>,
}

impl Certificate {
    /// Whether a certificate is issued for the hostname.
    pub fn is_active(&self) -> bool {
        self.status == CERTIFICATE_ACTIVE
    }

    /// The DNS-01 challenge CNAME, when the API named one.
    pub fn acme_challenge(&self) -> Option<&AcmeChallenge> {
        self.dns_requirements.as_ref().and_then(|d| d.acme_challenge.as_ref()).filter(|c| !c.name.is_empty() && !c.target.is_empty())
    }
}

impl FlyClient {
    /// Every certificate of the app, following `next_cursor` to the last
    /// page (flyctl reads one page of 50 and says "use the Machines API to
    /// paginate"; a migration must not skip a hostname).
    pub fn list_certificates(&self, app: &str) -> Result<Vec<CertificateSummary>, FlyError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default, deserialize_with = "null_default")]
            certificates: Vec<CertificateSummary>,
            #[serde(default)]
            next_cursor: Option<String>,
        }
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut request = Request::flaps(Method::GET, &["apps", app, "certificates"]).query("limit", PAGE);
            if let Some(cursor) = &cursor {
                request = request.query("cursor", cursor.clone());
            }
            let page: Page = self.http().send(&request)?.json()?;
            all.extend(page.certificates);
            match page.next_cursor.filter(|c| !c.is_empty()) {
                Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
                _ => return Ok(all),
            }
        }
        Err(FlyError::Decode {
            ctx: crate::error::RequestContext {
                method: "GET".into(),
                host: self.config().flaps_base.clone(),
                path: format!("/v1/apps/{app}/certificates"),
                request_id: None,
            },
            message: format!("the certificate list did not end after {MAX_PAGES} pages"),
        })
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

    /// Asks Fly to check the hostname's DNS again and issue if it can
    /// (`POST …/certificates/{hostname}/check`).
    pub fn check_certificate(&self, app: &str, hostname: &str) -> Result<Certificate, FlyError> {
        self.http().send(&Request::flaps(Method::POST, &["apps", app, "certificates", hostname, "check"]))?.json()
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
