//! A Fly world for deploy tests: the Machines API emulator (whose machines
//! are real local processes serving HTTP), an app checkout, a state store,
//! and `ferry deploy` run against them as CI would run it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ferry_fly_emulator::{FlyEmulator, locate_binary};
use serde_json::{Value, json};

/// The token tests use: a plain one, sent as `Bearer`.
pub const TOKEN: &str = "ferry-test-token";

pub struct FlyWorld {
    pub emulator: FlyEmulator,
    pub checkout: tempfile::TempDir,
    pub state: tempfile::TempDir,
    http: reqwest::blocking::Client,
}

impl FlyWorld {
    /// An emulator with app `app` created and the checkout holding `fly_toml`.
    pub fn start(app: &str, fly_toml: &str) -> Self {
        Self::start_with(app, fly_toml, &ferry_fly_emulator::Options::default())
    }

    /// [`FlyWorld::start`] with the emulator's options (the namespace exec
    /// machines run in).
    pub fn start_with(app: &str, fly_toml: &str, options: &ferry_fly_emulator::Options) -> Self {
        let emulator =
            FlyEmulator::start_with(locate_binary().expect("fly-emulator is built by cargo test --workspace"), options).expect("starting fly-emulator");
        let world = FlyWorld {
            emulator,
            checkout: super::checkout(&[("fly.toml", fly_toml)]),
            state: tempfile::tempdir().unwrap(),
            http: reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().unwrap(),
        };
        world.api("POST", "/v1/apps", Some(json!({"app_name": app, "org_slug": "personal"})));
        world
    }

    /// Whether the API knows the app (`GET /v1/apps/{app}`: 200, or 404).
    pub fn app_exists(&self, app: &str) -> bool {
        let response = self.http.get(format!("{}/v1/apps/{app}", self.emulator.url())).bearer_auth(TOKEN).send().unwrap();
        match response.status().as_u16() {
            200 => true,
            404 => false,
            other => panic!("GET /v1/apps/{app}: {other}"),
        }
    }

    /// The app's volumes as the API lists them.
    pub fn volumes(&self, app: &str) -> Vec<Value> {
        self.api("GET", &format!("/v1/apps/{app}/volumes"), None).as_array().cloned().unwrap_or_default()
    }

    /// The directory holding a volume's bytes (the emulator's data dir).
    pub fn volume_dir(&self, volume: &Value) -> std::path::PathBuf {
        let id = volume["id"].as_str().expect("a volume has an id");
        let answer = self.control("GET", &format!("/_emulator/volumes/{id}"), None);
        std::path::PathBuf::from(answer["path"].as_str().expect("the emulator says where a volume's bytes are"))
    }

    /// Registers an image and how its machines behave (see the emulator's `image.rs`).
    pub fn image(&self, reference: &str, behaviour: Value) -> &Self {
        self.control("POST", "/_emulator/images", Some(json!({"ref": reference, "behaviour": behaviour})));
        self
    }

    /// A healthy image whose machines answer with `body`.
    pub fn healthy(&self, reference: &str, body: &str) -> &Self {
        self.image(reference, json!({"kind": "healthy", "body": body}))
    }

    /// Links a registry started by the test as the one machines pull from
    /// (the emulator's `registry.rs`): its images resolve to their digests.
    pub fn link_registry(&self, registry: &ferry_test_support::registry::Registry) -> &Self {
        let ca_pem = std::fs::read_to_string(registry.ca_file()).unwrap();
        let link = json!({"host": registry.host, "ca_pem": ca_pem, "user": registry.user, "password": registry.password});
        self.control("POST", "/_emulator/registry", Some(link));
        self
    }

    pub fn fault(&self, rule: Value) {
        self.control("POST", "/_emulator/faults", Some(rule));
    }

    /// Every API request the emulator received, oldest first.
    pub fn requests(&self) -> Vec<Value> {
        match self.control("GET", "/_emulator/requests", None) {
            Value::Array(requests) => requests,
            other => panic!("the emulator's request log is not a list: {other}"),
        }
    }

    pub fn clear_requests(&self) {
        self.control("DELETE", "/_emulator/requests", None);
    }

