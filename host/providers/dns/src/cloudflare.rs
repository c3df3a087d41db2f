//! The Cloudflare API v4 (`/zones`, `/zones/{zone_id}/dns_records`).
//!
//! Cloudflare stores one record per value, each with its own id, so an
//! RRset is the set of records of one name and type. A change is computed
//! against the records just listed (reusing their ids: a value that stays
//! keeps its record, and with it its proxy setting and comment) and sent as
//! one `POST /dns_records/batch`, which Cloudflare runs in a single database
//! transaction: it applies whole or not at all, and a record deleted by
//! someone else in the meantime makes it fail rather than half-apply.
//!
//! The remaining window is between the list and the batch. A record another
//! client added in between is found by the read-back afterwards
//! ([`DnsError::NotApplied`]); an edit to a record we then patch is
//! overwritten unseen (Cloudflare has no conditional write). Cloudflare also
//! notes that propagation to its edge is not atomic: for a moment some
//! locations may answer a mix of old and new values.
//!
//! TTL 1 is Cloudflare's "automatic"; proxied records always have it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use reqwest::Method;
use reqwest::blocking::Client;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::DnsError;
use crate::http::{self, Reply};
use crate::provider::{self, DnsProvider};
use crate::record::{self, Name, RRset, RecordType};
use crate::secret::Secret;

const PROVIDER: &str = "cloudflare";

/// Records asked for per page; Cloudflare's default.
const DEFAULT_PER_PAGE: u32 = 100;

/// A Cloudflare account's zones, through an API token with DNS Write.
#[derive(Debug)]
pub struct Cloudflare {
    base: String,
    token: Secret,
    per_page: u32,
    http: Client,
    /// Zone ids by name: they never change, and every call needs one.
    zone_ids: Mutex<HashMap<Name, String>>,
}

/// Every response: `{success, errors, messages, result, result_info}`.
#[derive(Deserialize)]
struct Envelope<T> {
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    result: Option<T>,
    result_info: Option<ResultInfo>,
}

#[derive(Deserialize)]
struct ApiMessage {
    code: i64,
    message: String,
}

#[derive(Deserialize)]
struct ResultInfo {
    page: u32,
    total_pages: u32,
}

#[derive(Deserialize)]
struct ZoneInfo {
    id: String,
}

/// One Cloudflare DNS record.
#[derive(Deserialize, Clone)]
struct CfRecord {
    id: String,
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    content: String,
    ttl: u32,
    proxied: Option<bool>,
    priority: Option<u16>,
}

impl CfRecord {
    /// The value in the model's canonical form.
    fn value(&self, rtype: &RecordType) -> Result<String, DnsError> {
        let raw = match (rtype, self.priority) {
            // Cloudflare takes TXT content quoted or bare; bare is one string.
            (RecordType::TXT, _) if !self.content.trim_start().starts_with('"') => record::format_txt(&[self.content.as_bytes()]),
            // MX (and SRV, URI) carry their first field apart.
            (_, Some(priority)) => format!("{priority} {}", self.content),
            _ => self.content.clone(),
        };
        record::canonical_value(rtype, &raw)
    }
}

/// The fields Cloudflare wants for one value of `set`.
fn content_fields(set: &RRset, value: &str) -> Result<serde_json::Map<String, Value>, DnsError> {
    let mut fields = serde_json::Map::new();
    match set.rtype() {
        RecordType::A | RecordType::AAAA | RecordType::TXT => {
            fields.insert("content".into(), value.into());
        }
        RecordType::CNAME | RecordType::NS => {
            fields.insert("content".into(), value.trim_end_matches('.').into());
        }
        RecordType::MX => {
            // The canonical form is `preference exchange.`.
            let (preference, exchange) = value.split_once(' ').unwrap_or(("0", value));
            let preference: u16 = preference.parse().unwrap_or(0);
            fields.insert("priority".into(), preference.into());
            fields.insert("content".into(), exchange.trim_end_matches('.').into());
        }
        RecordType::Other(_) => {
            return Err(DnsError::Unsupported { provider: PROVIDER, rtype: set.rtype().clone() });
        }
    }
    fields.insert("ttl".into(), set.ttl().into());
    Ok(fields)
}

impl Cloudflare {
    /// The public API.
    pub const DEFAULT_BASE_URL: &'static str = "https://api.cloudflare.com/client/v4";

