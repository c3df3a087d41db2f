//! `cargo bench --bench deploy`: how close a rolling `ferry deploy` of 30
//! machines comes to the time the machines themselves need.
//!
//! Against the Fly Machines API emulator, an app with 10 machines in each of
//! 3 process groups (`web` and `api` behind HTTP checks, `worker` without).
//! Every machine takes the same time from update to healthy: its image
//! listens after `START_DELAY_MS` and its check runs every second. That time
//! is measured on a lone machine through the API; a perfect rolling deploy
//! takes one such time per batch of the plan, and the wall time of the whole
//! `ferry deploy` process is compared with that. `--strategy immediate`
//! (one batch, no health wait) is the floor: everything but the health waits.
//!
//! Prints a Markdown table for BENCHMARKS.md.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_fly_emulator::{FlyEmulator, locate_binary};
use serde_json::{Value, json};

const APP: &str = "bench";
const IMAGES: [&str; 2] = ["registry.fly.io/bench:v1", "registry.fly.io/bench:v2"];
const PER_GROUP: usize = 10;
const RUNS: usize = 5;
/// ferry's health poll (`FERRY_FLY_POLL`): a batch is seen healthy up to this late.
const POLL: &str = "100ms";
/// 1.5 s, not 1 s: the check runs at the start and every 1 s after, so a
/// 1 s delay races its second run and a machine is healthy after either 1 s
/// or 2 s. At 1.5 s it is always the third run, 2 s after the start.
const START_DELAY_MS: u64 = 1500;

/// Three groups; `worker` has no service, so it only has to start.
const FLY_TOML: &str = r#"
app = "bench"
primary_region = "ams"

[processes]
  web = "serve"
  api = "api"
  worker = "work"

[http_service]
  internal_port = 8080
  processes = ["web"]

  [[http_service.checks]]
    interval = "1s"
    timeout = "1s"
    path = "/healthz"

[[services]]
  internal_port = 9090
  protocol = "tcp"
  processes = ["api"]

  [[services.ports]]
    port = 9090
    handlers = ["http"]

  [[services.http_checks]]
    interval = "1s"
    timeout = "1s"
    path = "/healthz"
"#;

