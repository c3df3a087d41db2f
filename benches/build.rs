//! `cargo bench --bench build`: `ferry deploy` from source, against a real
//! registry (Debian's docker-registry, TLS and htpasswd) and the Fly
//! emulator pulling from it.
//!
//! - Build and push: `ferry deploy --build-only --push` against the same
//!   build and push by hand (`buildah bud` then `buildah push`, the engine
//!   ferry picks on this machine, which has no Docker daemon outside a
//!   network namespace), each from an empty image store, alternating, the
//!   median of `FERRY_BENCH_BUILD_RUNS` (default 7).
//! - A whole deploy from source on a new app, then the same checkout
//!   deployed again (cached layers, the same digest, no machine replaced).
//!
//! The app: a `FROM scratch` image of three files (24 MB of random bytes,
//! so the push moves real data) and no `RUN`, so buildah runs no container.
//! Prints Markdown tables for BENCHMARKS.md.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_fly_emulator::{FlyEmulator, locate_binary};
use ferry_test_support::buildah::Store;
use ferry_test_support::registry::Registry;
use serde_json::json;

const TOKEN: &str = "ferry-bench-token";
const FLY_TOML: &str = "app = \"shop\"\nprimary_region = \"ams\"\n\n[http_service]\n  internal_port = 8080\n";
const DOCKERFILE: &str = "FROM scratch\nCOPY assets/ /srv/assets/\nCOPY index.html /srv/index.html\n";