    /// A client for the public API, authenticated with `token` (a bearer
    /// API token with Zone:Read and DNS:Write on the zones).
    pub fn new(token: Secret) -> Result<Cloudflare, DnsError> {
        Ok(Cloudflare {
            base: Cloudflare::DEFAULT_BASE_URL.to_owned(),
            token,
            per_page: DEFAULT_PER_PAGE,
            http: http::client(PROVIDER)?,
            zone_ids: Mutex::new(HashMap::new()),
        })
    }

    /// Talks to another base URL (tests, API proxies).
    pub fn with_base_url(mut self, base_url: &str) -> Cloudflare {
        self.base = base_url.trim_end_matches('/').to_owned();
        self
    }

    /// Asks for `per_page` records per page when listing.
    pub fn with_page_size(mut self, per_page: u32) -> Cloudflare {
        self.per_page = per_page.max(1);
        self
    }

    /// Sends one request and unwraps the envelope.
    fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<(T, Option<ResultInfo>), DnsError> {
        let request = format!("{method} {path}");
        let mut builder = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(self.token.expose()).query(query);
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        let reply = http::send(PROVIDER, &request, builder, &self.token)?;
        let envelope: Option<Envelope<T>> = serde_json::from_str(&reply.body).ok();
        match envelope {
            Some(Envelope { success: true, result: Some(result), result_info, .. }) if reply.is_success() => Ok((result, result_info)),
            envelope => Err(api_error(&request, &reply, envelope.map(|e| e.errors).unwrap_or_default())),
        }
    }

    fn zone_id(&self, zone: &Name) -> Result<String, DnsError> {
        let mut cache = self.zone_ids.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = cache.get(zone) {
            return Ok(id.clone());
        }
        let (zones, _): (Vec<ZoneInfo>, _) = self.call(Method::GET, "/zones", &[("name", zone.without_dot().to_owned())], None)?;
        let id = zones.into_iter().next().ok_or_else(|| DnsError::ZoneNotFound { provider: PROVIDER, zone: zone.clone() })?.id;
        cache.insert(zone.clone(), id.clone());
        Ok(id)
    }

    /// All records of the zone, or of one name and type, page by page.
    fn list(&self, zone_id: &str, only: Option<(&Name, &RecordType)>) -> Result<Vec<CfRecord>, DnsError> {
        let path = format!("/zones/{zone_id}/dns_records");
        let mut records = Vec::new();
        let mut page = 1;
        loop {
            let mut query = vec![("page", page.to_string()), ("per_page", self.per_page.to_string())];
            if let Some((name, rtype)) = only {
                query.push(("name", name.without_dot().to_owned()));
                query.push(("type", rtype.to_string()));
            }
            let (batch, info): (Vec<CfRecord>, _) = self.call(Method::GET, &path, &query, None)?;
            let empty = batch.is_empty();
            records.extend(batch);
            match info {
                Some(info) if !empty && info.page < info.total_pages => page = info.page + 1,
                _ => return Ok(records),
            }
        }
    }

    /// The RRset of `name`/`rtype` and the records it is made of.
    fn current(&self, zone_id: &str, name: &Name, rtype: &RecordType) -> Result<(Option<RRset>, Vec<CfRecord>), DnsError> {
        let records: Vec<CfRecord> = self
            .list(zone_id, Some((name, rtype)))?
            .into_iter()
            .filter(|r| Name::new(&r.name).is_ok_and(|n| n == *name) && r.rtype.eq_ignore_ascii_case(rtype.as_str()))
            .collect();
        let set = to_rrsets(&records)?.into_iter().next();
        Ok((set, records))
    }