fn main() {
    let emulator = FlyEmulator::start(locate_binary().expect("cargo build --release -p ferry-fly-emulator first")).expect("starting fly-emulator");
    let fly = Fly { url: emulator.url().to_string(), http: reqwest::blocking::Client::new() };
    for (image, body) in IMAGES.iter().zip(["v1", "v2"]) {
        let behaviour = json!({"kind": "healthy", "body": body, "start_delay_ms": START_DELAY_MS});
        fly.call("POST", "/_emulator/images", Some(json!({"ref": image, "behaviour": behaviour})));
    }
    let (checkout, state, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(checkout.path().join("fly.toml"), FLY_TOML).unwrap();
    let ferry = Ferry { url: &fly.url, checkout: checkout.path(), state: state.path(), cache: cache.path() };

    // The first deploy creates 2 web, 2 api (flyctl's HA rule) and 1 worker
    // machine; the rest are created through the API with the same configs.
    fly.call("POST", "/v1/apps", Some(json!({"app_name": APP, "org_slug": "personal"})));
    ferry.deploy(&["--image", IMAGES[0]]);
    for group in ["web", "api", "worker"] {
        let machines: Vec<Value> = fly.machines(APP).into_iter().filter(|m| m["config"]["metadata"]["fly_process_group"] == group).collect();
        let body = json!({"config": machines[0]["config"], "region": machines[0]["region"]});
        for _ in machines.len()..PER_GROUP {
            fly.call("POST", &format!("/v1/apps/{APP}/machines"), Some(body.clone()));
        }
    }
    fly.settle(IMAGES[0], 3 * PER_GROUP);

    let web = fly.machines(APP).into_iter().find(|m| m["config"]["metadata"]["fly_process_group"] == "web").unwrap();
    let one = fly.one_machine_update(&web["config"]);
    // Each run deploys the image the machines do not run, so every machine changes every time.
    let mut current = 0;
    let mut measure = |strategy: &str| {
        let plan = ferry.deploy(&["--image", IMAGES[1 - current], "--strategy", strategy, "--plan-only", "--format", "json"]);
        let plan: Value = serde_json::from_slice(&plan.stdout).unwrap();
        let actions = plan["plan"]["steps"].as_array().unwrap().iter().flat_map(|s| s["actions"].as_array().unwrap());
        let batches = actions.filter(|a| a["operation"]["Fly"]["UpdateMachines"].is_object()).count();
        let mut batch_times = Vec::new();
        let walls = (0..RUNS)
            .map(|_| {
                current = 1 - current;
                let t = Instant::now();
                let out = ferry.deploy(&["--image", IMAGES[current], "--strategy", strategy]);
                let wall = t.elapsed();
                batch_times.extend(done_times(&String::from_utf8_lossy(&out.stderr)));
                fly.settle(IMAGES[current], 3 * PER_GROUP);
                wall
            })
            .collect();
        (batches, stats(walls), stats(batch_times))
    };
    let (batches, rolling, batch) = measure("rolling");
    let (immediate_batches, immediate, _) = measure("immediate");
    drop(emulator);

    let ideal = one.0 * batches as u32;
    println!("| measurement ({} machines, 3 groups, `FERRY_FLY_POLL={POLL}`) | batches | median | slowest | ratio |", 3 * PER_GROUP);
    println!("|---|---|---|---|---|");
    println!("| one machine, update → healthy (through the API, 10 ms polling) | 1 | {} | {} | 1 |", secs(one.0), secs(one.1));
    println!("| ideal rolling deploy: batches × one machine | {batches} | {} | | 1 |", secs(ideal));
    println!("| `ferry deploy` (rolling), whole process | {batches} | {} | {} | {:.2}x ideal |", secs(rolling.0), secs(rolling.1), ratio(rolling.0, ideal));
    println!("| one rolling batch, from ferry's `done:` log lines | 1 | {} | {} | {:.2}x one machine |", secs(batch.0), secs(batch.1), ratio(batch.0, one.0));
    println!(
        "| `ferry deploy --strategy immediate` (floor: no health wait) | {immediate_batches} | {} | {} | {:.2}x ideal |",
        secs(immediate.0),
        secs(immediate.1),
        ratio(immediate.0, ideal)
    );
}

/// The emulator's API (the control API under `/_emulator` ignores the token).
struct Fly {
    url: String,
    http: reqwest::blocking::Client,
}

impl Fly {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method.parse().unwrap(), format!("{}{path}", self.url)).bearer_auth("bench");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().unwrap();
        assert!(response.status().is_success(), "{method} {path}: {}", response.status());
        response.json().unwrap_or(Value::Null)
    }

    fn machines(&self, app: &str) -> Vec<Value> {
        self.call("GET", &format!("/v1/apps/{app}/machines"), None).as_array().unwrap().clone()
    }

    /// Waits until `count` machines run `image` and pass their checks, so
    /// every run starts from a steady app (`immediate` returns before that).
    fn settle(&self, image: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.machines(APP).iter().filter(|m| m["config"]["image"] == image && healthy(m)).count() != count {
            assert!(Instant::now() < deadline, "{count} machines did not all become healthy on {image}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// (median, slowest) time from `POST update` to healthy of a lone machine
    /// in its own app, polled every 10 ms: what one batch needs at the least.
    fn one_machine_update(&self, config: &Value) -> (Duration, Duration) {
        self.call("POST", "/v1/apps", Some(json!({"app_name": "solo", "org_slug": "personal"})));
        let id = self.call("POST", "/v1/apps/solo/machines", Some(json!({"config": config, "region": "ams"})))["id"].as_str().unwrap().to_string();
        let times = (0..RUNS)
            .map(|run| {
                let mut config = config.clone();
                config["image"] = json!(IMAGES[(run + 1) % 2]);
                let t = Instant::now();
                self.call("POST", &format!("/v1/apps/solo/machines/{id}"), Some(json!({"config": config})));
                while !healthy(&self.call("GET", &format!("/v1/apps/solo/machines/{id}"), None)) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                t.elapsed()
            })
            .collect();
        stats(times)
    }
}

/// Started with every check passing (an update resets them to critical).
fn healthy(machine: &Value) -> bool {
    machine["state"] == "started" && machine["checks"].as_array().is_none_or(|c| c.iter().all(|c| c["status"] == "passing"))
}

/// `target/release/ferry` pointed at the emulator, as CI would run it.
struct Ferry<'a> {
    url: &'a str,
    checkout: &'a Path,
    state: &'a Path,
    cache: &'a Path,
}

impl Ferry<'_> {
    fn deploy(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/ferry"))
            .arg("deploy")
            .args(args)
            .arg("--dir")
            .arg(self.checkout)
            .env("FLY_API_TOKEN", "bench")
            .env("FLY_FLAPS_BASE_URL", self.url)
            .env("FLY_API_BASE_URL", self.url)
            .env("FLY_UIEX_BASE_URL", self.url)
            .env("FERRY_FLY_POLL", POLL)
            .env("FERRY_STATE", self.state)
            .env("FERRY_CACHE_DIR", self.cache)
            .env("FERRY_LOG", "info")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("FLY_APP")
            .output()
            .expect("run target/release/ferry (cargo build --release first)");
        assert!(out.status.success(), "ferry deploy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }
}

/// Each action's time from ferry's `INFO done: <summary> (N ms)` lines.
fn done_times(log: &str) -> Vec<Duration> {
    log.lines()
        .filter(|l| l.contains("INFO done: update "))
        .filter_map(|l| l.rsplit_once(" (")?.1.strip_suffix(" ms)")?.parse().ok())
        .map(Duration::from_millis)
        .collect()
}

/// (median, slowest).
fn stats(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
