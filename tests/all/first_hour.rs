//! What a new user meets in the first hour: workflows that would succeed
//! while doing nothing, and printed next commands that must work as printed.

use crate::support::github::{FakeGitHub, JOB_FLY, Job, Pull, output, pull_request_event, push_event};

/// A ferry.toml of checks alone, as a repository has before it adds a deploy.
const CHECKS_ONLY: &str = "[[steps]]\nname = \"parse-config\"\n";

#[test]
fn a_push_whose_workflow_cannot_deploy_fails_saying_what_is_missing() {
    let fake = FakeGitHub::start("");
    let job = Job::with_files(&[("ferry.toml", CHECKS_ONLY)]);
    let sha = job.git.commit_to_main(&[("README", "straight to main\n")]);
    // Even opted in to unreviewed pushes: an empty "Applied" would tell the
    // team its merge was deployed.
    let (code, _, stderr, outputs, summary) = job.run(&fake, "push", push_event(&sha), &["--allow-unreviewed"], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nothing to apply: ferry.toml runs only steps that read (parse-config)"), "{stderr}");
    assert!(stderr.contains("name = \"deploy\""), "says what to add: {stderr}");
    assert_eq!(output(&outputs, "outcome"), None, "no outcome: {outputs}");
    assert!(!summary.contains("Applied"), "{summary}");
    assert_eq!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap(), JOB_FLY);
}

#[test]
fn a_pull_requests_plan_says_when_merging_it_deploys_nothing() {
    let fake = FakeGitHub::start("");
    let job = Job::with_files(&[("ferry.toml", CHECKS_ONLY)]);
    let head = job.git.pull_request(12, &[("README", "a change\n")]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let (code, _, stderr, _, _) = job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &[]);
    assert_eq!(code, 0, "{stderr}");
    let comments = fake.comments_on(12);
    assert!(
        comments.iter().any(|c| c.body.contains("Merging this deploys nothing: ferry.toml runs only steps that read")),
        "{:?}",
        comments.iter().map(|c| &c.body).collect::<Vec<_>>()
    );
    // The workflow that deploys gets the usual instruction instead.
    let job = Job::new();
    let head = job.git.pull_request(13, &[]);
    fake.state().pulls.insert(13, Pull::open(&head));
    assert_eq!(job.run(&fake, "pull_request", pull_request_event(13, &head), &[], &[]).0, 0);
    assert!(fake.comments_on(13).iter().all(|c| !c.body.contains("deploys nothing")));
}

/// The command a text plan ends with: "Next: review it, then `…`".
fn printed_next(stdout: &str) -> Vec<String> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("Next: review it, then `")).unwrap_or_else(|| panic!("no next command in:\n{stdout}"));
    line.trim_end_matches('`').split_whitespace().map(String::from).collect()
}

#[test]
fn a_plans_next_command_works_as_printed_from_another_directory() {
    let job = Job::new();
    let (state, elsewhere) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut plan = crate::support::ferry(&elsewhere.path().join("cache"));
    plan.current_dir(elsewhere.path()).env_remove("GITHUB_ACTIONS").arg("plan").arg("--dir").arg(job.path()).arg("--state").arg(state.path());
    let (code, stdout, stderr) = crate::support::run(&mut plan);
    assert_eq!(code, 0, "{stderr}");
    let next = printed_next(&stdout);
    assert_eq!(next[1..4], ["apply", "--dir", job.path().to_str().unwrap()], "{next:?}");
    let (code, stdout, stderr) = crate::support::run_printed(&next, &plan);
    assert_eq!(code, 0, "{next:?}: {stdout}{stderr}");
    assert!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap().contains("primary_region = \"ams\""));
}

