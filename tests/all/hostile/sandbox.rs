//! Sandbox limits that hold per step, not per memory; component files and compiled caches that cannot be swapped.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferry_runtime::{CompiledFrom, Grants, Limits, Runtime, RuntimeConfig, RuntimeError};
use ferry_test_guests as guests;

use crate::support::{checkout, ferry, host, request, run, runtime, sha256_hex};

// ---------------------------------------------------------------------------
// Memory is capped per step, however many memories and instances it has.

fn load_wrapped(rt: &Runtime, name: &str, path: &str, limits: Limits) -> Result<ferry_runtime::LoadedStep, RuntimeError> {
    rt.load(name, &guests::bytes(path), Grants::parse(&["log"]).unwrap(), limits)
}

#[test]
fn memory_spread_over_core_instances_is_capped_as_one_total() {
    let rt = runtime();
    let co = checkout(&[]);
    // Three 100 MiB memories beside a working step: each under the 256 MiB
    // default, 300 MiB together. With room for them all it is a real step…
    let roomy = load_wrapped(rt, "spread", guests::SPREAD_MEMORY, Limits { memory_bytes: 400 << 20, ..Limits::default() }).unwrap();
    assert_eq!(rt.describe(&roomy, &host(co.path())).unwrap().name, "require-region");
    // …and under the default cap it is refused as a whole, by name.
    let step = load_wrapped(rt, "spread", guests::SPREAD_MEMORY, Limits::default()).unwrap();
    let err = rt.describe(&step, &host(co.path())).unwrap_err();
    match &err {
        RuntimeError::MemoryLimit { step, cap, requested } => {
            assert_eq!(step, "spread");
            assert_eq!(*cap, 256 << 20);
            assert_eq!(*requested, 300 << 20, "the third 100 MiB memory is the one refused");
        }
        other => panic!("expected the memory cap, got {other:?}"),
    }
    assert_eq!(err.to_string(), "step `spread` hit its memory cap of 256 MiB (its memories and tables asked for 300 MiB in all) and was stopped");
}

#[test]
fn a_core_module_with_two_memories_is_refused_at_load() {
    let err = load_wrapped(runtime(), "two-memories", guests::MULTI_MEMORY, Limits::default()).unwrap_err();
    match &err {
        RuntimeError::InvalidComponent { step, message } => {
            assert_eq!(step, "two-memories");
            assert!(message.contains("multiple memories"), "{message}");
        }
        other => panic!("expected an invalid component, got {other:?}"),
    }
}

#[test]
fn core_instances_past_the_count_limit_are_refused() {
    let rt = runtime();
    let step = load_wrapped(rt, "many-instances", guests::MANY_INSTANCES, Limits::default()).unwrap();
    let err = rt.describe(&step, &host(checkout(&[]).path())).unwrap_err();
    assert!(matches!(&err, RuntimeError::Trap { step, .. } if step == "many-instances"), "{err:?}");
    assert!(err.to_string().contains("instance count too high"), "{err}");
}

#[test]
fn memories_past_the_count_limit_are_refused() {
    let rt = runtime();
    let step = load_wrapped(rt, "many-memories", guests::MANY_MEMORIES, Limits::default()).unwrap();
    let err = rt.describe(&step, &host(checkout(&[]).path())).unwrap_err();
    assert!(matches!(&err, RuntimeError::Trap { step, .. } if step == "many-memories"), "{err:?}");
    assert!(err.to_string().contains("memory count too high"), "{err}");
}

#[test]
fn the_memory_cap_message_shows_how_far_past_the_cap_it_asked() {
    let rt = runtime();
    let cap = 64 << 20;
    let step = crate::support::load(rt, "membomb", guests::MEMBOMB, &["log"], Limits { memory_bytes: cap, ..Limits::default() });
    let err = rt.plan(&step, &host(checkout(&[]).path()), &request(&[])).unwrap_err();
    let RuntimeError::MemoryLimit { requested, .. } = &err else { panic!("expected the memory cap, got {err:?}") };
    assert!(*requested > cap);
    let message = err.to_string();
    let asked = message.split("asked for ").nth(1).and_then(|s| s.split(" MiB").next()).unwrap();
    assert_ne!(asked, "64", "{message}");
    assert!(asked.parse::<f64>().unwrap() > 64.0, "{message}");
}

