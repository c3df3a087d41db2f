//! The host owns what an action is: risk floors, host-rendered descriptions and per-step operation grants.
//!
//! Each case runs the real `ferry` binary on a checkout whose ferry.toml adds
//! the `proposes` test component: a custom step that proposes whatever
//! operation its `op` parameter names, captioned "tidy up the logs" and
//! labelled `safe`.

use std::path::Path;

use ferry_test_guests as guests;

use crate::support::{checkout, ferry, run, sha256_hex};

const FLY_TOML: &str = "app = \"shop\"\nprimary_region = \"ams\"\n\n[http_service]\n  internal_port = 8080\n";

/// A `[[steps]]` entry for the `proposes` component named `name`, with
/// `extra` lines (grants, actions, params) after its pin.
fn step(name: &str, extra: &str) -> String {
    let sha = sha256_hex(&ferry_test_guests::bytes(guests::PROPOSES));
    format!("\n[[steps]]\nname = \"{name}\"\ncomponent = \"proposes.wasm\"\nsha256 = \"{sha}\"\n{extra}")
}

/// A checkout with fly.toml, the component, and a workflow of parse-config then `steps`.
fn app(steps: &str) -> tempfile::TempDir {
    let workflow = format!("[[steps]]\nname = \"parse-config\"\n{steps}");
    let co = checkout(&[("fly.toml", FLY_TOML), ("Dockerfile", "FROM alpine\n"), ("ferry.toml", &workflow)]);
    std::fs::copy(guests::PROPOSES, co.path().join("proposes.wasm")).unwrap();
    std::fs::copy(guests::EDITS, co.path().join("edits.wasm")).unwrap();
    co
}

/// `ferry plan --format <format>` in `dir`: (exit code, stdout, stderr).
fn plan(dir: &Path, format: &str) -> (i32, String, String) {
    let cache = dir.join(".cache");
    run(ferry(&cache).args(["plan", "--format", format, "--dir"]).arg(dir).env_remove("FLY_API_TOKEN"))
}

