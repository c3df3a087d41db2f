//! `ferry apply`, `abort` and `status` as users run them: the reviewed plan
//! only, a journal that survives a killed process, rollback, abort, locks.

use std::path::Path;
use std::process::Command;

use ferry_test_guests as guests;

use crate::support::{checkout, ferry, run, sha256_hex};

const FLY: &str = "# the shop\napp = \"shop\"   # keep this comment\n\n[http_service]\n  internal_port = 8080\n\n[env]\n  MODE = \"old\"\n";
const EDITS: &str = r#"env.MODE=\"new\";env.A=\"1\";primary_region=\"ams\""#;

/// A checkout whose workflow proposes `edits` (see the `edits` test guest).
fn app_with(edits: &str, extra: &str) -> tempfile::TempDir {
    let co = checkout(&[("fly.toml", FLY), ("Dockerfile", "FROM alpine\nEXPOSE 8080\n")]);
    std::fs::copy(guests::EDITS, co.path().join("edits.wasm")).unwrap();
    let sha = sha256_hex(&ferry_test_guests::bytes(guests::EDITS));
    let workflow = format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"edits\"\ncomponent = \"edits.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\n[steps.params]\nedits = \"{edits}\"\n{extra}"
    );
    std::fs::write(co.path().join("ferry.toml"), workflow).unwrap();
    co
}

/// `ferry` run in `dir`, quiet unless `-v` is asked for.
fn ferry_in(dir: &Path) -> Command {
    let mut cmd = ferry(&dir.join(".cache"));
    cmd.current_dir(dir).env("FERRY_LOG", "warn");
    cmd
}

fn plan_hash(dir: &Path) -> String {
    let (code, stdout, stderr) = run(ferry_in(dir).args(["plan", "--format", "json"]));
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["plan_hash"].as_str().unwrap()[..12].to_string()
}

fn fly_toml(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("fly.toml")).unwrap()
}

