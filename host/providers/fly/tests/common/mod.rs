//! A wiremock fake of the Fly APIs for the blocking client.
//!
//! wiremock serves from its own thread, so a small current-thread runtime is
//! enough to mount mocks and read requests, and the blocking client is
//! called outside any runtime (reqwest's blocking client must not run inside
//! one).

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferry_fly::{Config, FlyClient, RetryPolicy};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "fm2_super-secret-token-value";

pub struct Fake {
    rt: tokio::runtime::Runtime,
    pub server: MockServer,
}

impl Fake {
    pub fn start() -> Fake {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let server = rt.block_on(MockServer::start());
        Fake { rt, server }
    }

    pub fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.server));
    }

    pub fn requests(&self) -> Vec<Request> {
        self.rt.block_on(self.server.received_requests()).unwrap_or_default()
    }

    /// Requests with this method whose path ends with `suffix`.
    pub fn requests_to(&self, method: &str, suffix: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.method.as_str() == method && r.url.path().ends_with(suffix)).collect()
    }

    /// Fast retry budgets so the suite stays quick.
    pub fn config(&self) -> Config {
        let fast = RetryPolicy { attempts: 4, base_delay: Duration::from_millis(5), max_delay: Duration::from_millis(20) };
        let mut config = Config::new(TOKEN);
        config.flaps_base = self.server.uri();
        config.api_base = self.server.uri();
        config.uiex_base = self.server.uri();
        config.request_timeout = Duration::from_secs(5);
        config.wait_margin = Duration::from_secs(2);
        config.retry = fast;
        config.create_retry = RetryPolicy { attempts: 3, ..fast };
        config.lease_retry = RetryPolicy { attempts: 3, ..fast };
        config.not_found_window = Duration::from_secs(3);
        config.rate_limit_retry = RetryPolicy { attempts: 4, ..fast };
        config.launch_timeout = Duration::from_secs(5);
        config.create_lookup_window = Duration::from_millis(150);
        config.create_lookups = 3;
        config.app_wait = Duration::from_secs(3);
        config
    }

    pub fn client(&self) -> FlyClient {
        FlyClient::new(self.config()).expect("client")
    }
}

/// Answers with each template in turn, repeating the last one.
pub struct Seq {
    responses: Vec<ResponseTemplate>,
    next: AtomicUsize,
}

impl Seq {
    pub fn new(responses: Vec<ResponseTemplate>) -> Seq {
        Seq { responses, next: AtomicUsize::new(0) }
    }
}

impl Respond for Seq {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        self.responses[n.min(self.responses.len() - 1)].clone()
    }
}

pub fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

pub fn status(code: u16, error: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({ "error": error }))
}

/// A machine as the API returns it.
pub fn machine(id: &str, state: &str) -> Value {
    json!({
        "id": id,
        "name": format!("name-{id}"),
        "state": state,
        "region": "ams",
        "instance_id": "01HINSTANCE",
        "version": "01HVERSION",
        "private_ip": "fdaa::3",
        "config": {
            "image": "registry.fly.io/web:deployment-1",
            "metadata": { "fly_platform_version": "v2", "fly_process_group": "app" }
        },
        "image_ref": { "registry": "registry.fly.io", "repository": "web", "tag": "deployment-1", "digest": "sha256:abc" },
        "events": [],
        "checks": [],
        "host_status": "ok",
        "cordoned": false,
        "created_at": "2024-01-01T00:00:00Z",
        "updated_at": "2024-01-01T00:00:00Z"
    })
}

/// The value of query parameter `key`.
pub fn query(request: &Request, key: &str) -> Option<String> {
    request.url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

pub fn header(request: &Request, name: &str) -> Option<String> {
    request.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}