    /// Sends the changes that turn `records` into `new` as one batch.
    fn apply(&self, zone_id: &str, records: &[CfRecord], new: Option<&RRset>) -> Result<(), DnsError> {
        let mut patches = Vec::new();
        let mut posts = Vec::new();
        let mut missing: Vec<&String> = new.map(|s| s.values().iter().collect()).unwrap_or_default();
        let mut spare = Vec::new();
        // Records whose value stays are kept (a TTL change is a patch).
        for record in records {
            let rtype: RecordType = record.rtype.parse()?;
            let value = record.value(&rtype)?;
            match (new, missing.iter().position(|v| **v == value)) {
                (Some(set), Some(at)) => {
                    missing.remove(at);
                    if record.ttl != set.ttl() {
                        patches.push(json!({ "id": record.id, "ttl": set.ttl() }));
                    }
                }
                _ => spare.push(record),
            }
        }
        // New values take over spare records, then get new ones.
        if let Some(set) = new {
            let proxied = records.first().and_then(|r| r.proxied);
            for value in missing {
                let mut fields = content_fields(set, value)?;
                if let Some(record) = spare.pop() {
                    fields.insert("id".into(), record.id.clone().into());
                    patches.push(Value::Object(fields));
                    continue;
                }
                fields.insert("type".into(), set.rtype().as_str().into());
                fields.insert("name".into(), set.name().without_dot().into());
                if let (Some(proxied), RecordType::A | RecordType::AAAA | RecordType::CNAME) = (proxied, set.rtype()) {
                    fields.insert("proxied".into(), proxied.into());
                }
                posts.push(Value::Object(fields));
            }
        }
        let deletes: Vec<Value> = spare.into_iter().map(|r| json!({ "id": r.id })).collect();
        if deletes.is_empty() && patches.is_empty() && posts.is_empty() {
            return Ok(());
        }
        let body = json!({ "deletes": deletes, "patches": patches, "posts": posts });
        let path = format!("/zones/{zone_id}/dns_records/batch");
        self.call::<Value>(Method::POST, &path, &[], Some(body)).map(|_| ())
    }
}

/// Groups Cloudflare's one-record-per-value list into RRsets.
fn to_rrsets(records: &[CfRecord]) -> Result<Vec<RRset>, DnsError> {
    let mut rows = Vec::new();
    for record in records {
        let rtype: RecordType = record.rtype.parse()?;
        let value = record.value(&rtype)?;
        rows.push((Name::new(&record.name)?, rtype, record.ttl, value));
    }
    record::group(rows)
}

/// Maps a failed call, keeping every `errors[].code` and message.
fn api_error(request: &str, reply: &Reply, errors: Vec<ApiMessage>) -> DnsError {
    let code = errors.first().map(|e| e.code);
    let message = if errors.is_empty() {
        format!("unexpected response: {}", reply.body.chars().take(200).collect::<String>())
    } else {
        errors.iter().map(|e| format!("error {}: {}", e.code, e.message)).collect::<Vec<_>>().join("; ")
    };
    // 10000 "Authentication error", 9109 "Invalid access token".
    if matches!(reply.status, 401 | 403) || matches!(code, Some(10000 | 9109)) {
        return DnsError::Unauthorized {
            provider: PROVIDER,
            request: request.to_owned(),
            status: reply.status,
            message,
            credential: "token (it needs Zone:Read and DNS:Write on this zone)",
        };
    }
    DnsError::Api { provider: PROVIDER, request: request.to_owned(), status: reply.status, code, message }
}

impl DnsProvider for Cloudflare {
    fn read(&self, zone: &Name, name: &Name, rtype: &RecordType) -> Result<Option<RRset>, DnsError> {
        provider::in_zone(zone, name)?;
        let zone_id = self.zone_id(zone)?;
        Ok(self.current(&zone_id, name, rtype)?.0)
    }

    fn replace(&self, zone: &Name, expected: Option<&RRset>, new: &RRset) -> Result<(), DnsError> {
        provider::check_change(zone, expected, new)?;
        let zone_id = self.zone_id(zone)?;
        let (found, records) = self.current(&zone_id, new.name(), new.rtype())?;
        provider::ensure_unchanged(new.name(), new.rtype(), expected, found)?;
        self.apply(&zone_id, &records, Some(new))?;
        provider::ensure_applied(self, zone, new.name(), new.rtype(), Some(new))
    }

    fn delete(&self, zone: &Name, expected: &RRset) -> Result<(), DnsError> {
        provider::in_zone(zone, expected.name())?;
        let zone_id = self.zone_id(zone)?;
        let (found, records) = self.current(&zone_id, expected.name(), expected.rtype())?;
        provider::ensure_unchanged(expected.name(), expected.rtype(), Some(expected), found)?;
        self.apply(&zone_id, &records, None)?;
        provider::ensure_applied(self, zone, expected.name(), expected.rtype(), None)
    }

    fn zone_records(&self, zone: &Name) -> Result<Vec<RRset>, DnsError> {
        let zone_id = self.zone_id(zone)?;
        let records = self.list(&zone_id, None)?;
        to_rrsets(&records)
    }
}