// ---------------------------------------------------------------------------
// ferry.toml may raise limits only up to the host's maxima.

/// The binary with its compile cache and its cache key in `home`, apart.
fn ferry_in(home: &tempfile::TempDir) -> std::process::Command {
    let mut cmd = ferry(&home.path().join("cache"));
    cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
    cmd
}

fn parse(toml: &str) -> Result<ferry_engine::Workflow, String> {
    ferry_engine::Workflow::parse(toml, Path::new("ferry.toml")).map_err(|e| e.to_string())
}

#[test]
fn limits_above_the_host_maxima_are_refused_naming_key_value_and_maximum() {
    let cases = [
        ("deadline", "100000h", "5m"),
        ("memory", "1000TiB", "1GiB"),
        ("hostcall_bytes", "1000TiB", "64MiB"),
        ("file_bytes", "1000TiB", "32MiB"),
        ("memory", "1025MiB", "1GiB"),
    ];
    for (key, value, max) in cases {
        let defaults = parse(&format!("[limits]\n{key} = \"{value}\"\n\n[[steps]]\nname = \"parse-config\"\n")).unwrap_err();
        assert_eq!(defaults, format!("ferry.toml: {key} = \"{value}\" is above ferry's maximum of {max} for a step; lower it"));
        let per_step = parse(&format!("[[steps]]\nname = \"parse-config\"\n{key} = \"{value}\"\n")).unwrap_err();
        assert!(per_step.starts_with("ferry.toml: steps[0] `parse-config`: "), "{per_step}");
        assert!(per_step.contains(&format!("{key} = \"{value}\" is above ferry's maximum of {max}")), "{per_step}");
    }
}

#[test]
fn limits_at_the_host_maxima_are_accepted() {
    let workflow =
        parse("[limits]\ndeadline = \"5m\"\nmemory = \"1GiB\"\nhostcall_bytes = \"64MiB\"\nfile_bytes = \"32MiB\"\n\n[[steps]]\nname = \"parse-config\"\n")
            .unwrap();
    assert_eq!(workflow.steps[0].limits, Limits::MAX);
}

#[test]
fn the_binary_refuses_a_limit_above_the_maximum_before_running_anything() {
    let co = checkout(&[("fly.toml", "app = 'x'\n"), ("ferry.toml", "[limits]\nmemory = \"1000TiB\"\n\n[[steps]]\nname = \"parse-config\"\n")]);
    let (code, stdout, stderr) = run(ferry_in(&tempfile::tempdir().unwrap()).args(["plan", "--dir"]).arg(co.path()));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("ferry.toml: memory = \"1000TiB\" is above ferry's maximum of 1GiB for a step"), "{stderr}");
}

// ---------------------------------------------------------------------------
// A custom component is a regular file inside the checkout, of bounded size.

/// `ferry steps` on `co` whose ferry.toml names `component` for a step
/// `custom`, pinned to a sha256 that matches nothing. Run with a 2 GiB
/// address-space limit, so reading a device or a huge file dies instead of
/// taking the machine's memory.
fn steps_with_component(co: &Path, component: &str) -> (i32, String, String, Duration) {
    let toml = format!("[[steps]]\nname = \"custom\"\ncomponent = \"{component}\"\nsha256 = \"{}\"\n", "0".repeat(64));
    std::fs::write(co.join("ferry.toml"), toml).unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "ulimit -v 2097152 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_ferry"), "steps", "--dir"]).arg(co);
    cmd.env("FERRY_CACHE_DIR", home.path().join("cache")).env("XDG_CONFIG_HOME", home.path().join("config")).env_remove("FERRY_LOG");
    let started = Instant::now();
    let (code, stdout, stderr) = run(&mut cmd);
    (code, stdout, stderr, started.elapsed())
}

