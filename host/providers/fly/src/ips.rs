//! IP addresses (fly-go `flaps_ip_assignments.go`). A first deploy of an
//! app with services allocates a dedicated v6 and a shared v4.

use reqwest::Method;
use serde::Deserialize;

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;
use crate::types::{AllocateIp, IpAssignment};

impl FlyClient {
    /// The app's addresses.
    pub fn list_ips(&self, app: &str) -> Result<Vec<IpAssignment>, FlyError> {
        #[derive(Deserialize)]
        struct Listing {
            #[serde(default, deserialize_with = "crate::types::null_default")]
            ips: Vec<IpAssignment>,
        }
        let listing: Listing = self.http().send(&Request::flaps(Method::GET, &["apps", app, "ip_assignments"]))?.json()?;
        Ok(listing.ips)
    }

    /// Allocates an address. Not retried (a repeat would allocate, and for
    /// dedicated v4 bill, a second one).
    pub fn allocate_ip(&self, app: &str, request: &AllocateIp) -> Result<IpAssignment, FlyError> {
        self.http().send(&Request::flaps(Method::POST, &["apps", app, "ip_assignments"]).json(request))?.json()
    }

    /// Releases an address.
    pub fn release_ip(&self, app: &str, ip: &str) -> Result<(), FlyError> {
        self.http().send(&Request::flaps(Method::DELETE, &["apps", app, "ip_assignments", ip])).map(drop)
    }
}
