//! A fake of the Cloudflare API v4 DNS endpoints, served by wiremock on
//! loopback, with state: it stores records, so reads see earlier writes.
//!
//! It follows the documented shapes: every response is the
//! `{success, errors, messages, result, result_info}` envelope; zones are
//! found with `GET /zones?name=`; records are listed with
//! `GET /zones/{id}/dns_records?name=&type=&page=&per_page=` (paginated,
//! `result_info.total_pages`); changes go through
//! `POST /zones/{id}/dns_records/batch` (deletes, then patches, then posts,
//! all or nothing). Errors use Cloudflare's codes: 10000 (authentication),
//! 7003 (no such route or object), 81044 (record does not exist), 81053
//! (an A/AAAA/CNAME already exists at the name).
//!
//! wiremock serves from its own runtime thread; the blocking provider is
//! called from the test thread, outside any runtime (reqwest's blocking
//! client must not run inside one).

use std::sync::{Arc, Mutex};

use ferry_dns::{Cloudflare, Secret};
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The token the fake accepts.
pub const TOKEN: &str = "cf-test-token-3b9d7a61e0";
/// The id of `example.test`.
pub const ZONE_ID: &str = "023e105f4ecef8ad9ca31a8372d0c353";
const ZONE_NAME: &str = "example.test";
/// The API's path prefix, as on api.cloudflare.com.
const PREFIX: &str = "/client/v4";

/// One stored record (one value of an RRset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeRecord {
    pub id: String,
    pub name: String,
    pub rtype: String,
    pub content: String,
    pub ttl: u32,
    pub priority: Option<u16>,
    pub proxied: bool,
}

impl FakeRecord {
    fn json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "zone_id": ZONE_ID,
            "zone_name": ZONE_NAME,
            "name": self.name,
            "type": self.rtype,
            "content": self.content,
            "ttl": self.ttl,
            "proxiable": matches!(self.rtype.as_str(), "A" | "AAAA" | "CNAME"),
            "proxied": self.proxied,
            "comment": null,
            "tags": [],
        });
        if let Some(priority) = self.priority {
            v["priority"] = priority.into();
        }
        v
    }
}

/// A change injected just before the next batch is applied: another client
/// writing between our list and our batch.
type Hook = Box<dyn FnOnce(&mut Vec<FakeRecord>) + Send>;

struct State {
    records: Vec<FakeRecord>,
    next_id: u64,
    before_batch: Option<Hook>,
}

impl State {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:032x}", self.next_id)
    }
}

/// The running fake.
pub struct FakeCloudflare {
    rt: tokio::runtime::Runtime,
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl FakeCloudflare {
    /// Starts the fake with `records`: `(name, type, content, ttl)`, MX
    /// content as `priority exchange`.
    pub fn start(records: &[(&str, &str, &str, u32)]) -> FakeCloudflare {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let server = rt.block_on(MockServer::start());
        let mut state = State { records: Vec::new(), next_id: 0, before_batch: None };
        for (name, rtype, content, ttl) in records {
            let (priority, content) = match (*rtype, content.split_once(' ')) {
                ("MX", Some((p, exchange))) => (Some(p.parse().unwrap()), exchange.to_owned()),
                _ => (None, (*content).to_owned()),
            };
            let id = state.new_id();
            state.records.push(FakeRecord { id, name: (*name).to_owned(), rtype: (*rtype).to_owned(), content, ttl: *ttl, priority, proxied: false });
        }
        let state = Arc::new(Mutex::new(state));
        rt.block_on(Mock::given(any()).respond_with(Api { state: state.clone() }).mount(&server));
        FakeCloudflare { rt, server, state }
    }

    /// The API's base URL.
    pub fn base_url(&self) -> String {
        format!("{}{PREFIX}", self.server.uri())
    }

    /// A provider for this fake with the right token, two records a page
    /// (so that pagination is exercised).
    pub fn provider(&self) -> Cloudflare {
        self.provider_with(TOKEN)
    }

    /// A provider with another token.
    pub fn provider_with(&self, token: &str) -> Cloudflare {
        Cloudflare::new(Secret::new(token)).unwrap().with_base_url(&self.base_url()).with_page_size(2)
    }

    /// The stored records of `name`/`rtype`, sorted by content.
    pub fn records(&self, name: &str, rtype: &str) -> Vec<FakeRecord> {
        let state = self.state.lock().unwrap();
        let mut records: Vec<FakeRecord> = state.records.iter().filter(|r| r.name == name && r.rtype == rtype).cloned().collect();
        records.sort_by(|a, b| a.content.cmp(&b.content));
        records
    }

    /// Runs `change` on the stored records right before the next batch.
    pub fn before_next_batch(&self, change: impl FnOnce(&mut Vec<FakeRecord>) + Send + 'static) {
        self.state.lock().unwrap().before_batch = Some(Box::new(change));
    }

    /// `(method, path and query)` of every request so far.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap_or_default()
            .into_iter()
            .map(|r| {
                let query = r.url.query().map(|q| format!("?{q}")).unwrap_or_default();
                (r.method.to_string(), format!("{}{query}", r.url.path()))
            })
            .collect()
    }

