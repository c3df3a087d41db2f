//! ferry.toml: custom steps pinned by sha256, grants, limits, parameters.

use crate::support::{checkout, ferry, run, sha256_hex};
use ferry_test_guests as guests;

const FLY_TOML: &str = "app = 'shop'\n[http_service]\ninternal_port = 8080\n";

/// A checkout with fly.toml, the lint-step component copied in, and `workflow` as ferry.toml.
fn checkout_with(workflow: &str) -> tempfile::TempDir {
    let co = checkout(&[("fly.toml", FLY_TOML), ("ferry.toml", workflow)]);
    std::fs::create_dir_all(co.path().join("ci")).unwrap();
    std::fs::copy(guests::LINT_STEP, co.path().join("ci/require-region.wasm")).unwrap();
    co
}

fn lint_sha() -> String {
    sha256_hex(&ferry_test_guests::bytes(guests::LINT_STEP))
}

fn workflow(sha: &str, extra: &str) -> String {
    format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"require-region\"\ncomponent = \"ci/require-region.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\n{extra}"
    )
}

#[test]
fn a_pinned_custom_step_runs_after_the_builtin_one() {
    let co = checkout_with(&workflow(&lint_sha(), "params = { region = \"ams\" }\n"));
    let cache = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(ferry(cache.path()).args(["plan", "--format", "json", "--dir"]).arg(co.path()));
    assert_eq!(code, 0, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let steps = out["plan"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[1]["step"], "require-region");
    assert_eq!(steps[1]["version"], "1.2.0");
    let action = &steps[1]["actions"][0];
    assert_eq!(action["summary"], "set primary_region = \"ams\" in fly.toml");
    assert_eq!(action["operation"]["Checkout"]["EditConfig"]["value"], "\"ams\"");
    assert_eq!(out["counts"]["safe"], 1);
    assert_eq!(out["has_changes"], true);
    assert_eq!(steps[1]["findings"][0]["code"], "no-primary-region");
}

#[test]
fn a_sha256_mismatch_is_refused() {
    let wrong = "0".repeat(64);
    let co = checkout_with(&workflow(&wrong, ""));
    let cache = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "no plan on a refused step: {stdout}");
    assert!(stderr.contains(&format!("has sha256 {}, but ferry.toml pins {wrong}; refusing to run it", lint_sha())), "{stderr}");
}

#[test]
fn a_custom_step_without_a_pin_gets_a_hint() {
    let co = checkout_with("[[steps]]\nname = \"require-region\"\ncomponent = \"ci/require-region.wasm\"\n");
    let cache = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("ferry.toml: steps[0] `require-region`: custom step `require-region` needs `sha256 = \"…\"`"), "{stderr}");
}