    /// `ferry` with the environment a CI job would give it: the token, the
    /// emulator as every Fly API, a fast health poll, the test's state store.
    pub fn ferry(&self) -> Command {
        let mut cmd = super::ferry(&super::step_cache());
        cmd.envs(self.api_env()).env("FERRY_FLY_POLL", "100ms").env("FERRY_STATE", self.state.path()).env_remove("GITHUB_ACTIONS").env_remove("FLY_APP");
        cmd
    }

    /// The token, and the emulator as every Fly API: what a command needs
    /// to read (or change) the emulated apps.
    pub fn api_env(&self) -> [(&'static str, String); 4] {
        let url = self.emulator.url().to_string();
        [("FLY_API_TOKEN", TOKEN.to_string()), ("FLY_FLAPS_BASE_URL", url.clone()), ("FLY_API_BASE_URL", url.clone()), ("FLY_UIEX_BASE_URL", url)]
    }

    /// `ferry deploy ARGS --dir CHECKOUT`.
    pub fn deploy_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.ferry();
        cmd.arg("deploy").args(args).arg("--dir").arg(self.checkout.path());
        cmd
    }

    pub fn deploy(&self, args: &[&str]) -> (i32, String, String) {
        super::run(&mut self.deploy_cmd(args))
    }

    /// The app's machines as the API lists them (destroyed ones hidden).
    pub fn machines(&self, app: &str) -> Vec<Value> {
        self.api("GET", &format!("/v1/apps/{app}/machines"), None).as_array().cloned().unwrap_or_default()
    }

    /// What machine `id` answers on its service port, called directly.
    pub fn serves(&self, app: &str, id: &str) -> Option<String> {
        let endpoints = self.control("GET", &format!("/_emulator/apps/{app}/machines/{id}/endpoints"), None);
        let address = endpoints.as_object()?.values().next()?.as_str()?.to_string();
        let body = self.http.get(format!("http://{address}/")).send().ok()?.text().ok()?;
        let value: Value = serde_json::from_str(&body).ok()?;
        value.get("body").and_then(Value::as_str).map(str::to_string)
    }

    /// The body every started machine of `app` with a service port serves, sorted.
    pub fn versions(&self, app: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .machines(app)
            .iter()
            .filter(|m| m["state"] == "started" && m["config"]["services"].is_array())
            .map(|m| self.serves(app, m["id"].as_str().unwrap()).unwrap_or_else(|| "unreachable".into()))
            .collect();
        out.sort();
        out
    }

    /// Machine ids of `app`, sorted.
    pub fn machine_ids(&self, app: &str) -> Vec<String> {
        let mut ids: Vec<String> = self.machines(app).iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        ids
    }

    /// Requests whose method and path match (`path` is a suffix check).
    pub fn count_requests(&self, method: &str, path_suffix: &str) -> usize {
        self.requests().iter().filter(|r| r["method"] == method && r["path"].as_str().is_some_and(|p| p.ends_with(path_suffix))).count()
    }

    /// The address of the emulator's proxy for `app` (fly-proxy's role).
    pub fn proxy(&self, app: &str) -> String {
        self.control("GET", &format!("/_emulator/apps/{app}/proxy"), None)["address"].as_str().unwrap().to_string()
    }

    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.send(method, path, body, true)
    }

    /// A control call with a raw body, returning the raw response body.
    pub fn control_raw(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Vec<u8> {
        let mut request = self.http.request(method.parse().unwrap(), format!("{}{path}", self.emulator.url()));
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert!(response.status().is_success(), "{method} {path}: {}", response.status());
        response.bytes().unwrap().to_vec()
    }

    /// The HTTP status of an API call (for calls expected to fail).
    pub fn status(&self, method: &str, path: &str) -> u16 {
        let request = self.http.request(method.parse().unwrap(), format!("{}{path}", self.emulator.url())).bearer_auth(TOKEN);
        request.send().unwrap_or_else(|e| panic!("{method} {path}: {e}")).status().as_u16()
    }

    fn control(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.send(method, path, body, false)
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>, auth: bool) -> Value {
        let url = format!("{}{path}", self.emulator.url());
        let mut request = self.http.request(method.parse().unwrap(), &url);
        if auth {
            request = request.bearer_auth(TOKEN);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let text = response.text().unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }
}
