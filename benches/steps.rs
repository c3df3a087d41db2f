//! `cargo bench --bench steps`: the sandbox's costs, measured in one run.
//!
//! - a step call warm (compiled component cached, a fresh store per call)
//!   vs. cold (compiling the component first);
//! - `ferry plan` on the bundled example with a warm cache vs. `ferry
//!   --version` (the bare cost of starting the process);
//! - the first `ferry plan` on a fresh machine (empty cache), with the steps
//!   precompiled into the binary and without, against a warm one, with the
//!   peak RSS of each;
//! - `ferry inventory` on a 1,000-line fly.toml vs. a bare TOML parse of the
//!   same file with Python's `tomllib` (what a script would do).
//!
//! Prints a Markdown table for BENCHMARKS.md.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_model::PlanRequest;
use ferry_runtime::{Grants, HostContext, Limits, Runtime, RuntimeConfig};

fn main() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/hello-fly");
    let step = ferry_steps::find("parse-config").expect("built-in parse-config");
    let grants = || Grants::parse(step.grants).unwrap();
    let host = HostContext::for_checkout(&example);
    let request = PlanRequest { run_id: "bench".into(), phase: "deploy".into(), app: None, params: vec![] };

    // Cold: a new runtime without a cache compiles the component, then calls it.
    let cold = sample(5, || {
        let rt = Runtime::new(RuntimeConfig::default()).unwrap();
        let loaded = rt.load(step.name, step.component, grants(), Limits::default()).unwrap();
        rt.plan(&loaded, &host, &request).unwrap().unwrap();
    });

    // Warm from disk: a new runtime maps the component from the compile cache.
    let cache = tempfile::tempdir().unwrap();
    let config = RuntimeConfig { cache_dir: Some(cache.path().join("cache")), cache_key_file: Some(cache.path().join("key")), ..Default::default() };
    Runtime::new(config.clone()).unwrap().load(step.name, step.component, grants(), Limits::default()).unwrap();
    let disk = sample(20, || {
        let rt = Runtime::new(config.clone()).unwrap();
        let loaded = rt.load(step.name, step.component, grants(), Limits::default()).unwrap();
        rt.plan(&loaded, &host, &request).unwrap().unwrap();
    });

    // Warm call: the loaded step called again; every call gets a fresh store.
    let rt = Runtime::new(RuntimeConfig::default()).unwrap();
    let loaded = rt.load(step.name, step.component, grants(), Limits::default()).unwrap();
    let warm = sample(2000, || {
        rt.plan(&loaded, &host, &request).unwrap().unwrap();
    });

    // The whole CLI, warm cache, vs. starting the process and exiting.
    let ferry = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/ferry");
    let run = |args: &[&str]| {
        let status = Command::new(&ferry)
            .args(args)
            .env("FERRY_CACHE_DIR", cache.path())
            .env("FERRY_LOG", "error")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run target/release/ferry (cargo build --release first)");
        assert!(status.success());
    };
    let plan_args = ["plan", "--format", "json", "--dir", example.to_str().unwrap()];
    run(&plan_args);
    let plan = sample(50, || run(&plan_args));
    let version = sample(50, || run(&["--version"]));

    // The first plan on a fresh machine (an empty compile cache, as in every
    // new CI job): the plain build compiles each step; the release build
    // carries them precompiled (`ferry steps precompile`).
    let release = tempfile::tempdir().unwrap();
    let precompiled = release.path().join("ferry");
    let status = Command::new(&ferry).args(["steps", "precompile", "--out"]).arg(&precompiled).stdout(std::process::Stdio::null()).status().unwrap();
    assert!(status.success());
    let first_plan = |binary: &Path| {
        let fresh = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(binary);
        cmd.args(plan_args).env("FERRY_CACHE_DIR", fresh.path().join("cache")).env("XDG_CONFIG_HOME", fresh.path().join("config"));
        cmd.env("FERRY_LOG", "error").stdout(std::process::Stdio::null());
        cmd
    };
    let cold_plain = sample(5, || assert!(first_plan(&ferry).status().unwrap().success()));
    let cold_precompiled = sample(20, || assert!(first_plan(&precompiled).status().unwrap().success()));
    let mut warm_plan = Command::new(&ferry);
    warm_plan.args(plan_args).env("FERRY_CACHE_DIR", cache.path()).env("FERRY_LOG", "error");
    let rss_plain = peak_rss_kib(first_plan(&ferry));
    let rss_precompiled = peak_rss_kib(first_plan(&precompiled));
    let rss_warm = peak_rss_kib(warm_plan);

    // `ferry inventory` on a 1,000-line fly.toml vs. a bare TOML parse of it in Python.
    let big = tempfile::tempdir().unwrap();
    let lines = write_big_fly_toml(big.path());
    let big_dir = big.path().to_str().unwrap();
    let inventory_args = ["inventory", "--format", "json", "--dir", big_dir];
    run(&inventory_args);
    let inventory = sample(30, || run(&inventory_args));
    // The interpreter itself, not a version-manager shim in front of it.
    let python_bin = Command::new("python3").args(["-c", "import sys; print(sys.executable)"]).output().expect("python3");
    let python_bin = String::from_utf8(python_bin.stdout).unwrap().trim().to_string();
    let python = sample(30, || {
        let status = Command::new(&python_bin)
            .args(["-c", "import sys, tomllib; tomllib.load(open(sys.argv[1], 'rb'))", &format!("{big_dir}/fly.toml")])
            .status()
            .expect("python3");
        assert!(status.success());
    });
    let big_host = HostContext::for_checkout(big.path());
    let big_call = sample(200, || {
        rt.plan(&loaded, &big_host, &request).unwrap().unwrap();
    });

    println!("| measurement | median | p90 | ratio |");
    println!("|---|---|---|---|");
    println!("| parse-config call, warm (fresh store, compiled code in memory) | {} | {} | 1 |", ms(warm.0), ms(warm.1));
    println!("| parse-config load + call, compile cache on disk | {} | {} | {:.0}x warm |", ms(disk.0), ms(disk.1), ratio(disk.0, warm.0));
    println!("| parse-config compile + call, cold (no cache) | {} | {} | {:.0}x warm |", ms(cold.0), ms(cold.1), ratio(cold.0, warm.0));
    println!("| `ferry --version` (process start) | {} | {} | 1 |", ms(version.0), ms(version.1));
    println!("| `ferry plan` on examples/hello-fly, warm cache | {} | {} | {:.1}x process start |", ms(plan.0), ms(plan.1), ratio(plan.0, version.0));
    println!();
    println!("| first `ferry plan` on examples/hello-fly | median | p90 | ratio | peak RSS |");
    println!("|---|---|---|---|---|");
    println!("| warm cache (every later run) | {} | {} | 1 | {:.1} MiB |", ms(plan.0), ms(plan.1), mib(rss_warm));
    println!(
        "| empty cache, release build (steps precompiled) | {} | {} | {:.1}x warm | {:.1} MiB |",
        ms(cold_precompiled.0),
        ms(cold_precompiled.1),
        ratio(cold_precompiled.0, plan.0),
        mib(rss_precompiled)
    );
    println!(
        "| empty cache, plain `cargo build` (steps compiled) | {} | {} | {:.1}x warm | {:.1} MiB |",
        ms(cold_plain.0),
        ms(cold_plain.1),
        ratio(cold_plain.0, plan.0),
        mib(rss_plain)
    );
    println!();
    println!("| measurement ({lines}-line fly.toml) | median | p90 | ratio |");
    println!("|---|---|---|---|");
    println!("| `python3 -c 'tomllib.load(…)'` (parse only) | {} | {} | 1 |", ms(python.0), ms(python.1));
    println!("| `ferry inventory --format json`, warm cache | {} | {} | {:.2}x python |", ms(inventory.0), ms(inventory.1), ratio(inventory.0, python.0));
    println!("| parse-config call alone (in process) | {} | {} | {:.2}x python |", ms(big_call.0), ms(big_call.1), ratio(big_call.0, python.0));
}

