//! Test harness: starts the real `fly-emulator` binary (through the crate's
//! `FlyEmulator`) and talks HTTP to it. Every test owns its emulator;
//! dropping it stops the emulator and all its machines.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ferry_fly_emulator::{FlyEmulator, Options};
use serde_json::{Value, json};

pub const TOKEN: &str = "test-token";

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Value,
    pub request_id: Option<String>,
}

impl Response {
    /// The `error` message of an error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

pub struct Emulator {
    process: FlyEmulator,
    pub url: String,
    agent: ureq::Agent,
}

impl Emulator {
    pub fn start() -> Emulator {
        Emulator::start_with(&Options::default())
    }

    pub fn start_with(options: &Options) -> Emulator {
        let process = FlyEmulator::start_with(env!("CARGO_BIN_EXE_fly-emulator"), options).expect("start fly-emulator");
        // No pooled connections: a request must never ride a connection the
        // emulator already closed (seen once in CI as "Peer disconnected"
        // on the request after a bodiless POST).
        let agent = ureq::Agent::config_builder()
            .max_idle_connections_per_host(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(90)))
            .build()
            .into();
        Emulator { url: process.url().to_string(), process, agent }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Stops the emulator (closing its stdin) and waits for it to exit.
    pub fn stop(self) -> ExitStatus {
        self.process.stop().expect("stop fly-emulator")
    }

    /// Waits for the process to exit on its own (after a shutdown request or signal).
    pub fn wait_exit(mut self, timeout: Duration) -> Option<ExitStatus> {
        self.process.wait_exit(timeout).expect("wait for fly-emulator")
    }

    /// An API call with the default Bearer token.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.call_with(method, path, body, &[("Authorization", &format!("Bearer {TOKEN}"))])
    }

    pub fn call_with(&self, method: &str, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Response {
        let mut request = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = match body {
            Some(body) => self.agent.run(request.header("Content-Type", "application/json").body(body.to_string()).expect("request")),
            None if method != "GET" => self.agent.run(request.header("Content-Length", "0").body(()).expect("request")),
            None => self.agent.run(request.body(()).expect("request")),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let request_id = response.headers().get("fly-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().expect("read body");
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Response { status, body, request_id }
    }

    pub fn get(&self, path: &str) -> Response {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> Response {
        self.call("POST", path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Response {
        self.call("DELETE", path, None)
    }

    /// A control-API call (no auth).
    pub fn control(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.call_with(method, &format!("/_emulator{path}"), body, &[])
    }

    /// A plain GET to an absolute URL (a machine or the proxy).
    pub fn fetch(&self, url: &str) -> (u16, String) {
        let mut response = self.agent.get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
        (response.status().as_u16(), response.body_mut().read_to_string().unwrap_or_default())
    }

    /// Merges `patch` into the emulator's settings.
    pub fn settings(&self, patch: Value) {
        let response = self.control("POST", "/settings", Some(patch));
        assert_eq!(response.status, 200, "{:?}", response.body);
    }

    pub fn register_image(&self, reference: &str, behaviour: Value) {
        let response = self.control("POST", "/images", Some(json!({"ref": reference, "behaviour": behaviour})));
        assert_eq!(response.status, 200, "{:?}", response.body);
    }

    pub fn create_app(&self, name: &str) {
        let response = self.post("/v1/apps", json!({"app_name": name, "org_slug": "personal"}));
        assert_eq!(response.status, 201, "{:?}", response.body);
    }

    /// Creates a machine and returns its JSON.
    pub fn create_machine(&self, app: &str, body: Value) -> Value {
        let response = self.post(&format!("/v1/apps/{app}/machines"), body);
        assert_eq!(response.status, 200, "{:?}", response.body);
        response.body
    }

    pub fn machine(&self, app: &str, id: &str) -> Value {
        let response = self.get(&format!("/v1/apps/{app}/machines/{id}"));
        assert_eq!(response.status, 200, "{:?}", response.body);
        response.body
    }

    /// Long-polls `wait` until the machine reaches `state`.
    pub fn wait_state(&self, app: &str, id: &str, state: &str) {
        let response = self.get(&format!("/v1/apps/{app}/machines/{id}/wait?state={state}&timeout=10"));
        assert_eq!(response.status, 200, "waiting for {state}: {:?}", response.body);
    }

    /// Waits until the machine is started and all its checks pass, i.e. its
    /// process answers (`started` alone only means the process was spawned).
    pub fn wait_healthy(&self, app: &str, id: &str) {
        self.wait_state(app, id, "started");
        eventually("checks to pass", Duration::from_secs(10), || checks_passing(&self.machine(app, id)));
    }

    /// `127.0.0.1:PORT` serving the machine's internal `port`.
    pub fn endpoint(&self, app: &str, id: &str, port: u16) -> String {
        let response = self.control("GET", &format!("/apps/{app}/machines/{id}/endpoints"), None);
        response.body[port.to_string()].as_str().unwrap_or_else(|| panic!("no endpoint: {:?}", response.body)).to_string()
    }

    /// The machine process's PID, from `ps`.
    pub fn pid_of(&self, app: &str, id: &str) -> u32 {
        let response = self.get(&format!("/v1/apps/{app}/machines/{id}/ps"));
        response.body[0]["pid"].as_u64().unwrap_or_else(|| panic!("no process: {:?}", response.body)) as u32
    }

    pub fn requests(&self) -> Vec<Value> {
        self.control("GET", "/requests", None).body.as_array().cloned().unwrap_or_default()
    }
}

/// Polls `condition` until it holds, failing the test after `timeout`.
pub fn eventually(description: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {description}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A directory of the test's own in the system's temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!("fly-emulator-test-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// A minimal machine config serving `image` on internal port 8080, with an
/// HTTP check every 100 ms.
pub fn web_config(image: &str) -> Value {
    json!({
        "image": image,
        "services": [{
            "protocol": "tcp",
            "internal_port": 8080,
            "ports": [{"port": 80, "handlers": ["http"]}],
            "checks": [{"type": "http", "path": "/", "interval": "100ms", "timeout": "1s"}],
        }],
        "metadata": {"fly_platform_version": "v2", "fly_process_group": "app"},
        "restart": {"policy": "no"},
    })
}

/// Checks of a machine JSON are all passing (and there is at least one).
pub fn checks_passing(machine: &Value) -> bool {
    let checks = machine["checks"].as_array().cloned().unwrap_or_default();
    !checks.is_empty() && checks.iter().all(|c| c["status"] == "passing")
}