fn journal(dir: &Path, hash: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join(format!(".ferry/journal/shop/deploy-{hash}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn apply_runs_the_reviewed_plan_and_abort_restores_the_start() {
    let co = app_with(EDITS, "");
    let hash = plan_hash(co.path());
    let (code, stdout, stderr) = run(ferry_in(co.path()).args(["apply", "--plan-hash", &hash]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("✅ Applied"), "{stdout}");
    assert!(stdout.contains("1. [done] set env.MODE = \"new\" in fly.toml"), "{stdout}");
    let edited = fly_toml(co.path());
    assert!(edited.contains("app = \"shop\"   # keep this comment\nprimary_region = \"ams\""), "{edited}");
    assert!(edited.contains("  MODE = \"new\"\n"), "{edited}");

    let (code, stdout, _) = run(ferry_in(co.path()).args(["status"]));
    assert_eq!(code, 0);
    assert!(stdout.contains(&format!("phase deploy: applied (plan {hash})")), "{stdout}");

    let (code, stdout, stderr) = run(ferry_in(co.path()).args(["abort", "--yes"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("phase deploy: aborted"), "{stdout}");
    assert_eq!(fly_toml(co.path()), FLY, "abort restores the file byte for byte");
}

#[test]
fn a_changed_plan_is_refused_naming_what_changed() {
    let co = app_with(EDITS, "");
    let hash = plan_hash(co.path());
    let ferry_toml = std::fs::read_to_string(co.path().join("ferry.toml")).unwrap();
    std::fs::write(co.path().join("ferry.toml"), ferry_toml.replace(r#"env.A=\"1\""#, r#"env.A=\"2\""#)).unwrap();
    let (code, stdout, stderr) = run(ferry_in(co.path()).args(["apply", "--plan-hash", &hash]));
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(stderr.contains(&format!("error: the plan changed since it was reviewed (reviewed {hash}, now ")), "{stderr}");
    assert!(stderr.contains("  - changed: set env.A = \"2\" in fly.toml (was: set env.A = \"1\" in fly.toml)"), "{stderr}");
    assert_eq!(fly_toml(co.path()), FLY, "nothing was applied");
}

#[test]
fn a_failed_action_rolls_the_phase_back() {
    // `app.name` cannot be set: `app` is a string, not a table.
    let co = app_with(r#"env.MODE=\"new\";primary_region=\"ams\";app.name=\"x\""#, "");
    let hash = plan_hash(co.path());
    let (code, stdout, stderr) = run(ferry_in(co.path()).args(["apply", "--plan-hash", &hash]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains("❌ Failed and rolled back: fly.toml: `app.name` cannot be set: `app` is not a table"), "{stdout}");
    assert!(stdout.contains("1. [undone] set env.MODE"), "{stdout}");
    assert!(stdout.contains("3. [failed] set app.name"), "{stdout}");
    let told = format!("{stdout}{stderr}").matches("`app` is not a table").count();
    assert_eq!(told, 1, "the failure is told once, not in the log, the headline and the table:\n{stdout}{stderr}");
    assert!(stderr.contains("failed: set app.name") && stderr.contains("undoing what this run did"), "the log says where it stopped: {stderr}");
    assert_eq!(fly_toml(co.path()), FLY);

    let co = app_with(r#"env.MODE=\"new\";app.name=\"x\""#, "");
    let hash = plan_hash(co.path());
    let (code, stdout, _) = run(ferry_in(co.path()).args(["apply", "--no-rollback", "--plan-hash", &hash]));
    assert_eq!(code, 1);
    assert!(stdout.contains("❌ Failed (not rolled back)"), "{stdout}");
    assert!(fly_toml(co.path()).contains("MODE = \"new\""), "left as it was");
}

#[test]
fn an_approval_gate_stops_until_approved() {
    let co = app_with(r#"env.MODE=\"new\""#, "approval = \"the cutover window is open\"\n");
    let hash = plan_hash(co.path());
    let (code, stdout, _) = run(ferry_in(co.path()).args(["apply", "--plan-hash", &hash]));
    assert_eq!(code, 0);
    assert!(stdout.contains("⏸️ Waiting for approval: the cutover window is open"), "{stdout}");
    assert_eq!(fly_toml(co.path()), FLY);
    let (code, stdout, _) = run(ferry_in(co.path()).args(["apply", "--approve", "--plan-hash", &hash]));
    assert_eq!(code, 0);
    assert!(stdout.contains("✅ Applied"), "{stdout}");
    assert!(fly_toml(co.path()).contains("MODE = \"new\""));
}

/// Kills `ferry apply` at each boundary of each action (before it runs,
/// after it ran but before the journal says so, after the journal says
/// so); the next apply finishes the plan with no action carried out twice,
/// and abort then restores the start.
#[test]
fn a_killed_apply_resumes_without_running_any_action_twice() {
    let actions = ["edit:env.MODE", "edit:env.A", "edit:primary_region"];
    for action in actions {
        for point in ["started", "executed", "done"] {
            let co = app_with(EDITS, "");
            let hash = plan_hash(co.path());
            let log = co.path().join("executions.log");
            let killed = Command::new(env!("CARGO_BIN_EXE_ferry"))
                .args(["-q", "apply", "--plan-hash", &hash])
                .current_dir(co.path())
                .env("FERRY_CACHE_DIR", co.path().join(".cache"))
                .env("FERRY_TEST_KILL_AT", format!("{action}:{point}"))
                .env("FERRY_TEST_EXEC_LOG", &log)
                .output()
                .unwrap();
            assert!(!killed.status.success(), "{action}:{point}: the process was killed");

            let (code, stdout, stderr) = run(ferry_in(co.path()).env("FERRY_TEST_EXEC_LOG", &log).args(["apply", "--plan-hash", &hash]));
            assert_eq!(code, 0, "{action}:{point}: resume failed: {stderr}");
            assert!(stdout.contains("✅ Applied"), "{action}:{point}: {stdout}");
            let edited = fly_toml(co.path());
            assert!(edited.contains("MODE = \"new\"") && edited.contains("A = \"1\"") && edited.contains("primary_region = \"ams\""), "{edited}");

            let executed = std::fs::read_to_string(&log).unwrap();
            for a in actions {
                let n = executed.lines().filter(|l| *l == a).count();
                assert_eq!(n, 1, "{action}:{point}: {a} was carried out {n} times:\n{executed}");
            }
            let j = journal(co.path(), &hash);
            let reconciled = j["phases"][0]["entries"].as_array().unwrap().iter().any(|e| e["event"] == "reconciled");
            assert_eq!(reconciled, point == "executed", "{action}:{point}: an action that ran before the kill is reconciled, not rerun");

            let (code, _, stderr) = run(ferry_in(co.path()).args(["abort", "--yes"]));
            assert_eq!(code, 0, "{stderr}");
            assert_eq!(fly_toml(co.path()), FLY, "{action}:{point}: abort restores the start");
        }
    }
}

#[test]
fn a_lock_held_by_a_live_run_refuses_and_a_dead_one_is_taken_over() {
    let co = app_with(EDITS, "");
    let hash = plan_hash(co.path());
    let store = ferry_state::DirStore::open(co.path().join(".ferry")).unwrap();
    let host = std::fs::read_to_string("/etc/hostname").unwrap().trim().to_string();
    let live =
        ferry_state::lock::Holder { owner: "ci-run-7", purpose: "apply deploy", url: Some("https://ci/7"), host: Some(&host), pid: Some(std::process::id()) };
    let held = ferry_state::lock::acquire(&store, "shop", &live, 600_000, ferry_engine::apply::now_ms(), &|_| false).unwrap();
    let (code, _, stderr) = run(ferry_in(co.path()).args(["apply", "--plan-hash", &hash]));
    assert_eq!(code, 1);
    assert!(stderr.contains("error: shop is locked by ci-run-7 (apply deploy, https://ci/7) for another 59"), "{stderr}");
    held.release(&store).unwrap();

    // A killed apply leaves its lock; the next run sees its process is gone.
    let killed = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["-q", "apply", "--plan-hash", &hash])
        .current_dir(co.path())
        .env("FERRY_CACHE_DIR", co.path().join(".cache"))
        .env("FERRY_TEST_KILL_AT", "edit:env.A:done")
        .output()
        .unwrap();
    assert!(!killed.status.success());
    assert!(ferry_state::lock::current(&store, "shop").unwrap().is_some(), "the killed run left its lock");
    let (code, _, stderr) = run(ferry_in(co.path()).env("FERRY_LOG", "info").args(["apply", "--plan-hash", &hash]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("resuming run deploy-"), "{stderr}");
    assert!(ferry_state::lock::current(&store, "shop").unwrap().is_none(), "released after the apply");
}

#[test]
fn a_secret_value_never_reaches_any_output() {
    let canary = "canary-9f3b1c7e5d";
    // The value sits in a secret variable, and (by mistake) in fly.toml too.
    let co = app_with(EDITS, "");
    std::fs::write(co.path().join("fly.toml"), FLY.replace("MODE = \"old\"", &format!("MODE = \"old\"\n  LEAK = \"{canary}\""))).unwrap();
    let with_secret = |cmd: &mut Command| {
        cmd.env("FERRY_SECRET_DATABASE_URL", canary).env("FLY_API_TOKEN", format!("FlyV1 {canary}"));
    };
    let mut outputs = String::new();
    for args in
        [&["plan", "--format", "json"][..], &["plan", "--format", "md"], &["inventory"], &["apply"], &["status", "--format", "json"], &["abort", "--yes"]]
    {
        let mut cmd = ferry_in(co.path());
        with_secret(&mut cmd);
        cmd.env("FERRY_LOG", "debug").args(args);
        let (_, stdout, stderr) = run(&mut cmd);
        outputs.push_str(&stdout);
        outputs.push_str(&stderr);
    }
    assert!(outputs.contains("LEAK") && outputs.contains("***"), "the outputs mention the key, masked");
    assert!(!outputs.contains(canary), "the canary leaked into stdout or stderr");
    for entry in walk(&co.path().join(".ferry")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        assert!(!text.contains(canary), "the canary leaked into {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
