//! The PowerDNS Authoritative HTTP API (`/api/v1/servers/{id}/zones/{zone}`).
//!
//! The API has no conditional write, so the compare-and-swap is a read
//! (`GET` of the zone filtered to the RRset) followed by one `PATCH` with
//! `changetype: REPLACE` (or `DELETE`), which PowerDNS applies to the whole
//! RRset in one transaction. The remaining window is between that GET and
//! PATCH, typically a few milliseconds: a write by another client in
//! between is overwritten. The read-back afterwards catches a write that
//! lands just after ours ([`DnsError::NotApplied`]). Where that window is
//! not acceptable, point [`crate::Rfc2136`] at the same server
//! (`dnsupdate=yes` and the zone's `TSIG-ALLOW-DNSUPDATE`): its check runs
//! inside the server.
//!
//! Disabled records are not served, so they are not part of an RRset here;
//! a REPLACE drops them.

use reqwest::blocking::Client;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::DnsError;
use crate::http::{self, Reply};
use crate::provider::{self, DnsProvider};
use crate::record::{Name, RRset, RecordType};
use crate::secret::Secret;

const PROVIDER: &str = "powerdns";

/// A PowerDNS server's HTTP API.
#[derive(Debug)]
pub struct PowerDns {
    base: String,
    server_id: String,
    api_key: Secret,
    http: Client,
}

/// The parts of a zone document used here.
#[derive(Deserialize)]
struct Zone {
    rrsets: Vec<ApiRRset>,
}

#[derive(Deserialize)]
struct ApiRRset {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: u32,
    records: Vec<ApiRecord>,
}

#[derive(Deserialize)]
struct ApiRecord {
    content: String,
    disabled: bool,
}

impl PowerDns {
    /// The API of the webserver at `base_url` (e.g. `http://127.0.0.1:8081`;
    /// a trailing `/api/v1` is accepted too), authenticated with its
    /// `api-key`, server id `localhost`.
    pub fn new(base_url: &str, api_key: Secret) -> Result<PowerDns, DnsError> {
        let base = base_url.trim_end_matches('/');
        let base = base.strip_suffix("/api/v1").unwrap_or(base).to_owned();
        Ok(PowerDns { base, server_id: "localhost".to_owned(), api_key, http: http::client(PROVIDER)? })
    }

    /// Uses another server id than `localhost` (only for API proxies that
    /// front several servers).
    pub fn with_server_id(mut self, server_id: &str) -> PowerDns {
        self.server_id = server_id.to_owned();
        self
    }

    fn zone_path(&self, zone: &Name) -> String {
        format!("/api/v1/servers/{}/zones/{}", self.server_id, zone)
    }

    /// The zone's RRsets, or only those of `name`/`rtype`.
    fn rrsets(&self, zone: &Name, only: Option<(&Name, &RecordType)>) -> Result<Vec<RRset>, DnsError> {
        let path = self.zone_path(zone);
        let mut builder = self.request(reqwest::Method::GET, &path);
        if let Some((name, rtype)) = only {
            builder = builder.query(&[("rrset_name", name.as_str()), ("rrset_type", rtype.as_str())]);
        }
        let request = format!("GET {path}");
        let reply = http::send(PROVIDER, &request, builder, &self.api_key)?;
        if !reply.is_success() {
            return Err(self.error(zone, &request, reply));
        }
        let document: Zone = serde_json::from_str(&reply.body).map_err(|e| DnsError::Http {
            provider: PROVIDER,
            request: request.clone(),
            reason: format!("unexpected zone document: {e}"),
        })?;
        let mut sets = Vec::new();
        for api in document.rrsets {
            let name = Name::new(&api.name)?;
            let rtype: RecordType = api.rtype.parse()?;
            // Older servers ignore the filter; disabled records are not served.
            if only.is_some_and(|(n, t)| *n != name || *t != rtype) {
                continue;
            }
            let values: Vec<String> = api.records.into_iter().filter(|r| !r.disabled).map(|r| r.content).collect();
            if !values.is_empty() {
                sets.push(RRset::new(name, rtype, api.ttl, values)?);
            }
        }
        Ok(sets)
    }

    /// One PATCH of one RRset.
    fn patch(&self, zone: &Name, rrset: Value) -> Result<(), DnsError> {
        let path = self.zone_path(zone);
        let request = format!("PATCH {path}");
        let builder = self.request(reqwest::Method::PATCH, &path).json(&json!({ "rrsets": [rrset] }));
        let reply = http::send(PROVIDER, &request, builder, &self.api_key)?;
        if reply.is_success() { Ok(()) } else { Err(self.error(zone, &request, reply)) }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).header("X-API-Key", self.api_key.expose())
    }

    /// PowerDNS errors are `{"error": "…"}` (or plain text for 401/404).
    fn error(&self, zone: &Name, request: &str, reply: Reply) -> DnsError {
        let message = serde_json::from_str::<Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| reply.body.trim().to_owned());
        match reply.status {
            401 | 403 => DnsError::Unauthorized {
                provider: PROVIDER,
                request: request.to_owned(),
                status: reply.status,
                message,
                credential: "key (X-API-Key, the server's api-key setting)",
            },
            404 => DnsError::ZoneNotFound { provider: PROVIDER, zone: zone.clone() },
            status => DnsError::Api { provider: PROVIDER, request: request.to_owned(), status, code: None, message },
        }
    }
}

impl DnsProvider for PowerDns {
    fn read(&self, zone: &Name, name: &Name, rtype: &RecordType) -> Result<Option<RRset>, DnsError> {
        provider::in_zone(zone, name)?;
        Ok(self.rrsets(zone, Some((name, rtype)))?.into_iter().next())
    }

    fn replace(&self, zone: &Name, expected: Option<&RRset>, new: &RRset) -> Result<(), DnsError> {
        provider::check_change(zone, expected, new)?;
        let found = self.read(zone, new.name(), new.rtype())?;
        provider::ensure_unchanged(new.name(), new.rtype(), expected, found)?;
        let records: Vec<Value> = new.values().iter().map(|v| json!({ "content": v, "disabled": false })).collect();
        self.patch(
            zone,
            json!({
                "name": new.name().as_str(),
                "type": new.rtype().as_str(),
                "ttl": new.ttl(),
                "changetype": "REPLACE",
                "records": records,
            }),
        )?;
        provider::ensure_applied(self, zone, new.name(), new.rtype(), Some(new))
    }

    fn delete(&self, zone: &Name, expected: &RRset) -> Result<(), DnsError> {
        let found = self.read(zone, expected.name(), expected.rtype())?;
        provider::ensure_unchanged(expected.name(), expected.rtype(), Some(expected), found)?;
        self.patch(
            zone,
            json!({
                "name": expected.name().as_str(),
                "type": expected.rtype().as_str(),
                "changetype": "DELETE",
            }),
        )?;
        provider::ensure_applied(self, zone, expected.name(), expected.rtype(), None)
    }

    fn zone_records(&self, zone: &Name) -> Result<Vec<RRset>, DnsError> {
        let mut sets = self.rrsets(zone, None)?;
        sets.retain(|s| s.rtype().as_str() != "SOA");
        Ok(sets)
    }
}
