//! `cargo bench --bench vm`: `ferry deploy --target vm` on a "VM" (sshd,
//! dockerd and nginx in a network namespace; see
//! host/test-support/src/vm.rs), with a request loop running in
//! a client namespace throughout.
//!
//! - Deploy time of an unchanged image (the host's build cache answers)
//!   against a changed one (a new layer), each the median of `FERRY_BENCH_VM_RUNS`
//!   (default 3) deploys.
//! - The switch window as the loop sees it: the longest time between two
//!   consecutive successful answers while a release is switched, and the
//!   failed requests, for ferry's deploy and for the obvious alternative,
//!   `docker stop` of the old container then `docker run` of the new one on
//!   the same port, measured by the same loop in the same run.
//!
//! Prints Markdown tables for BENCHMARKS.md.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_test_support::vm::{BASE_IMAGE, Client, Vm};

const FLY_TOML: &str = "app = \"shop\"\nkill_timeout = \"2s\"\n\n[http_service]\n  internal_port = 8080\n\n  [[http_service.checks]]\n    path = \"/\"\n";

fn main() {
    let runs: usize = std::env::var("FERRY_BENCH_VM_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let world = World::start();
    world.ferry(&["--provision"]);
    world.write_body("v0");
    world.ferry(&[]);

    let unchanged = median((0..runs).map(|_| world.timed_deploy()).collect());
    let changed = median(
        (0..runs)
            .map(|i| {
                world.write_body(&format!("v{}", i + 1));
                world.timed_deploy()
            })
            .collect(),
    );

    world.write_body("switch");
    let ferry = world.observe(|| {
        world.ferry(&[]);
    });
    let naive = world.observe(|| world.stop_then_start());

    println!("| deploy to a VM (median of {runs}) | time | ratio |");
    println!("|---|---|---|");
    println!("| unchanged image (build cache) | {:.2} s | 1.00 |", unchanged.as_secs_f64());
    println!("| changed image (a new layer) | {:.2} s | {:.2} |", changed.as_secs_f64(), changed.as_secs_f64() / unchanged.as_secs_f64());
    println!();
    println!("| switch, seen by a request loop | requests | failed | longest gap between answers | median gap | ratio (longest gap) |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| `docker stop` old, then `docker run` new | {} | {} | {:.0} ms | {:.0} ms | 1.00 |",
        naive.total, naive.failed, naive.longest_ms, naive.median_ms
    );
    println!(
        "| ferry: health-gated beside the old, nginx reload | {} | {} | {:.0} ms | {:.0} ms | {:.2} |",
        ferry.total,
        ferry.failed,
        ferry.longest_ms,
        ferry.median_ms,
        ferry.longest_ms / naive.longest_ms
    );
}

struct World {
    vm: Vm,
    client: Client,
    checkout: tempfile::TempDir,
    cache: tempfile::TempDir,
    state: tempfile::TempDir,
}

/// What the loop saw over one switch.
struct Window {
    total: usize,
    failed: usize,
    longest_ms: f64,
    median_ms: f64,
}

impl World {
    fn start() -> World {
        let vm = Vm::start_with_docker_and_nginx();
        let client = Client::connect(&vm);
        let checkout = tempfile::tempdir().unwrap();
        std::fs::write(checkout.path().join("fly.toml"), FLY_TOML).unwrap();
        let workflow = format!("[[steps]]\nname = \"parse-config\"\n\n{}", vm.ferry_target("bench"));
        std::fs::write(checkout.path().join("ferry.toml"), workflow).unwrap();
        World { vm, client, checkout, cache: tempfile::tempdir().unwrap(), state: tempfile::tempdir().unwrap() }
    }

    fn write_body(&self, body: &str) {
        let dockerfile =
            format!("FROM {BASE_IMAGE}\nRUN mkdir -p /www && echo {body} > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n");
        std::fs::write(self.checkout.path().join("Dockerfile"), dockerfile).unwrap();
    }

    fn ferry(&self, args: &[&str]) {
        // FERRY_BENCH_BIN compares another build (e.g. an older commit's) in the same world.
        let bin = std::env::var_os("FERRY_BENCH_BIN").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/ferry"), Into::into);
        let out = Command::new(bin)
            .args(["deploy", "--target", "vm"])
            .args(args)
            .arg("--dir")
            .arg(self.checkout.path())
            .env("FERRY_STATE", self.state.path())
            .env("FERRY_CACHE_DIR", self.cache.path())
            .envs(self.vm.ferry_env())
            .env_remove("FLY_API_TOKEN")
            .output()
            .expect("run target/release/ferry (cargo build --release first)");
        assert!(out.status.success(), "ferry deploy --target vm {args:?}:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }

    fn timed_deploy(&self) -> Duration {
        let started = Instant::now();
        self.ferry(&[]);
        started.elapsed()
    }

    /// Runs `switch` with the loop going, from 1 s before to 1 s after.
    fn observe(&self, switch: impl FnOnce()) -> Window {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut looping = self.start_loop(&log);
        std::thread::sleep(Duration::from_secs(1));
        switch();
        std::thread::sleep(Duration::from_secs(1));
        let _ = Command::new("kill").args(["--", &format!("-{}", looping.id())]).output();
        let _ = looping.wait();
        window(&std::fs::read_to_string(&log).unwrap_or_default())
    }

    /// One line per request: start ns, end ns, status.
    fn start_loop(&self, log: &Path) -> Child {
        let url = format!("http://{}/", self.client.vm_addr());
        let script = format!(
            "while :; do s=$(date +%s%N); c=$(curl -s -m 5 -o /dev/null -w '%{{http_code}}' {url}); e=$(date +%s%N); echo \"$s $e $c\" >> {}; done",
            log.display()
        );
        use std::os::unix::process::CommandExt;
        Command::new("ip")
            .args(["netns", "exec", self.client.netns(), "sh", "-c", &script])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("request loop")
    }

    /// The naive deploy: stop the serving container, start the new image
    /// on the same port (nginx keeps pointing there).
    fn stop_then_start(&self) {
        let listing = self.vm.docker().args(["ps", "--filter", "label=ferry.app=shop", "--format", "{{.Names}} {{.Image}} {{.Ports}}"]).output().unwrap();
        let line = String::from_utf8_lossy(&listing.stdout).lines().next().expect("a serving container").to_string();
        let mut words = line.split_whitespace();
        let (name, image, ports) = (words.next().unwrap().to_string(), words.next().unwrap().to_string(), words.next().unwrap().to_string());
        let port = ports.split("->").next().unwrap().rsplit(':').next().unwrap().to_string();
        let docker = |args: &[&str]| assert!(self.vm.docker().args(args).output().unwrap().status.success(), "docker {args:?}");
        docker(&["stop", "-t", "2", &name]);
        docker(&["run", "-d", "--name", "naive", "-p", &format!("127.0.0.1:{port}:8080"), &image]);
    }
}

fn window(log: &str) -> Window {
    let mut ok_ends: Vec<f64> = Vec::new();
    let (mut total, mut failed) = (0, 0);
    for line in log.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, end, code] = fields[..] else { continue };
        total += 1;
        if code == "200" {
            ok_ends.push(end.parse::<f64>().unwrap_or(0.0) / 1e6);
        } else {
            failed += 1;
        }
    }
    let mut gaps: Vec<f64> = ok_ends.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_by(f64::total_cmp);
    Window { total, failed, longest_ms: gaps.last().copied().unwrap_or(0.0), median_ms: gaps.get(gaps.len() / 2).copied().unwrap_or(0.0) }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}