/// A plan that must be refused: exit 1, no plan printed, and the error.
fn refused(dir: &Path) -> String {
    let (code, stdout, stderr) = plan(dir, "json");
    assert_eq!(code, 1, "the plan was not refused:\n{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "a refused plan is not printed: {stdout}");
    stderr
}

#[test]
fn a_log_only_step_may_not_propose_setting_secrets_on_another_app() {
    let co = app(&step("tidy", "grants = [\"log\"]\nparams = { op = \"fly-set-secrets\", app = \"attacker-app\" }\n"));
    let err = refused(co.path());
    assert!(
        err.contains(
            "refusing the plan: step `tidy` proposed action `tidy-logs` whose operation is `fly-set-secrets`, an operation of class `fly`, \
             which its operation grant does not include (granted: approvals and waits only)"
        ),
        "{err}"
    );
    assert!(err.contains("add \"fly\" to the step's `actions` in ferry.toml"), "the error says what to do: {err}");
}

#[test]
fn with_a_fly_grant_the_risk_is_raised_and_the_host_names_the_app_and_the_secrets() {
    let co = app(&step("tidy", "actions = [\"fly\"]\nparams = { op = \"fly-set-secrets\", app = \"attacker-app\", names = \"DATABASE_URL,STRIPE_KEY\" }\n"));
    let (code, stdout, stderr) = plan(co.path(), "json");
    assert_eq!(code, 0, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let action = &out["plan"]["steps"][1]["actions"][0];
    assert_eq!(action["summary"], "tidy up the logs");
    assert_eq!(action["risk"], "destructive", "the step said safe; the host's floor for setting secrets is destructive");
    assert_eq!(out["counts"]["destructive"], 1);
    assert_eq!(out["counts"]["safe"], 0);
    let described = &out["actions"][0];
    assert_eq!(described["step"], "tidy");
    assert_eq!(described["class"], "fly");
    assert_eq!(described["operation"], "fly-set-secrets");
    assert_eq!(
        described["does"],
        "set secret(s) DATABASE_URL, STRIPE_KEY on Fly app attacker-app, each from this run's FERRY_SECRET_<NAME>, replacing any value of that name"
    );
    assert_eq!(described["step_says"], "tidy up the logs");

    // The hash a reviewer approves is the hash of the plan with the raised risk.
    let reviewed: ferry_model::Plan = serde_json::from_value(out["plan"].clone()).unwrap();
    assert_eq!(reviewed.hash(), out["plan_hash"].as_str().unwrap());
    let mut as_the_step_said = reviewed.clone();
    as_the_step_said.steps[1].actions[0].risk = ferry_model::Risk::Safe;
    assert_ne!(as_the_step_said.hash(), reviewed.hash());

    // The PR comment leads with the host's words and labels the step's.
    let (code, md, stderr) = plan(co.path(), "md");
    assert_eq!(code, 0, "{stderr}");
    assert!(md.contains("> [!CAUTION]\n> This plan has 1 destructive and 0 irreversible action(s)."), "{md}");
    assert!(md.contains("| # | What ferry will do | Risk | Undo | The step says |"), "{md}");
    assert!(
        md.contains(
            "| 1 | set secret(s) DATABASE\\_URL, STRIPE\\_KEY on Fly app attacker-app, each from this run's FERRY\\_SECRET\\_&lt;NAME&gt;, replacing any value of that name | 🔴 destructive |"
        ) || md.contains(
            "| 1 | set secret(s) DATABASE_URL, STRIPE_KEY on Fly app attacker-app, each from this run's FERRY_SECRET_&lt;NAME&gt;, replacing any value of that name | 🔴 destructive |"
        ),
        "{md}"
    );
    assert!(md.contains("| tidy up the logs |"), "{md}");

    let (code, text, stderr) = plan(co.path(), "text");
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("  1. [destructive] set secret(s) DATABASE_URL, STRIPE_KEY on Fly app attacker-app"), "{text}");
    assert!(text.contains("     the step says: tidy up the logs"), "{text}");
}

#[test]
fn a_step_may_raise_the_risk_but_not_lower_it() {
    let co = app(&step("tidy", "actions = [\"fly\"]\nparams = { op = \"fly-destroy-app\", app = \"shop\", risk = \"safe\" }\n"));
    let (code, stdout, stderr) = plan(co.path(), "json");
    assert_eq!(code, 0, "{stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["actions"][0]["risk"], "irreversible");
    assert_eq!(out["actions"][0]["does"], "DELETE Fly app shop with all its machines, volumes, secrets and addresses");

    let co = app(&step("tidy", "params = { op = \"wait\", risk = \"destructive\" }\n"));
    let (code, stdout, stderr) = plan(co.path(), "json");
    assert_eq!(code, 0, "a custom step with no `actions` may still wait: {stderr}");
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["actions"][0]["risk"], "destructive", "a step's higher risk stands");
}

#[test]
fn an_undo_outside_the_grant_is_refused() {
    let co = app(&step("tidy", "actions = [\"checkout\"]\nparams = { op = \"edit-config\", undo = \"fly-destroy-app\", app = \"shop\" }\n"));
    let err = refused(co.path());
    assert!(err.contains("step `tidy` proposed action `tidy-logs` whose undo is `fly-destroy-app`, an operation of class `fly`"), "{err}");
    assert!(err.contains("(granted: checkout)"), "{err}");
}

#[test]
fn an_nginx_reload_from_a_custom_step_is_refused_even_with_the_vm_grant() {
    // No step can put a command in a plan any more (`vm-file` has a `reload`
    // flag, and the host runs the target's own `nginx_reload`); a custom
    // step still may not make a site file it wrote start serving.
    let params = "params = { op = \"vm-write-file\", path = \"/etc/nginx/sites-enabled/tidy\", reload = \"true\" }\n";
    let co = app(&step("tidy", &format!("actions = [\"vm\"]\n{params}")));
    let err = refused(co.path());
    assert!(
        err.contains("step `tidy` proposed action `tidy-logs` whose operation writes /etc/nginx/sites-enabled/tidy and then reloads nginx on the host; only ferry's built-in steps may do that"),
        "{err}"
    );
}

#[test]
fn setuid_and_world_writable_modes_are_refused() {
    for (mode, why) in [("4755", "setuid"), ("777", "writable by every user")] {
        let params = format!("params = {{ op = \"vm-write-file\", path = \"/usr/local/bin/tidy\", mode = \"{mode}\" }}\n");
        let co = app(&step("tidy", &format!("actions = [\"vm\"]\n{params}")));
        let err = refused(co.path());
        assert!(err.contains(&format!("whose operation writes /usr/local/bin/tidy with mode {mode}, which is {why}; no step may write such a file")), "{err}");
    }
}

#[test]
fn duplicate_action_ids_are_refused_within_a_step_and_across_steps() {
    // The audit's M6 case: the same key edited twice got one id, and the
    // second edit was reported done without running.
    let sha = sha256_hex(&ferry_test_guests::bytes(guests::EDITS));
    let edits = format!(
        "\n[[steps]]\nname = \"edits\"\ncomponent = \"edits.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\nparams = {{ edits = 'env.A=\"1\";env.B=\"x\";env.A=\"2\"' }}\n"
    );
    let err = refused(app(&edits).path());
    assert!(err.contains("step `edits` proposed action 3 with id `edit:env.A`, the id of action 1 of step `edits`; ids must be unique in a plan"), "{err}");

    let co =
        app(&format!("{}{}", step("first", "params = { op = \"wait\", ids = \"tidy\" }\n"), step("second", "params = { op = \"wait\", ids = \"tidy\" }\n")));
    let err = refused(co.path());
    assert!(err.contains("step `second` proposed action 1 with id `tidy`, the id of action 1 of step `first`"), "{err}");
}

#[test]
fn unknown_operation_classes_and_actions_on_builtin_steps_are_config_errors() {
    let co = app(&step("tidy", "actions = [\"fly\", \"shell\"]\n"));
    let err = refused(co.path());
    assert!(
        err.contains(
            "ferry.toml: steps[1] `tidy`: unknown operation class `shell` in `actions` (valid: checkout, fly, dns, data, vm; approvals and waits need no grant)"
        ),
        "{err}"
    );

    let co = app("\n[[steps]]\nname = \"deploy\"\nactions = [\"vm\"]\n");
    let err = refused(co.path());
    assert!(err.contains("steps[1] `deploy`: `deploy` is a built-in step: its grants and actions are fixed"), "{err}");
}