#[test]
fn a_deploy_plan_is_applied_by_the_command_it_prints() {
    let world = crate::support::fly::FlyWorld::start("shop", "app = \"shop\"\nprimary_region = \"ams\"\n\n[http_service]\n  internal_port = 8080\n");
    world.healthy("registry.fly.io/shop:v1", "v1");
    let mut deploy = world.deploy_cmd(&["--plan-only", "--image", "registry.fly.io/shop:v1"]);
    let (code, stdout, stderr) = crate::support::run(&mut deploy);
    assert_eq!(code, 0, "{stderr}");
    let next = printed_next(&stdout);
    assert_eq!(next[1], "deploy", "applied by the same deploy, not `ferry apply`: {next:?}");
    assert!(!next.contains(&"--plan-only".to_string()), "{next:?}");
    let (code, stdout, stderr) = crate::support::run_printed(&next, &deploy);
    assert_eq!(code, 0, "{next:?}: {stdout}{stderr}");
    let versions = world.versions("shop");
    assert!(!versions.is_empty() && versions.iter().all(|v| v == "v1"), "{versions:?}");
}

/// Runs ferry in `dir` as a person at a shell would (no terminal: tests have none).
fn ferry_at(dir: &std::path::Path, state: &std::path::Path, args: &[&str]) -> (std::process::Command, (i32, String, String)) {
    let mut cmd = crate::support::ferry(&dir.join(".cache"));
    cmd.current_dir(dir).env_remove("GITHUB_ACTIONS").args(args).arg("--state").arg(state);
    let out = crate::support::run(&mut cmd);
    (cmd, out)
}

/// The run a text apply result names: "ferry apply: shop, phase deploy, run R".
fn run_of(stdout: &str) -> String {
    stdout.lines().find_map(|l| l.split(", run ").nth(1)).unwrap_or_else(|| panic!("no run in:\n{stdout}")).trim().to_string()
}

#[test]
fn abort_shows_what_it_undoes_and_acts_only_when_confirmed_on_the_run_that_changed_something() {
    let job = Job::new();
    let state = tempfile::tempdir().unwrap();
    let (_, (code, stdout, stderr)) = ferry_at(job.path(), state.path(), &["apply"]);
    assert_eq!(code, 0, "{stderr}");
    let changed = run_of(&stdout);
    // A later run that changes nothing (a workflow of checks) is not the
    // one an abort is about.
    let workflow = std::fs::read_to_string(job.path().join("ferry.toml")).unwrap();
    std::fs::write(job.path().join("ferry.toml"), CHECKS_ONLY).unwrap();
    let (_, (code, stdout, stderr)) = ferry_at(job.path(), state.path(), &["apply"]);
    assert_eq!(code, 0, "{stderr}");
    assert_ne!(run_of(&stdout), changed);
    std::fs::write(job.path().join("ferry.toml"), workflow).unwrap();
    let edited = std::fs::read_to_string(job.path().join("fly.toml")).unwrap();
    assert!(edited.contains("primary_region = \"ams\""));

    let (abort, (code, stdout, stderr)) = ferry_at(job.path(), state.path(), &["abort"]);
    assert_eq!(code, 1, "no terminal, no --yes: nothing is undone\n{stdout}{stderr}");
    assert!(stdout.contains(&format!("ferry abort: shop, run {changed}")), "names the run that changed something: {stdout}");
    assert!(stdout.contains("1. [safe] undo `") && stdout.contains("puts the previous value back"), "{stdout}");
    assert!(stderr.contains("nothing undone"), "{stderr}");
    assert_eq!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap(), edited);

    let next = printed_next(&stdout);
    assert!(next.windows(2).any(|w| w == ["--run", changed.as_str()]), "{next:?}");
    let (code, stdout, stderr) = crate::support::run_printed(&next, &abort);
    assert_eq!(code, 0, "{next:?}: {stdout}{stderr}");
    assert_eq!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap(), JOB_FLY, "the printed command undid the edit");
    // Nothing is left to undo now, and the abort says so without acting.
    let (_, (code, _, stderr)) = ferry_at(job.path(), state.path(), &["abort", "--run", &changed]);
    assert_eq!(code, 0, "{stderr}");
}

