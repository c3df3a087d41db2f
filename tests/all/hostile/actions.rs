//! action.yml, the release build and the example workflows: no code from a pull request runs in a job that holds secrets.
//!
//! C1 of the security audit: a `/ferry` comment job checked out any commenter's
//! fork and built ferry there, where cargo ran the fork's `.cargo/config.toml`
//! `rustc-wrapper` with the job's tokens, then saved the build into the default
//! branch's cache. Each test below fails if one of those defences is removed.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::action::{eval_if, release_workflow, workflows, yaml};
use crate::support::repo;

/// What a pull request can put in the job's workspace, and what a job's
/// environment can carry, to run code in or redirect a cargo build: every
/// hook logs to `evil.log` and then does what it stands in for, so a build
/// that used one still succeeds and only the log tells.
struct HostileWorkspace {
    dir: tempfile::TempDir,
}

impl HostileWorkspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let log = root.join("evil.log");
        let hook = |path: &Path, then: &str| {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            ferry_test_support::write_executable(path, &format!("#!/bin/sh\necho \"{} $*\" >> {}\n{then}\n", path.display(), log.display()));
        };
        // [build] rustc-wrapper: cargo runs it for every rustc call.
        hook(&root.join("evil.sh"), "exec \"$@\"");
        std::fs::create_dir_all(root.join(".cargo")).unwrap();
        std::fs::write(root.join(".cargo/config.toml"), format!("[build]\nrustc-wrapper = \"{}\"\n", root.join("evil.sh").display())).unwrap();
        // rust-toolchain.toml naming a directory of scripts as the toolchain.
        let real = |tool: &str| rustup(&["which", tool]);
        hook(&root.join("evil-toolchain/bin/cargo"), &format!("exec {} \"$@\"", real("cargo")));
        hook(&root.join("evil-toolchain/bin/rustc"), &format!("exec {} \"$@\"", real("rustc")));
        std::fs::write(root.join("rust-toolchain.toml"), format!("[toolchain]\npath = \"{}\"\n", root.join("evil-toolchain").display())).unwrap();
        // A linker and a C compiler, for the environment.
        hook(&root.join("evil-cc"), "exec cc \"$@\"");
        // A CARGO_HOME, and a HOME whose ~/.cargo (cargo's default home), with a config.toml that sets a wrapper too.
        for home in ["cargo-home", "home/.cargo"] {
            std::fs::create_dir_all(root.join(home)).unwrap();
            std::fs::write(root.join(home).join("config.toml"), format!("[build]\nrustc-wrapper = \"{}\"\n", root.join("evil.sh").display())).unwrap();
        }
        HostileWorkspace { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path().join("evil.log")).unwrap_or_default()
    }

    /// Variables a job's environment could carry into the build.
    fn env(&self) -> Vec<(String, PathBuf)> {
        let root = self.path();
        let cc = root.join("evil-cc");
        let mut env: Vec<(String, PathBuf)> = ["RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER"]
            .into_iter()
            .map(|name| (name.to_string(), root.join("evil.sh")))
            .collect();
        env.push(("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER".into(), cc.clone()));
        env.push(("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER".into(), cc.clone()));
        env.push(("RUSTFLAGS".into(), format!("-Clinker={}", cc.display()).into()));
        env.push(("CARGO_ENCODED_RUSTFLAGS".into(), format!("-Clinker={}", cc.display()).into()));
        env.push(("CC".into(), cc));
        env.push(("CARGO_HOME".into(), root.join("cargo-home")));
        // The build keeps HOME (rustup's proxies need it) but not HOME's cargo configuration.
        env.push(("HOME".into(), root.join("home")));
        env.push(("RUSTUP_HOME".into(), rustup(&["show", "home"]).into()));
        env.push(("CARGO_TARGET_DIR".into(), root.join("redirected")));
        env.push(("RUSTUP_TOOLCHAIN".into(), root.join("evil-toolchain")));
        env
    }
}