#[test]
fn a_custom_step_gets_only_the_grants_it_is_given() {
    let co = checkout(&[("fly.toml", FLY_TOML)]);
    std::fs::copy(guests::WANTS_FLY, co.path().join("wants-fly.wasm")).unwrap();
    let sha = sha256_hex(&ferry_test_guests::bytes(guests::WANTS_FLY));
    let toml = format!("[[steps]]\nname = \"wants-fly\"\ncomponent = \"wants-fly.wasm\"\nsha256 = \"{sha}\"\n");
    std::fs::write(co.path().join("ferry.toml"), &toml).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(ferry(cache.path()).args(["steps", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("step `wants-fly` imports `ferry:step/fly@0.1.0`, which its grant does not include (granted: log, clock)"), "{stderr}");

    std::fs::write(co.path().join("ferry.toml"), format!("{toml}grants = [\"log\", \"fly\"]\n")).unwrap();
    let (code, stdout, stderr) = run(ferry(cache.path()).args(["steps", "--format", "json", "--dir"]).arg(co.path()));
    assert_eq!(code, 0, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["steps"][0]["grants"], serde_json::json!(["log", "fly"]));
    assert_eq!(out["steps"][0]["sha256"], sha);
}

#[test]
fn limits_come_from_the_workflow() {
    let co = checkout(&[("fly.toml", FLY_TOML)]);
    std::fs::copy(guests::SPIN, co.path().join("spin.wasm")).unwrap();
    let sha = sha256_hex(&ferry_test_guests::bytes(guests::SPIN));
    let toml = format!("[limits]\nmemory = \"64MiB\"\n\n[[steps]]\nname = \"spin\"\ncomponent = \"spin.wasm\"\nsha256 = \"{sha}\"\ndeadline = \"250ms\"\n");
    std::fs::write(co.path().join("ferry.toml"), toml).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(ferry(cache.path()).args(["steps", "--format", "json", "--dir"]).arg(co.path()));
    assert_eq!(code, 0);
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["steps"][0]["limits"]["deadline_ms"], 250);
    assert_eq!(out["steps"][0]["limits"]["memory_bytes"], 64 << 20);
    let started = std::time::Instant::now();
    let (code, _, stderr) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("error: step `spin` ran past its 0.25s deadline and was stopped"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn workflow_errors_name_the_line_and_key() {
    let co = checkout(&[("fly.toml", FLY_TOML), ("ferry.toml", "[[steps]]\nname = \"parse-config\"\ndeadlin = \"1s\"\n")]);
    let cache = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("ferry.toml: line 3, column 1: unknown field `deadlin`"), "{stderr}");
    assert!(stderr.contains("`deadline`"), "the valid keys are listed: {stderr}");

    std::fs::write(co.path().join("ferry.toml"), "[[steps]]\nname = \"deploy-everything\"\n").unwrap();
    let (_, _, stderr) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(co.path()));
    assert!(
        stderr.contains("no built-in step is called `deploy-everything` (built-in: parse-config, deploy, cutover, copy-data, adopt, migrate, vm-deploy)"),
        "{stderr}"
    );

    std::fs::write(
        co.path().join("ferry.toml"),
        "[[steps]]\nname = \"copy-data\"\n\n[data.postgres.main]\nsource_env = \"FERRY_SECRET_S\"\ntarget_vm = \"prod\"\n",
    )
    .unwrap();
    let (_, _, stderr) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(co.path()));
    assert!(stderr.contains("[data.postgres.main] target_vm: no [targets.vm.prod] is configured"), "{stderr}");
}

#[test]
fn params_read_github_run_variables_but_never_other_environment() {
    let co = checkout(&[("fly.toml", FLY_TOML)]);
    let cache = tempfile::tempdir().unwrap();
    let workflow = "[[steps]]\nname = \"parse-config\"\nparams = { config = \"fly.${FERRY_VAR_STAGE}.toml\" }\n";
    std::fs::write(co.path().join("ferry.toml"), workflow).unwrap();
    std::fs::write(co.path().join("fly.staging.toml"), FLY_TOML.replace("app = ", "app = \"staging\"\n#")).unwrap();
    let (code, stdout, stderr) = run(ferry(cache.path()).env("FERRY_VAR_STAGE", "staging").args(["plan", "--format", "json", "--dir"]).arg(co.path()));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\"source\": \"fly.staging.toml\""), "{stdout}");

    let (code, _, stderr) = run(ferry(cache.path()).env_remove("FERRY_VAR_STAGE").args(["plan", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("params.config: `${FERRY_VAR_STAGE}` is not set"), "{stderr}");

    let leaky = "[[steps]]\nname = \"parse-config\"\nparams = { config = \"${FLY_API_TOKEN}\" }\n";
    std::fs::write(co.path().join("ferry.toml"), leaky).unwrap();
    let (code, _, stderr) = run(ferry(cache.path()).env("FLY_API_TOKEN", "fo1_secret").args(["plan", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains("`${FLY_API_TOKEN}` cannot be read here"), "{stderr}");
    assert!(!stderr.contains("fo1_secret"));
}
