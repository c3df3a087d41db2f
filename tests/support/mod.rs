//! Shared fixtures: checkouts in temp dirs, the `ferry` binary, runtimes
//! with test components loaded.

#![allow(dead_code, reason = "each test module uses a different part")]

pub mod fly;
pub mod git;
pub mod github;
/// Real servers shared with the provider crates' tests: DNS servers,
/// PostgreSQL clusters, TLS servers, and sshd/Docker/nginx in a network namespace.
pub use ferry_test_support::{acme_server, dns_servers, pg_cluster, tls_servers, vm};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferry_runtime::{Grants, HostContext, Limits, LoadedStep, Runtime, RuntimeConfig};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A bundled example app.
pub fn example(name: &str) -> PathBuf {
    repo().join("examples").join(name)
}

/// A temporary checkout holding `files` (path, contents).
pub fn checkout(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, contents) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, contents).unwrap();
    }
    dir
}

/// One compile cache for the tests that do not test the cache itself: a
/// `ferry` run with an empty one compiles every step again (about 1 s of
/// CPU, against 10 ms warm), hundreds of times per suite. Entries are
/// written to a temporary name and renamed into place, so concurrent runs
/// share it safely; it lives in the target directory, kept between runs.
pub fn step_cache() -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("step-cache")
}

/// The `ferry` binary under test, with its cache in `cache` and no ambient
/// config from the developer's environment.
pub fn ferry(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.env("FERRY_CACHE_DIR", cache).env_remove("FERRY_LOG").env_remove("GITHUB_RUN_ID");
    cmd
}

/// Runs a command and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = cmd.output().expect("running ferry");
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&stdout).into(), String::from_utf8_lossy(&stderr).into())
}

/// Runs `words` as a shell would run the printed line, with the environment
/// (and working directory) of `like`, the command that printed it.
pub fn run_printed(words: &[String], like: &std::process::Command) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(&words[0]);
    cmd.args(&words[1..]);
    for (key, value) in like.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    if let Some(dir) = like.get_current_dir() {
        cmd.current_dir(dir);
    }
    run(&mut cmd)
}

/// The runtime every test shares: each component compiles once per test
/// binary. (Tests of the compile cache make their own.)
pub fn runtime() -> &'static Runtime {
    static SHARED: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    SHARED.get_or_init(|| Runtime::new(RuntimeConfig::default()).expect("runtime"))
}

/// The built-in parse-config step, loaded into the shared runtime.
pub fn parse_config() -> &'static LoadedStep {
    static STEP: std::sync::OnceLock<LoadedStep> = std::sync::OnceLock::new();
    STEP.get_or_init(|| {
        let b = ferry_steps::find("parse-config").unwrap();
        runtime().load(b.name, b.component, Grants::parse(b.grants).unwrap(), Limits::default()).unwrap()
    })
}

/// Loads a test component (see `tests/guests/components`).
pub fn load(rt: &Runtime, name: &str, path: &str, grants: &[&str], limits: Limits) -> LoadedStep {
    rt.load(name, &ferry_test_guests::bytes(path), Grants::parse(grants).unwrap(), limits).unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// A plan request with no app-spec.
pub fn request(params: &[(&str, &str)]) -> ferry_model::PlanRequest {
    ferry_model::PlanRequest {
        run_id: "test".into(),
        phase: "deploy".into(),
        app: None,
        params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    }
}

/// A host context for `dir` with no Fly access.
pub fn host(dir: &Path) -> HostContext {
    HostContext::for_checkout(dir)
}

/// The sha256 of some bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `label.example.test.`, the DNS test zone's names.
pub fn dns_name(label: &str) -> ferry_dns::Name {
    ferry_dns::Name::new(&format!("{label}.{}", dns_servers::ZONE)).unwrap()
}