/// `rustup ARGS` from a neutral directory with a plain environment (no
/// RUSTUP_TOOLCHAIN from the cargo running these tests).
fn rustup(args: &[&str]) -> String {
    let out = plain_env(Command::new("rustup").args(args).current_dir("/")).output().expect("rustup");
    assert!(out.status.success(), "rustup {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A runner-like environment: PATH and HOME, none of the CARGO_*/RUSTUP_*
/// variables cargo sets for the test process.
fn plain_env(cmd: &mut Command) -> &mut Command {
    cmd.env_clear();
    for key in ["PATH", "HOME", "RUSTUP_HOME", "CARGO_HOME"] {
        if let Some(value) = std::env::var_os(key) {
            cmd.env(key, value);
        }
    }
    cmd
}

/// A stand-in for the action's directory: the real build scripts beside a
/// minimal cargo project whose `ferry` bin needs no crate (so it builds
/// offline). Its copy of action-build pins this machine's default toolchain,
/// the one toolchain it has, in place of the release's.
fn stand_in_action(dir: &Path) -> PathBuf {
    let action = dir.join("action");
    std::fs::create_dir_all(action.join("scripts")).unwrap();
    std::fs::create_dir_all(action.join("src")).unwrap();
    let build = std::fs::read_to_string(repo().join("scripts/action-build")).unwrap();
    let pin = build.lines().find(|l| l.starts_with("toolchain=")).expect("action-build pins toolchain=").to_string();
    let default = rustup(&["show", "active-toolchain"]);
    let default = default.split_whitespace().next().unwrap();
    ferry_test_support::write_executable(&action.join("scripts/action-build"), &build.replace(&pin, &format!("toolchain={default}")));
    std::fs::copy(repo().join("scripts/install-deps"), action.join("scripts/install-deps")).unwrap();
    std::fs::write(action.join("Cargo.toml"), "[package]\nname = \"ferry\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\n").unwrap();
    std::fs::write(action.join("Cargo.lock"), "version = 4\n\n[[package]]\nname = \"ferry\"\nversion = \"0.0.0\"\n").unwrap();
    std::fs::write(action.join("src/main.rs"), "fn main() { println!(\"stand-in ferry\"); }\n").unwrap();
    action
}

#[test]
fn the_source_build_never_reads_the_workspace_configuration_or_the_jobs_cargo_variables() {
    let hostile = HostileWorkspace::new();
    let work = tempfile::tempdir().unwrap();
    let action = stand_in_action(work.path());

    // Control: the build as action.yml ran it before, from the workspace with
    // --manifest-path, runs the pull request's toolchain and wrapper.
    let old = plain_env(&mut Command::new("cargo"))
        .args(["build", "--release", "--locked", "--offline", "--bin", "ferry", "--manifest-path"])
        .arg(action.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(work.path().join("old-target"))
        .current_dir(hostile.path())
        .output()
        .unwrap();
    assert!(old.status.success(), "{}", String::from_utf8_lossy(&old.stderr));
    let log = hostile.log();
    assert!(log.contains("evil-toolchain/bin/cargo build"), "the control did not run the workspace's toolchain:\n{log}");
    assert!(log.contains("evil.sh rustc"), "the control did not run the workspace's rustc-wrapper:\n{log}");
    std::fs::remove_file(hostile.path().join("evil.log")).unwrap();

    // The action's build, from the same workspace, with every variable set.
    let output = work.path().join("github-output");
    let out = Command::new(action.join("scripts/action-build")).current_dir(hostile.path()).envs(hostile.env()).env("GITHUB_OUTPUT", &output).output().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{printed}");
    assert_eq!(hostile.log(), "", "the build ran a hook of the workspace or the environment:\n{printed}");
    assert!(!hostile.path().join("redirected").exists(), "CARGO_TARGET_DIR redirected the build");
    let bin = action.join("target/release/ferry");
    assert_eq!(std::fs::read_to_string(&output).unwrap(), format!("bin={}\n", bin.display()));
    assert_eq!(Command::new(&bin).output().unwrap().stdout, b"stand-in ferry\n");
}

/// Every step of action.yml.
fn action_steps() -> Vec<Value> {
    yaml(&repo().join("action.yml"))["runs"]["steps"].as_array().unwrap().clone()
}

/// Every step of every job of a workflow file.
fn workflow_steps(workflow: &Value) -> Vec<Value> {
    workflow["jobs"].as_object().unwrap().values().flat_map(|job| job["steps"].as_array().unwrap().clone()).collect()
}

fn uses(step: &Value) -> &str {
    step["uses"].as_str().unwrap_or("")
}

#[test]
fn every_step_that_installs_or_builds_runs_in_the_actions_own_directory() {
    let tools = ["cargo", "rustup", "action-install", "action-build", "install-deps"];
    let mut checked = Vec::new();
    for step in action_steps() {
        let Some(run) = step["run"].as_str() else { continue };
        if !tools.iter().any(|tool| run.contains(tool)) {
            continue;
        }
        assert_eq!(step["working-directory"], "${{ github.action_path }}", "step {:?} must run in the action's directory", step["name"]);
        // Cargo and rustup only through the script that cleans their environment.
        assert!(
            !run.split(|c: char| !c.is_ascii_alphanumeric() && c != '-').any(|word| word == "cargo" || word == "rustup"),
            "step {:?} runs cargo itself",
            step["name"]
        );
        checked.push(step["id"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(checked, ["install", "build"]);

    // The release builds with the same script.
    let release = yaml(&release_workflow());
    assert!(workflow_steps(&release).iter().any(|s| s["run"] == "scripts/action-build"), "the release does not build with scripts/action-build");
}

#[test]
fn no_cache_is_saved_by_an_untrusted_event() {
    let mut saves = Vec::new();
    let mut steps: Vec<(String, Value)> = action_steps().into_iter().map(|s| ("action.yml".to_string(), s)).collect();
    for file in workflows().into_iter().chain([release_workflow()]) {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        steps.extend(workflow_steps(&yaml(&file)).into_iter().map(|s| (name.clone(), s)));
    }
    for (file, step) in &steps {
        // actions/cache saves in its post step, whatever the event: restore and save are separate.
        assert!(!uses(step).starts_with("actions/cache@"), "{file}: {step}");
        if uses(step).starts_with("actions/cache/save@") {
            saves.push((file.clone(), step.clone()));
        }
        if file == "release.yml" {
            assert!(!uses(step).starts_with("actions/cache"), "the release restores or saves a cache: {step}");
        }
    }
    assert_eq!(saves.len(), 1, "{saves:?}");
    let (file, save) = &saves[0];
    assert_eq!(file, "action.yml");

    let events =
        ["push", "workflow_dispatch", "schedule", "issue_comment", "pull_request_target", "pull_request", "workflow_run", "release", "pull_request_review"];
    let contexts = |event: &str| {
        json!({
            "github": { "event_name": event },
            "steps": { "install": { "outputs": { "prebuilt": "false" } }, "restore": { "outputs": { "cache-hit": "false" } } },
        })
    };
    let condition = save["if"].as_str().expect("the save step has an if:");
    let cases: Vec<(&str, Value)> = events.iter().map(|event| (condition, contexts(event))).collect();
    let saved: Vec<&str> = events.iter().zip(eval_if(&cases)).filter(|(_, saves)| *saves).map(|(event, _)| *event).collect();
    assert_eq!(saved, ["push", "workflow_dispatch", "schedule"]);

    // It saves what the restore step looks up, keyed by ferry's version and source.
    let restore = action_steps().into_iter().find(|s| uses(s).starts_with("actions/cache/restore@")).unwrap();
    assert_eq!(restore["with"]["key"], save["with"]["key"]);
    assert_eq!(restore["with"]["path"], save["with"]["path"]);
    let key = save["with"]["key"].as_str().unwrap();
    assert!(key.contains("steps.install.outputs.version") && key.contains("steps.install.outputs.source"), "{key}");
    // No partial match: another source's target/ could look fresh to cargo.
    assert_eq!(restore["with"].get("restore-keys"), None);
}

/// The example workflows that run on a comment or with the base repository's
/// secrets for any pull request.
fn comment_workflows() -> Vec<(PathBuf, Value)> {
    let found: Vec<_> = workflows()
        .into_iter()
        .map(|file| {
            let workflow = yaml(&file);
            (file, workflow)
        })
        .filter(|(_, w)| w["on"].get("issue_comment").is_some() || w["on"].get("pull_request_target").is_some())
        .collect();
    assert!(!found.is_empty());
    found
}

#[test]
fn only_the_repositorys_people_can_start_the_comment_workflow() {
    let comment = |association: &str, body: &str, on_pull_request: bool| {
        let mut issue = json!({ "number": 7 });
        if on_pull_request {
            issue["pull_request"] = json!({ "url": "https://api.github.com/repos/o/r/pulls/7" });
        }
        json!({ "github": { "event_name": "issue_comment", "event": {
            "issue": issue, "comment": { "body": body, "author_association": association } } } })
    };
    for (file, workflow) in comment_workflows() {
        for (name, job) in workflow["jobs"].as_object().unwrap() {
            let condition = job["if"].as_str().unwrap_or_else(|| panic!("{}: job {name} has no if:", file.display()));
            let mut cases = Vec::new();
            for association in ["OWNER", "MEMBER", "COLLABORATOR"] {
                cases.push(((association, true), comment(association, "/ferry apply", true)));
            }
            for association in ["CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "MANNEQUIN", "NONE"] {
                cases.push(((association, false), comment(association, "/ferry apply", true)));
            }
            // An owner's comment on an issue, or one that is not a command, starts nothing either.
            cases.push((("OWNER on an issue", false), comment("OWNER", "/ferry apply", false)));
            cases.push((("OWNER, no command", false), comment("OWNER", "looks good", true)));
            cases.push((("workflow_dispatch", true), json!({ "github": { "event_name": "workflow_dispatch", "event": {} } })));
            let results = eval_if(&cases.iter().map(|(_, ctx)| (condition, ctx.clone())).collect::<Vec<_>>());
            for (((who, expected), _), runs) in cases.iter().zip(results) {
                assert_eq!(runs, *expected, "{}: job {name} for {who}", file.display());
            }
        }
    }
}

#[test]
fn no_comment_workflow_checks_out_pull_request_code() {
    for (file, workflow) in comment_workflows() {
        let text = std::fs::read_to_string(&file).unwrap();
        for head in ["refs/pull/", "head.sha", "head.ref", "head_ref", "head_sha", "pull_request.head", "merge_commit_sha"] {
            assert!(!text.contains(head), "{} names the pull request's code ({head})", file.display());
        }
        let checkouts: Vec<Value> = workflow_steps(&workflow).into_iter().filter(|s| uses(s).starts_with("actions/checkout@")).collect();
        assert!(!checkouts.is_empty());
        for step in checkouts {
            // The workflow's own commit of the default branch, and no token left in .git/config.
            assert_eq!(step["with"].get("ref"), None, "{}: {step}", file.display());
            assert_eq!(step["with"].get("repository"), None, "{}: {step}", file.display());
            assert_eq!(step["with"]["persist-credentials"], false, "{}: {step}", file.display());
        }
    }
}

#[test]
fn the_release_builds_each_target_the_installer_knows_natively_and_pins_it() {
    let release = yaml(&release_workflow());
    assert_eq!(release["on"], json!({ "push": { "tags": ["v[0-9]+.[0-9]+.[0-9]+"] } }));
    let build = &release["jobs"]["build"];
    let matrix = build["strategy"]["matrix"]["include"].as_array().unwrap();
    let targets: Vec<(&str, &str)> = matrix.iter().map(|m| (m["target"].as_str().unwrap(), m["runner"].as_str().unwrap())).collect();
    assert_eq!(targets, [("x86_64-unknown-linux-gnu", "ubuntu-22.04"), ("aarch64-unknown-linux-gnu", "ubuntu-22.04-arm")]);
    let install = std::fs::read_to_string(repo().join("scripts/action-install")).unwrap();
    for (target, _) in &targets {
        assert!(install.contains(&format!(") target={target} ;;")), "the installer does not map a runner to {target}");
    }
    // Built without the publishing token; only the publish job may write.
    assert_eq!(release["permissions"], json!({ "contents": "read" }));
    assert_eq!(build["permissions"]["contents"], "read");
    let steps = workflow_steps(&json!({ "jobs": { "build": build } }));
    let checkout = steps.iter().find(|s| uses(s).starts_with("actions/checkout@")).unwrap();
    assert_eq!(checkout["with"]["persist-credentials"], false);
    let publish = release["jobs"]["publish"]["steps"].as_array().unwrap();
    assert!(publish.iter().any(|s| s["run"].as_str().is_some_and(|r| r.contains("scripts/action-pin "))), "the release never pins its binaries");
}