/// The README's sample plan is what ferry prints for the bundled example,
/// byte for byte, so it cannot go stale.
#[test]
fn the_readmes_sample_plan_is_what_ferry_prints() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let intro = readme.find("`ferry plan --dir examples/hello-fly` reads").expect("the README shows a sample plan");
    let start = readme[intro..].find("```text\n").unwrap() + intro + "```text\n".len();
    let sample = &readme[start..start + readme[start..].find("```").unwrap()];
    let state = tempfile::tempdir().unwrap();
    let mut plan = crate::support::ferry(&state.path().join("cache"));
    plan.current_dir(repo).args(["plan", "--dir", "examples/hello-fly", "--state"]).arg(state.path());
    plan.env_remove("FLY_API_TOKEN").env_remove("FLY_ACCESS_TOKEN").env_remove("GITHUB_ACTIONS");
    let (code, stdout, stderr) = crate::support::run(&mut plan);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(sample, stdout, "README.md's sample plan is stale: replace it with what ferry printed");
}

#[test]
fn a_confirmed_abort_in_json_is_one_document_and_an_unconfirmed_one_is_the_preview() {
    let job = Job::new();
    let state = tempfile::tempdir().unwrap();
    assert_eq!(ferry_at(job.path(), state.path(), &["apply"]).1.0, 0);
    let (_, (code, stdout, _)) = ferry_at(job.path(), state.path(), &["abort", "--format", "json"]);
    assert_eq!(code, 1);
    let preview: serde_json::Value = serde_json::from_str(&stdout).expect("the preview is one JSON document");
    assert_eq!(preview["abort"]["undos"].as_array().map(Vec::len), Some(1), "{preview}");
    let hash = preview["hash"].as_str().unwrap()[..12].to_string();
    let (_, (code, stdout, stderr)) = ferry_at(job.path(), state.path(), &["abort", "--format", "json", "--plan-hash", &hash]);
    assert_eq!(code, 0, "{stderr}");
    serde_json::from_str::<serde_json::Value>(&stdout).expect("the journal alone, one JSON document");
    assert_eq!(std::fs::read_to_string(job.path().join("fly.toml")).unwrap(), JOB_FLY);
}

/// `ferry plan` on the example with an empty compile cache, as a fresh CI
/// job runs it: (exit code, stderr with debug logs).
fn cold_plan(ferry: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let cache = tempfile::tempdir().unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut plan = std::process::Command::new(ferry);
    plan.args(["plan", "--dir"]).arg(repo.join("examples/hello-fly")).args(extra);
    plan.env("FERRY_CACHE_DIR", cache.path()).env("XDG_CONFIG_HOME", cache.path().join("config")).env("FERRY_LOG", "ferry_runtime=debug");
    plan.env_remove("FLY_API_TOKEN").env_remove("FLY_ACCESS_TOKEN").env_remove("GITHUB_ACTIONS");
    let (code, _, stderr) = crate::support::run(&mut plan);
    (code, stderr)
}

/// A release binary carries its built-in steps compiled: the first plan on
/// a fresh machine compiles nothing. `--no-step-cache` and a bundle written by
/// another ferry version compile as before.
#[test]
fn a_precompiled_ferry_plans_on_a_fresh_machine_without_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ferry");
    let mut precompile = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    precompile.args(["steps", "precompile", "--out"]).arg(&out);
    let (code, stdout, stderr) = crate::support::run(&mut precompile);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("7 built-in steps precompiled for"), "{stdout}");
    let plain = std::fs::metadata(env!("CARGO_BIN_EXE_ferry")).unwrap().len();
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(size > plain, "the bundle is appended");

    let (code, log) = cold_plan(&out, &[]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("from=Precompiled") && !log.contains("from=Compiler"), "{log}");
    let (code, log) = cold_plan(&out, &["--no-step-cache"]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("from=Compiler") && !log.contains("from=Precompiled"), "{log}");

    // Precompiling a precompiled ferry replaces its bundle: same size.
    let again = dir.path().join("again");
    let mut precompile = std::process::Command::new(&out);
    precompile.args(["steps", "precompile", "--out"]).arg(&again);
    assert_eq!(crate::support::run(&mut precompile).0, 0);
    assert_eq!(std::fs::metadata(&again).unwrap().len(), size);

    // A bundle another ferry version wrote is not used.
    let mut bytes = std::fs::read(&out).unwrap();
    let line = format!("ferry {}\n", env!("CARGO_PKG_VERSION"));
    let at = bytes.windows(line.len()).rposition(|w| w == line.as_bytes()).expect("the bundle's index names ferry's version");
    bytes[at + "ferry ".len()] = b'X';
    std::fs::write(&out, bytes).unwrap();
    let (code, log) = cold_plan(&out, &[]);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("from=Compiler") && !log.contains("from=Precompiled"), "{log}");
}