    /// How many batches were posted.
    pub fn batches(&self) -> usize {
        self.requests().iter().filter(|(m, p)| m == "POST" && p.ends_with("/dns_records/batch")).count()
    }
}

struct Api {
    state: Arc<Mutex<State>>,
}

fn envelope(status: u16, result: Value, result_info: Option<Value>) -> ResponseTemplate {
    let mut body = json!({ "success": true, "errors": [], "messages": [], "result": result });
    if let Some(info) = result_info {
        body["result_info"] = info;
    }
    ResponseTemplate::new(status).set_body_json(body)
}

fn failure(status: u16, code: i64, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "success": false,
        "errors": [{ "code": code, "message": message }],
        "messages": [],
        "result": null,
    }))
}

impl Respond for Api {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        if auth != format!("Bearer {TOKEN}") {
            // The fake echoes the header so the tests can prove that the
            // provider redacts a token an API sends back.
            return failure(403, 10000, &format!("Authentication error (got `{auth}`)"));
        }
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let param = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let path = request.url.path().strip_prefix(PREFIX).unwrap_or("");
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut state = self.state.lock().unwrap();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["zones"]) => {
                let zones =
                    if param("name").as_deref() == Some(ZONE_NAME) { vec![json!({ "id": ZONE_ID, "name": ZONE_NAME, "status": "active" })] } else { vec![] };
                let n = zones.len();
                envelope(
                    200,
                    json!(zones),
                    Some(json!({
                        "page": 1, "per_page": 20, "count": n, "total_count": n, "total_pages": 1
                    })),
                )
            }
            ("GET", ["zones", ZONE_ID, "dns_records"]) => {
                let page: usize = param("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
                let per_page: usize = param("per_page").and_then(|p| p.parse().ok()).unwrap_or(100);
                let matching: Vec<&FakeRecord> =
                    state.records.iter().filter(|r| param("name").is_none_or(|n| n == r.name)).filter(|r| param("type").is_none_or(|t| t == r.rtype)).collect();
                let total = matching.len();
                let items: Vec<Value> = matching.iter().skip((page - 1) * per_page).take(per_page).map(|r| r.json()).collect();
                let count = items.len();
                envelope(
                    200,
                    json!(items),
                    Some(json!({
                        "page": page,
                        "per_page": per_page,
                        "count": count,
                        "total_count": total,
                        "total_pages": total.div_ceil(per_page),
                    })),
                )
            }
            ("POST", ["zones", ZONE_ID, "dns_records", "batch"]) => {
                if let Some(hook) = state.before_batch.take() {
                    hook(&mut state.records);
                }
                let body: Value = match serde_json::from_slice(&request.body) {
                    Ok(body) => body,
                    Err(_) => return failure(400, 9207, "Request body is invalid."),
                };
                batch(&mut state, &body)
            }
            _ => failure(404, 7003, "Could not route to the requested path, perhaps your object identifier is invalid?"),
        }
    }
}

/// Applies a batch to a copy and keeps it only if every operation worked,
/// like Cloudflare's single transaction.
fn batch(state: &mut State, body: &Value) -> ResponseTemplate {
    let list = |key: &str| body.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let mut records = state.records.clone();
    let mut result = json!({ "deletes": [], "patches": [], "puts": [], "posts": [] });
    for delete in list("deletes") {
        let id = delete["id"].as_str().unwrap_or_default();
        let Some(at) = records.iter().position(|r| r.id == id) else {
            return failure(400, 81044, "Record does not exist.");
        };
        let gone = records.remove(at);
        result["deletes"].as_array_mut().unwrap().push(gone.json());
    }
    for patch in list("patches") {
        let id = patch["id"].as_str().unwrap_or_default();
        let Some(record) = records.iter_mut().find(|r| r.id == id) else {
            return failure(400, 81044, "Record does not exist.");
        };
        if let Some(content) = patch["content"].as_str() {
            record.content = content.to_owned();
        }
        if let Some(ttl) = patch["ttl"].as_u64() {
            record.ttl = u32::try_from(ttl).unwrap();
        }
        if let Some(priority) = patch["priority"].as_u64() {
            record.priority = Some(u16::try_from(priority).unwrap());
        }
        result["patches"].as_array_mut().unwrap().push(record.json());
    }
    for post in list("posts") {
        let field = |key: &str| post[key].as_str().unwrap_or_default().to_owned();
        let (name, rtype) = (field("name"), field("type"));
        let exclusive = |t: &str| matches!(t, "A" | "AAAA" | "CNAME");
        if exclusive(&rtype) && records.iter().any(|r| r.name == name && exclusive(&r.rtype) && (r.rtype == "CNAME" || rtype == "CNAME")) {
            return failure(400, 81053, "An A, AAAA, or CNAME record with that host already exists.");
        }
        let record = FakeRecord {
            id: state.new_id(),
            name,
            rtype,
            content: field("content"),
            ttl: post["ttl"].as_u64().map_or(1, |t| u32::try_from(t).unwrap()),
            priority: post["priority"].as_u64().map(|p| u16::try_from(p).unwrap()),
            proxied: post["proxied"].as_bool().unwrap_or(false),
        };
        result["posts"].as_array_mut().unwrap().push(record.json());
        records.push(record);
    }
    state.records = records;
    envelope(200, result, None)
}
