//! The binary as users and scripts run it.

use crate::support::{checkout, example, ferry, run};

#[test]
fn plan_json_matches_the_example_fly_toml() {
    let dir = example("hello-fly");
    let cache = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = run(ferry(cache.path()).args(["plan", "--format", "json", "--dir"]).arg(&dir));
    assert_eq!(code, 0, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is only JSON");
    let app = &out["plan"]["app"];

    // Read fly.toml independently and compare what the inventory says.
    let fly: toml::Table = std::fs::read_to_string(dir.join("fly.toml")).unwrap().parse().unwrap();
    assert_eq!(app["app"], fly["app"].as_str().unwrap());
    assert_eq!(app["primary_region"], fly["primary_region"].as_str().unwrap());
    assert_eq!(app["services"][0]["internal_port"], fly["http_service"]["internal_port"].as_integer().unwrap());
    assert_eq!(app["services"][0]["ports"][0]["force_https"], true);
    assert_eq!(app["mounts"][0]["source"], fly["mounts"][0]["source"].as_str().unwrap());
    assert_eq!(app["mounts"][0]["destination"], fly["mounts"][0]["destination"].as_str().unwrap());
    assert_eq!(app["deploy"]["release_command"], fly["deploy"]["release_command"].as_str().unwrap());
    assert_eq!(app["deploy"]["strategy"], "rolling");
    assert_eq!(app["build"]["dockerfile"], "Dockerfile");
    for (k, v) in fly["env"].as_table().unwrap() {
        assert_eq!(app["env"][k], v.as_str().unwrap(), "env {k}");
    }
    assert_eq!(app["processes"], serde_json::json!({"app": ""}));
    assert_eq!(app["kind"], "single-service");
    assert_eq!(out["has_changes"], false);
    assert_eq!(out["plan_hash"].as_str().unwrap().len(), 64);
}

#[test]
fn plan_md_is_fit_for_a_pr_comment() {
    let cache = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(ferry(cache.path()).args(["plan", "--format", "md", "--dir"]).arg(example("hello-fly")));
    assert_eq!(code, 0);
    assert!(stdout.starts_with("## ferry plan: `hello-fly` · phase `deploy`\n"), "{stdout}");
    assert!(stdout.contains("**No changes.** 0 safe · 0 disruptive · 0 destructive · 0 irreversible"));
    assert!(stdout.contains("| Services | tcp 8080 ← 80 (http, force https), 443 (http+tls) |"), "{stdout}");
    assert!(stdout.contains("<details><summary><b>parse-config</b> 0.1.0 · no changes</summary>"));
    assert_eq!(stdout.matches("<details").count(), stdout.matches("</details>").count());
}

#[test]
fn the_plan_hash_is_stable_across_runs() {
    let cache = tempfile::tempdir().unwrap();
    let hash = || {
        let (_, stdout, _) = run(ferry(cache.path()).args(["plan", "--format", "json", "--dir"]).arg(example("hello-fly")));
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["plan_hash"].as_str().unwrap().to_string()
    };
    assert_eq!(hash(), hash());
}

#[test]
fn exit_codes_scripts_can_rely_on() {
    let cache = tempfile::tempdir().unwrap();
    let (code, _, _) = run(ferry(cache.path()).args(["plan", "--format", "yaml"]));
    assert_eq!(code, 2, "usage error");
    let (code, _, _) = run(ferry(cache.path()).arg("frobnicate"));
    assert_eq!(code, 2, "unknown command");
    let (code, stdout, _) = run(ferry(cache.path()).arg("--help"));
    assert_eq!(code, 0);
    assert!(stdout.contains("Exit codes: 0 success, 1 failure"), "{stdout}");

    let broken = checkout(&[("fly.toml", "app = 'x'\n[[mounts]]\nsource = 'data'\n")]);
    let (code, stdout, stderr) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(broken.path()));
    assert_eq!(code, 1);
    assert!(stdout.contains("error[missing-key]"), "the plan is printed with the finding: {stdout}");
    assert!(stderr.contains("error: fly.toml is not valid: fly.toml:2:1 (mounts[0]): `mounts[0].destination` is missing"), "{stderr}");

    let unparsable = checkout(&[("fly.toml", "app = 'x'\n[[mounts]\n")]);
    let (code, stdout, stderr) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(unparsable.path()));
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(stderr.contains("error: step `parse-config` failed: fly.toml:2:"), "{stderr}");

    let (code, _, stderr) = run(ferry(cache.path()).args(["plan", "--dir", "/nonexistent/app"]));
    assert_eq!(code, 1);
    assert!(stderr.contains("/nonexistent/app is not a directory"), "{stderr}");
}

#[test]
fn logs_go_to_stderr_and_results_to_stdout() {
    let cache = tempfile::tempdir().unwrap();
    let (_, stdout, stderr) = run(ferry(cache.path()).args(["plan", "--dir"]).arg(example("hello-fly")));
    assert!(stderr.contains("[parse-config] read fly.toml"), "a step's log line, prefixed with its name: {stderr}");
    assert!(!stdout.contains("[parse-config]"));
    assert!(!stderr.contains('\u{1b}'), "no colour codes when stderr is not a terminal");
    let (_, _, quiet) = run(ferry(cache.path()).args(["-q", "plan", "--dir"]).arg(example("hello-fly")));
    assert!(quiet.is_empty(), "{quiet}");
}

#[test]
fn steps_lists_builtin_steps_with_grants_and_imports() {
    let cache = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(ferry(cache.path()).args(["steps", "--dir"]).arg(example("hello-fly")));
    assert_eq!(code, 0);
    assert!(stdout.contains("1. parse-config 0.1.0 (built-in)"), "{stdout}");
    assert!(stdout.contains("granted  log, clock, checkout, fly"), "{stdout}");
    assert!(stdout.contains("ferry:step/checkout@0.1.0"), "{stdout}");
    assert!(stdout.contains("param    config: The Fly config file"), "{stdout}");
}