/// A realistic, long fly.toml: an SSH bastion style app with a service per
/// port, each with checks, plus the usual sections. Returns its line count.
fn write_big_fly_toml(dir: &Path) -> usize {
    let mut toml = String::from(
        "app = \"bastion\"\nprimary_region = \"ams\"\nkill_signal = \"SIGTERM\"\nkill_timeout = \"30s\"\n\n[build]\n  dockerfile = \"Dockerfile\"\n\n[env]\n  LOG_LEVEL = \"info\"\n\n[[mounts]]\n  source = \"keys\"\n  destination = \"/keys\"\n\n[[vm]]\n  size = \"shared-cpu-2x\"\n",
    );
    let mut port = 10_000;
    while toml.lines().count() < 1000 {
        toml.push_str(&format!(
            "\n# tunnel {port}\n[[services]]\n  internal_port = {port}\n  protocol = \"tcp\"\n  [[services.ports]]\n    port = {port}\n  [[services.tcp_checks]]\n    interval = \"15s\"\n    timeout = \"2s\"\n",
        ));
        port += 1;
    }
    std::fs::write(dir.join("fly.toml"), &toml).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM alpine:3.20\nEXPOSE 10000-10200\nCMD [\"/bastion\"]\n").unwrap();
    toml.lines().count()
}

/// The peak resident set of `cmd` run once, in KiB: Python's
/// `getrusage(RUSAGE_CHILDREN)` after waiting for it, the one child.
fn peak_rss_kib(cmd: Command) -> u64 {
    let mut args = vec![cmd.get_program().to_os_string()];
    args.extend(cmd.get_args().map(|a| a.to_os_string()));
    let mut wrapper = Command::new("python3");
    wrapper.args(["-c", "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"]);
    wrapper.args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapper.env(k, v),
            None => wrapper.env_remove(k),
        };
    }
    let out = wrapper.output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// (median, p90) of `n` runs.
fn sample(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[n / 2], times[(n * 9) / 10])
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}