fn main() {
    let runs: usize = std::env::var("FERRY_BENCH_BUILD_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(7);
    let registry = Registry::start("x", TOKEN);
    let emulator = FlyEmulator::start(locate_binary().expect("cargo build --release -p ferry-fly-emulator first")).expect("starting fly-emulator");
    let http = reqwest::blocking::Client::new();
    let call = |path: &str, body: serde_json::Value| {
        let response = http.post(format!("{}{path}", emulator.url())).bearer_auth(TOKEN).json(&body).send().unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
    };
    let ca_pem = std::fs::read_to_string(registry.ca_file()).unwrap();
    call("/_emulator/registry", json!({"host": registry.host, "ca_pem": ca_pem, "user": "x", "password": TOKEN}));
    call("/v1/apps", json!({"app_name": "shop", "org_slug": "personal"}));

    let checkout = tempfile::tempdir().unwrap();
    write_app(checkout.path());
    let bench = Bench { registry: &registry, emulator: emulator.url(), checkout: checkout.path(), state: tempfile::tempdir().unwrap() };

    let (mut by_hand, mut ferry) = (Vec::new(), Vec::new());
    for run in 0..runs {
        by_hand.push(bench.by_hand(run));
        ferry.push(bench.ferry_build_push());
    }
    let (by_hand, ferry) = (median(by_hand), median(ferry));

    let store = Store::new();
    let first = bench.timed(&store, &[]);
    let again = median((0..runs).map(|_| bench.timed(&store, &[])).collect());

    let docker = docker_build_push(&emulator, runs);

    println!("| build and push (median of {runs}, empty image store each) | time | ratio |");
    println!("|---|---|---|");
    println!("| `buildah bud` then `buildah push`, by hand | {:.2} s | 1.00 |", by_hand.as_secs_f64());
    println!("| `ferry deploy --build-only --push` | {:.2} s | {:.2} |", ferry.as_secs_f64(), ferry.as_secs_f64() / by_hand.as_secs_f64());
    println!();
    println!("| build and push with Docker (median of {runs}, new bytes each run, `--no-cache` on both) | time | ratio |");
    println!("|---|---|---|");
    println!("| `docker build` then `docker push`, by hand | {:.2} s | 1.00 |", docker.0.as_secs_f64());
    println!("| `ferry deploy --build-only --push --no-cache` | {:.2} s | {:.2} |", docker.1.as_secs_f64(), docker.1.as_secs_f64() / docker.0.as_secs_f64());
    println!();
    println!("| `ferry deploy` from source | time | ratio |");
    println!("|---|---|---|");
    println!("| first deploy (build, push, 2 machines created) | {:.2} s | 1.00 |", first.as_secs_f64());
    println!(
        "| same checkout again (median of {runs}; nothing pushed anew, no machine replaced) | {:.2} s | {:.2} |",
        again.as_secs_f64(),
        again.as_secs_f64() / first.as_secs_f64()
    );
}

/// The same app built and pushed with a real Docker engine (dockerd in a
/// VM's namespace, the registry beside it, as the tests run them): by hand,
/// then by ferry, alternating; each run writes new random bytes first, so
/// both push a new 16 MB layer. The medians (by hand, ferry).
fn docker_build_push(emulator: &FlyEmulator, runs: usize) -> (Duration, Duration) {
    let vm = ferry_test_support::vm::Vm::start_with_docker();
    let registry = Registry::start_in(vm.netns(), vm.addr(), "x", TOKEN);
    let ca_pem = std::fs::read_to_string(registry.ca_file()).unwrap();
    let response = reqwest::blocking::Client::new()
        .post(format!("{}/_emulator/registry", emulator.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"host": registry.host, "ca_pem": ca_pem, "user": "x", "password": TOKEN}))
        .send()
        .unwrap();
    assert!(response.status().is_success());
    let checkout = tempfile::tempdir().unwrap();
    write_app(checkout.path());
    let bench = Bench { registry: &registry, emulator: emulator.url(), checkout: checkout.path(), state: tempfile::tempdir().unwrap() };
    let auth = tempfile::tempdir().unwrap();
    let config = json!({"auths": {&registry.host: {"auth": base64(&format!("x:{TOKEN}"))}}});
    std::fs::write(auth.path().join("config.json"), config.to_string()).unwrap();
    let new_bytes = || {
        let mut bytes = vec![0u8; 16 << 20];
        getrandom::fill(&mut bytes).unwrap();
        std::fs::write(checkout.path().join("assets/blob-0.bin"), bytes).unwrap();
    };
    let docker = |args: &[&str]| {
        let out = vm.docker().arg("--config").arg(auth.path()).args(args).env("DOCKER_BUILDKIT", "0").output().unwrap();
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let (mut by_hand, mut ferry) = (Vec::new(), Vec::new());
    for run in 0..runs {
        new_bytes();
        let tag = format!("{}/shop:by-hand-{run}", registry.host);
        let started = Instant::now();
        docker(&["build", "--no-cache", "--platform", "linux/amd64", "-t", &tag, &checkout.path().display().to_string()]);
        docker(&["push", &tag]);
        by_hand.push(started.elapsed());
        new_bytes();
        ferry.push(bench.timed_with(&[("DOCKER_HOST", vm.docker_host())], &["--build-only", "--push", "--no-cache"]));
    }
    (median(by_hand), median(ferry))
}

/// Three files of random bytes and a page.
fn write_app(dir: &Path) {
    std::fs::write(dir.join("fly.toml"), FLY_TOML).unwrap();
    std::fs::write(dir.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>shop</h1>\n").unwrap();
    std::fs::create_dir(dir.join("assets")).unwrap();
    for (i, megabytes) in [16, 6, 2].into_iter().enumerate() {
        let mut bytes = vec![0u8; megabytes << 20];
        getrandom::fill(&mut bytes).unwrap();
        std::fs::write(dir.join(format!("assets/blob-{i}.bin")), bytes).unwrap();
    }
}

struct Bench<'a> {
    registry: &'a Registry,
    emulator: &'a str,
    checkout: &'a Path,
    state: tempfile::TempDir,
}

impl Bench<'_> {
    /// The obvious alternative: the same build and push typed by hand.
    fn by_hand(&self, run: usize) -> Duration {
        let store = Store::new();
        let tag = format!("{}/shop:by-hand-{run}", self.registry.host);
        let auth = tempfile::tempdir().unwrap();
        let config = json!({"auths": {&self.registry.host: {"auth": base64(&format!("x:{TOKEN}"))}}});
        std::fs::write(auth.path().join("config.json"), config.to_string()).unwrap();
        let (var, conf) = store.env();
        let started = Instant::now();
        let build = Command::new("buildah")
            .args(["bud", "--layers", "--format", "docker", "--platform", "linux/amd64", "-t", &tag])
            .arg(self.checkout)
            .env(var, &conf)
            .output()
            .unwrap();
        assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
        let push = Command::new("buildah")
            .args(["push", "--authfile"])
            .arg(auth.path().join("config.json"))
            .arg("--cert-dir")
            .arg(self.registry.cert_dir())
            .args([&tag, &format!("docker://{tag}")])
            .env(var, &conf)
            .output()
            .unwrap();
        assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
        started.elapsed()
    }

    fn ferry_build_push(&self) -> Duration {
        self.timed(&Store::new(), &["--build-only", "--push"])
    }

    /// `ferry deploy ARGS` with `store`, timed.
    fn timed(&self, store: &Store, args: &[&str]) -> Duration {
        let (var, conf) = store.env();
        self.timed_with(&[(var, conf.display().to_string())], args)
    }

    /// `ferry deploy ARGS` with `env` added, timed.
    fn timed_with(&self, env: &[(&str, String)], args: &[&str]) -> Duration {
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-build-cache");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
        command
            .arg("deploy")
            .args(args)
            .arg("--dir")
            .arg(self.checkout)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("FLY_REGISTRY_HOST", &self.registry.host)
            .env("SSL_CERT_FILE", self.registry.ca_file())
            .env("FLY_API_TOKEN", TOKEN)
            .env("FLY_FLAPS_BASE_URL", self.emulator)
            .env("FLY_API_BASE_URL", self.emulator)
            .env("FLY_UIEX_BASE_URL", self.emulator)
            .env("FERRY_FLY_POLL", "100ms")
            .env("FERRY_STATE", self.state.path())
            .env("FERRY_CACHE_DIR", cache)
            .env_remove("GITHUB_ACTIONS");
        let started = Instant::now();
        let out = command.output().unwrap();
        let elapsed = started.elapsed();
        assert!(out.status.success(), "ferry deploy {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        elapsed
    }
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