/// Asserts a refusal that names the step and the path, read nothing, and
/// printed no sha256 (of anything).
fn assert_refused(outcome: (i32, String, String, Duration), path: &str, reason: &str) {
    let (code, stdout, stderr, took) = outcome;
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains(&format!("the component of step `custom` at {path} {reason}")), "{stderr}");
    assert!(stderr.contains("it was not read"), "{stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
    assert!(!stderr.contains("has sha256"), "no hash of a refused file: {stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

fn outside_file() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.txt");
    std::fs::write(&path, "a secret outside the checkout\n").unwrap();
    let sha = sha256_hex(&std::fs::read(&path).unwrap());
    (dir, path, sha)
}

#[test]
fn dev_zero_is_refused_before_reading() {
    let co = checkout(&[]);
    let outcome = steps_with_component(co.path(), "/dev/zero");
    assert_refused(outcome, "/dev/zero", "is outside");
}

#[test]
fn a_file_outside_the_checkout_is_refused_and_its_hash_never_printed() {
    let (_outside, path, sha) = outside_file();
    let co = checkout(&[]);
    let (code, stdout, stderr, took) = steps_with_component(co.path(), path.to_str().unwrap());
    assert!(!stderr.contains(&sha), "{stderr}");
    assert_refused((code, stdout, stderr, took), path.to_str().unwrap(), "is outside");
    if let Ok(shadow) = std::fs::read("/etc/shadow") {
        let outcome = steps_with_component(co.path(), "/etc/shadow");
        assert!(!outcome.2.contains(&sha256_hex(&shadow)), "{}", outcome.2);
        assert_refused(outcome, "/etc/shadow", "is outside");
    }
}

#[test]
fn dot_dot_out_of_the_checkout_is_refused() {
    let (outside, path, sha) = outside_file();
    let co = tempfile::tempdir_in(outside.path()).unwrap();
    let relative = format!("../{}", path.file_name().unwrap().to_str().unwrap());
    let outcome = steps_with_component(co.path(), &relative);
    assert!(!outcome.2.contains(&sha), "{}", outcome.2);
    assert_refused(outcome, &co.path().join(&relative).display().to_string(), "is outside");
}

#[test]
fn a_symlink_that_escapes_the_checkout_is_refused() {
    let (_outside, path, sha) = outside_file();
    let co = checkout(&[]);
    std::fs::create_dir(co.path().join("ci")).unwrap();
    std::os::unix::fs::symlink(&path, co.path().join("ci/step.wasm")).unwrap();
    let outcome = steps_with_component(co.path(), "ci/step.wasm");
    assert!(!outcome.2.contains(&sha), "{}", outcome.2);
    assert_refused(outcome, &co.path().join("ci/step.wasm").display().to_string(), "is outside");
}

#[test]
fn an_oversized_component_is_refused_before_reading() {
    let co = checkout(&[]);
    // Sparse: 32 MiB + 1 byte on paper, nothing on disk.
    let big = std::fs::File::create(co.path().join("big.wasm")).unwrap();
    big.set_len(ferry_runtime::MAX_COMPONENT_BYTES + 1).unwrap();
    let outcome = steps_with_component(co.path(), "big.wasm");
    assert_refused(outcome, &co.path().join("big.wasm").display().to_string(), "is 33554433 bytes, over the 33554432-byte limit");
}

#[test]
fn a_fifo_in_the_checkout_is_refused_without_blocking() {
    let co = checkout(&[]);
    let status = std::process::Command::new("mkfifo").arg(co.path().join("pipe.wasm")).status().unwrap();
    assert!(status.success());
    let outcome = steps_with_component(co.path(), "pipe.wasm");
    assert_refused(outcome, &co.path().join("pipe.wasm").display().to_string(), "is not a regular file");
}

#[test]
fn an_oversized_component_is_refused_by_the_runtime_too() {
    // Whoever calls `load` (not only ferry.toml's resolver) gets the cap,
    // because it is what bounds compilation.
    let bytes = vec![0u8; ferry_runtime::MAX_COMPONENT_BYTES as usize + 1];
    let err = runtime().load("huge", &bytes, Grants::parse(&["log"]).unwrap(), Limits::default()).unwrap_err();
    assert!(matches!(&err, RuntimeError::ComponentTooLarge { step, .. } if step == "huge"), "{err:?}");
}

#[test]
fn a_component_beside_a_workflow_given_with_dash_dash_workflow_is_read() {
    // The confinement root is the workflow file's directory, where
    // `Workflow::parse` resolves the path.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::copy(guests::LINT_STEP, elsewhere.path().join("lint.wasm")).unwrap();
    let sha = sha256_hex(&guests::bytes(guests::LINT_STEP));
    let workflow = elsewhere.path().join("ferry.toml");
    std::fs::write(&workflow, format!("[[steps]]\nname = \"lint\"\ncomponent = \"lint.wasm\"\nsha256 = \"{sha}\"\n")).unwrap();
    let co = checkout(&[("fly.toml", "app = 'x'\n")]);
    let (code, _, stderr) = run(ferry_in(&tempfile::tempdir().unwrap()).args(["steps", "--workflow"]).arg(&workflow).arg("--dir").arg(co.path()));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
}

// ---------------------------------------------------------------------------
// The compile cache maps only entries this ferry wrote, for that component.

struct Cache {
    dir: tempfile::TempDir,
}

impl Cache {
    fn new() -> Self {
        Cache { dir: tempfile::tempdir().unwrap() }
    }
    fn config(&self) -> RuntimeConfig {
        RuntimeConfig {
            cache_dir: Some(self.dir.path().join("cache")),
            cache_key_file: Some(self.dir.path().join("config/ferry/cache-key")),
            ..Default::default()
        }
    }
    fn entry(&self, component: &str) -> PathBuf {
        let name = format!("{}.cwasm", sha256_hex(&guests::bytes(component)));
        let engine = std::fs::read_dir(self.dir.path().join("cache")).unwrap().next().unwrap().unwrap().path();
        engine.join(name)
    }
}

fn load_from(rt: &Runtime, name: &str, component: &str) -> ferry_runtime::LoadedStep {
    crate::support::load(rt, name, component, &["log"], Limits::default())
}

/// Loads `lint-step` and `edits` into `cache`, then lets `tamper` change the
/// lint-step entry, and loads lint-step again in a new runtime.
fn tampered(tamper: impl FnOnce(&Path, &[u8], &[u8])) -> ferry_runtime::LoadedStep {
    let cache = Cache::new();
    let rt = Runtime::new(cache.config()).unwrap();
    load_from(&rt, "lint", guests::LINT_STEP);
    load_from(&rt, "edits", guests::EDITS);
    let (lint, edits) = (cache.entry(guests::LINT_STEP), cache.entry(guests::EDITS));
    tamper(&lint, &std::fs::read(&lint).unwrap(), &std::fs::read(&edits).unwrap());
    let fresh = Runtime::new(cache.config()).unwrap();
    let step = load_from(&fresh, "lint", guests::LINT_STEP);
    // The replaced entry was rewritten: a third runtime maps it again.
    assert_eq!(load_from(&Runtime::new(cache.config()).unwrap(), "lint", guests::LINT_STEP).compiled_from(), CompiledFrom::DiskCache);
    let info = fresh.describe(&step, &host(checkout(&[]).path())).unwrap();
    assert_eq!(info.name, "require-region", "the step behaves as itself");
    step
}

#[test]
fn a_cache_entry_replaced_by_garbage_is_recompiled() {
    let step = tampered(|lint, _, _| std::fs::write(lint, b"\x7fELF not a compiled component").unwrap());
    assert_eq!(step.compiled_from(), CompiledFrom::Compiler);
}

#[test]
fn another_steps_entry_copied_over_is_not_loaded() {
    let step = tampered(|lint, _, edits| std::fs::write(lint, edits).unwrap());
    assert_eq!(step.compiled_from(), CompiledFrom::Compiler);
}

#[test]
fn another_steps_code_under_the_original_tag_is_not_loaded() {
    // An entry is 8 bytes of magic, a 32-byte tag, then the compiled code:
    // keep lint-step's magic and tag, put edits' code after them.
    const HEADER: usize = 8 + 32;
    let step = tampered(|lint, original, edits| std::fs::write(lint, [&original[..HEADER], &edits[HEADER..]].concat()).unwrap());
    assert_eq!(step.compiled_from(), CompiledFrom::Compiler);
}

#[test]
fn without_a_key_outside_the_cache_nothing_is_cached() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("cache");
    let configs = [
        RuntimeConfig { cache_dir: Some(cache_dir.clone()), cache_key_file: None, ..Default::default() },
        RuntimeConfig { cache_dir: Some(cache_dir.clone()), cache_key_file: Some(cache_dir.join("cache-key")), ..Default::default() },
    ];
    for config in configs {
        for _ in 0..2 {
            let rt = Runtime::new(config.clone()).unwrap();
            assert_eq!(load_from(&rt, "lint", guests::LINT_STEP).compiled_from(), CompiledFrom::Compiler);
        }
        assert!(!cache_dir.exists(), "nothing written to {}", cache_dir.display());
    }
}