/// The README's fenced block that contains `needle`.
fn readme_block(needle: &str) -> String {
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let at = readme.find(needle).unwrap_or_else(|| panic!("README.md shows `{needle}`"));
    let start = readme[..at].rfind("```").unwrap();
    let start = start + readme[start..].find('\n').unwrap() + 1;
    readme[start..at + readme[at..].find("```").unwrap()].to_string()
}

/// The README's "against the emulator" commands, run as written (the
/// emulator started here, PORT its port, `ferry` this build), and the JSON
/// its deploy and plan samples promise.
#[test]
fn the_readmes_emulator_commands_deploy_as_written_and_its_json_samples_hold() {
    let block = readme_block("cargo run --release -p ferry-fly-emulator -- serve");
    let emulator = ferry_fly_emulator::FlyEmulator::start(ferry_fly_emulator::locate_binary().unwrap()).unwrap();
    let port = emulator.url().rsplit(':').next().unwrap().trim_end_matches('/').to_string();
    let script: Vec<String> = block
        .lines()
        .filter(|l| !l.starts_with("cargo run"))
        .map(|l| l.replace("PORT", &port))
        .map(|l| l.strip_prefix("ferry ").map(|rest| format!("\"$FERRY\" {rest}")).unwrap_or(l))
        .collect();
    let state = tempfile::tempdir().unwrap();
    let mut bash = std::process::Command::new("bash");
    bash.args(["-euo", "pipefail", "-c", &script.join("\n")]).current_dir(env!("CARGO_MANIFEST_DIR"));
    bash.env("FERRY", env!("CARGO_BIN_EXE_ferry")).env("FERRY_STATE", state.path()).env("FERRY_CACHE_DIR", state.path().join("cache"));
    bash.env("FERRY_FLY_POLL", "100ms").env_remove("GITHUB_ACTIONS").env_remove("FERRY_LOG");
    let (code, stdout, stderr) = crate::support::run(&mut bash);
    assert_eq!(code, 0, "the README's commands failed:\n{}\n{stdout}{stderr}", script.join("\n"));
    assert!(stdout.contains("shop now runs release"), "{stdout}");

    // `ferry deploy --image … --format json | jq .release` → {"id": "01…", "version": "7"}:
    // Fly's release record (a ULID) and its version.
    let sample = readme_block("| jq .release");
    assert!(sample.contains(r#"{"id": "01…", "version": "7"}"#), "{sample}");
    let mut deploy = crate::support::ferry(&state.path().join("cache"));
    deploy.args(["deploy", "--dir", "examples/hello-fly", "--app", "shop", "--image", "registry.fly.io/shop:v1", "--format", "json"]);
    deploy.current_dir(env!("CARGO_MANIFEST_DIR")).env("FERRY_STATE", state.path()).env_remove("GITHUB_ACTIONS");
    for (k, v) in [("FLY_API_TOKEN", "x"), ("FLY_API_BASE_URL", emulator.url()), ("FLY_FLAPS_BASE_URL", emulator.url()), ("FLY_UIEX_BASE_URL", emulator.url())]
    {
        deploy.env(k, v);
    }
    let (code, stdout, stderr) = crate::support::run(&mut deploy);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("fly-api"), "--app shop reads shop's live state, not fly.toml's app's: {stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    let release = &json["release"];
    assert!(
        release["id"].as_str().is_some_and(|id| id.len() == 26 && id.starts_with("01"))
            && release["version"].as_str().is_some_and(|v| v.parse::<u32>().is_ok()),
        "{json}"
    );

    // `ferry plan --format json | jq '.plan.app.services[] | {internal_port, ports: [.ports[].port]}'`
    assert!(readme_block("ferry plan --format json | jq").contains(".plan.app.services[] | {internal_port, ports: [.ports[].port]}"));
    let mut plan = crate::support::ferry(&state.path().join("cache"));
    plan.args(["plan", "--format", "json", "--dir", "examples/hello-fly"]).current_dir(env!("CARGO_MANIFEST_DIR")).env("FERRY_STATE", state.path());
    let (code, stdout, stderr) = crate::support::run(plan.env_remove("FLY_API_TOKEN").env_remove("GITHUB_ACTIONS"));
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let services: Vec<(u64, Vec<u64>)> = json["plan"]["app"]["services"]
        .as_array()
        .expect(".plan.app.services")
        .iter()
        .map(|s| (s["internal_port"].as_u64().unwrap(), s["ports"].as_array().unwrap().iter().map(|p| p["port"].as_u64().unwrap()).collect()))
        .collect();
    assert_eq!(services, [(8080, vec![80, 443])]);
}

/// `ferry ARGS` on a terminal (a pseudo-terminal), typing `answer` at its
/// `[y/N]`: (exit code, what the terminal showed).
fn on_a_terminal(dir: &std::path::Path, answer: &str, args: &[&str]) -> (i32, String) {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/on_a_terminal.py");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(tool).arg(answer).arg(env!("CARGO_BIN_EXE_ferry")).args(args).arg("--dir").arg(dir);
    cmd.env("FERRY_CACHE_DIR", dir.join(".cache")).env("FERRY_STATE", dir.join(".state")).env_remove("GITHUB_ACTIONS").env_remove("FLY_API_TOKEN");
    let (code, out, err) = crate::support::run(&mut cmd);
    (code, format!("{out}{err}"))
}

/// A destructive apply at a terminal without a reviewed hash asks first:
/// "n" (or anything but yes) applies nothing, "y" applies, `--yes` asks
/// nothing; in a pipe nothing is asked either.
#[test]
fn a_destructive_apply_on_a_terminal_asks_first() {
    let sha = crate::support::sha256_hex(&ferry_test_guests::bytes(ferry_test_guests::PROPOSES));
    let workflow = format!(
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"wipe\"\ncomponent = \"proposes.wasm\"\nsha256 = \"{sha}\"\nactions = [\"checkout\"]\n\
         params = {{ op = \"edit-config\", risk = \"destructive\", summary = \"turn up the logs\" }}\n"
    );
    let fly = "app = \"shop\"\n\n[env]\n  LOG_LEVEL = \"info\"\n";
    let co = crate::support::checkout(&[("fly.toml", fly), ("ferry.toml", &workflow)]);
    std::fs::copy(ferry_test_guests::PROPOSES, co.path().join("proposes.wasm")).unwrap();
    let read = || std::fs::read_to_string(co.path().join("fly.toml")).unwrap();

    let (code, shown) = on_a_terminal(co.path(), "n", &["apply"]);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("This plan has 1 destructive action(s):") && shown.contains("Apply it? [y/N]"), "{shown}");
    assert!(shown.contains("nothing applied: not confirmed (give --yes, or --plan-hash after review)"), "{shown}");
    assert_eq!(read(), fly, "nothing applied");

    let (code, shown) = on_a_terminal(co.path(), "y", &["apply"]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Apply it? [y/N]") && shown.contains("Applied"), "{shown}");
    assert!(read().contains("LOG_LEVEL = \"debug\""), "{}", read());

    // Each case from the start: fly.toml as it was, no journal of the last.
    let reset = || {
        std::fs::write(co.path().join("fly.toml"), fly).unwrap();
        std::fs::remove_dir_all(co.path().join(".state")).unwrap();
    };
    reset();
    let (code, shown) = on_a_terminal(co.path(), "", &["apply", "--yes"]);
    assert_eq!(code, 0, "{shown}");
    assert!(!shown.contains("[y/N]"), "--yes asks nothing: {shown}");
    assert!(read().contains("LOG_LEVEL = \"debug\""));

    reset();
    let mut piped = crate::support::ferry(&co.path().join(".cache"));
    piped.args(["apply", "--dir"]).arg(co.path()).env("FERRY_STATE", co.path().join(".state")).env_remove("GITHUB_ACTIONS");
    let (code, out, err) = crate::support::run(piped.stdin(std::process::Stdio::null()));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains("[y/N]"), "a pipe is not asked: {err}");
    assert!(read().contains("LOG_LEVEL = \"debug\""));
}
