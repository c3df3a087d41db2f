//! `ferry deploy` against the Fly Machines API emulator, whose machines are
//! real processes that serve their image's version: every strategy's happy
//! path, and every failure path ending with the old version served by every
//! machine.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::fly::FlyWorld;

const APP: &str = "shop";
const V1: &str = "registry.fly.io/shop:v1";
const V2: &str = "registry.fly.io/shop:v2";

/// A web group behind a health-checked HTTP service, a worker group, and a
/// release command.
const FLY_TOML: &str = r#"
app = "shop"
primary_region = "ams"

[processes]
  web = "serve"
  worker = "work"

[deploy]
  release_command = "migrate"

[http_service]
  internal_port = 8080
  processes = ["web"]

  [[http_service.checks]]
    interval = "1s"
    timeout = "1s"
    path = "/healthz"
"#;

/// An app running v1 on two web machines and one worker.
fn running_v1() -> FlyWorld {
    let world = FlyWorld::start(APP, FLY_TOML);
    world.healthy(V1, "v1").healthy(V2, "v2");
    let (code, out, err) = world.deploy(&["--image", V1]);
    assert_eq!(code, 0, "first deploy: {out}{err}");
    assert_eq!(world.versions(APP), ["v1", "v1"]);
    world.clear_requests();
    world
}

fn config_images(world: &FlyWorld) -> Vec<String> {
    let mut images: Vec<String> = world.machines(APP).iter().map(|m| m["config"]["image"].as_str().unwrap().to_string()).collect();
    images.sort();
    images.dedup();
    images
}

/// The web group's machine ids, sorted (the spearhead first).
fn web_ids(world: &FlyWorld) -> Vec<String> {
    let mut web: Vec<String> = world
        .machines(APP)
        .into_iter()
        .filter(|m| m["config"]["metadata"]["fly_process_group"] == "web")
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    web.sort();
    web
}

/// Machine updates the API received: `POST /v1/apps/shop/machines/{id}`.
fn machine_updates(world: &FlyWorld) -> Vec<Value> {
    let prefix = format!("/v1/apps/{APP}/machines/");
    world
        .requests()
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"].as_str().and_then(|p| p.strip_prefix(&prefix)).is_some_and(|id| !id.contains('/')))
        .collect()
}

/// Creates the API received whose machine metadata has `key` = `value`.
fn creates_with(world: &FlyWorld, key: &str, value: &str) -> usize {
    world
        .requests()
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == format!("/v1/apps/{APP}/machines") && r["body"]["config"]["metadata"][key] == value)
        .count()
}

#[test]
fn first_deploy_creates_groups_and_addresses_then_rolling_updates_every_machine() {
    let world = FlyWorld::start(APP, FLY_TOML);
    world.healthy(V1, "v1").healthy(V2, "v2");
    let (code, out, err) = world.deploy(&["--image", V1]);
    assert_eq!(code, 0, "{out}{err}");
    let machines = world.machines(APP);
    assert_eq!(machines.len(), 3, "two web machines (HA), one worker; the release command machine is gone");
    for m in &machines {
        let meta = &m["config"]["metadata"];
        assert_eq!(meta["fly_platform_version"], "v2");
        // The release the API created and numbered for this deploy.
        assert_eq!(meta["fly_release_version"], "1");
        assert_eq!(meta["fly_release_id"], current_release(&world)["id"]);
        assert!(!meta["fly_release_id"].as_str().unwrap().is_empty());
        assert!(["web", "worker"].contains(&meta["fly_process_group"].as_str().unwrap()));
    }
    assert_eq!(world.versions(APP), ["v1", "v1"]);
    let ips = world.api("GET", &format!("/v1/apps/{APP}/ip_assignments"), None);
    assert_eq!(ips["ips"].as_array().or(ips.as_array()).map(Vec::len), Some(2), "a dedicated v6 and a shared v4: {ips}");
    let creates: Vec<Value> = world.requests().into_iter().filter(|r| r["method"] == "POST" && r["path"] == format!("/v1/apps/{APP}/machines")).collect();
    assert_eq!(creates[0]["body"]["config"]["metadata"]["fly_process_group"], "fly_app_release_command", "the release command runs first");

    world.clear_requests();
    let (code, out, err) = world.deploy(&["--image", V2, "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["release"]["version"], "2");
    assert_eq!(result["image"], V2);
    assert_eq!(result["machines"].as_array().unwrap().len(), 3);
    assert_eq!(world.versions(APP), ["v2", "v2"]);
    assert_eq!(config_images(&world), [V2]);
    let updates = machine_updates(&world);
    assert_eq!(updates.len(), 3, "each machine updated once");
    assert!(updates.iter().all(|r| r["lease_nonce"].is_string()), "updates carry the lease nonce");

    world.clear_requests();
    let (code, out, err) = world.deploy(&["--image", V2]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("nothing to deploy") || out.contains("nothing to deploy"), "{out}{err}");
    assert_eq!(creates_with(&world, "fly_process_group", "fly_app_release_command"), 0, "nothing changes, nothing runs");
}

#[test]
fn immediate_updates_every_machine_without_a_health_wait() {
    let world = running_v1();
    let (code, out, err) = world.deploy(&["--image", V2, "--strategy", "immediate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(config_images(&world), [V2]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while world.versions(APP) != ["v2", "v2"] && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(world.versions(APP), ["v2", "v2"]);
}

#[test]
fn canary_tries_one_extra_machine_per_group_first() {
    let world = running_v1();
    let before = world.machine_ids(APP);
    let (code, out, err) = world.deploy(&["--image", V2, "--strategy", "canary"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(creates_with(&world, "fly_canary", "true"), 2, "one canary per group");
    assert_eq!(world.machine_ids(APP), before, "canaries are gone; the same machines were updated");
    assert_eq!(world.versions(APP), ["v2", "v2"]);
}

#[test]
fn bluegreen_replaces_every_machine_and_keeps_serving() {
    let world = running_v1();
    let before = world.machine_ids(APP);
    let (code, out, err) = world.deploy(&["--image", V2, "--strategy", "bluegreen", "--bluegreen-drain", "200ms"]);
    assert_eq!(code, 0, "{out}{err}");
    let after = world.machine_ids(APP);
    assert_eq!(after.len(), 3);
    assert!(after.iter().all(|id| !before.contains(id)), "every blue is gone: {before:?} -> {after:?}");
    assert!(world.machines(APP).iter().all(|m| m["cordoned"] == false), "greens are in rotation");
    assert_eq!(world.versions(APP), ["v2", "v2"]);
}

/// Deploys `image` expecting a failure, then checks every machine still
/// runs v1 and serves it, and returns the report.
fn fails_and_v1_serves(world: &FlyWorld, args: &[&str]) -> String {
    let before = world.machine_ids(APP);
    let (code, out, err) = world.deploy(args);
    assert_eq!(code, 1, "the deploy must fail: {out}{err}");
    assert_eq!(config_images(world), [V1], "every machine has its old config back: {out}{err}");
    assert_eq!(world.versions(APP), ["v1", "v1"], "{out}{err}");
    assert_eq!(world.machine_ids(APP), before, "no machine left behind or lost");
    format!("{out}{err}")
}

#[test]
fn an_image_that_does_not_exist_is_rolled_back() {
    let world = running_v1();
    let report = fails_and_v1_serves(&world, &["--image", "registry.fly.io/shop:typo", "--skip-release-command"]);
    assert!(report.contains("image not found") || report.contains("typo"), "{report}");
    assert!(report.contains("rolled back") || report.contains("undone"), "{report}");
}

#[test]
fn a_crashing_machine_fails_the_deploy_at_once_and_is_rolled_back() {
    let world = running_v1();
    world.image("registry.fly.io/shop:crash", json!({"kind": "crash", "exit_code": 3}));
    let started = Instant::now();
    let report = fails_and_v1_serves(&world, &["--image", "registry.fly.io/shop:crash", "--wait-timeout", "2m", "--skip-release-command"]);
    assert!(started.elapsed() < Duration::from_secs(40), "fail fast, not after the 2 min wait timeout: {:?}", started.elapsed());
    assert!(report.contains("exit code 3") || report.contains("exit_code: 3") || report.contains("crash"), "{report}");
}

#[test]
fn a_machine_that_never_becomes_healthy_is_rolled_back_after_the_wait_timeout() {
    let world = running_v1();
    world.image("registry.fly.io/shop:sick", json!({"kind": "unhealthy"}));
    let report = fails_and_v1_serves(&world, &["--image", "registry.fly.io/shop:sick", "--wait-timeout", "3s", "--skip-release-command"]);
    assert!(report.contains("check"), "the report names the failing check: {report}");
}

#[test]
fn a_failing_release_command_stops_the_deploy_before_any_machine_changes() {
    let world = running_v1();
    world.image(
        "registry.fly.io/shop:badmigration",
        json!({"kind": "healthy", "body": "v3", "release_exit_code": 3, "release_output": ["running migrations", "ERROR: relation \"users\" already exists"]}),
    );
    let report = fails_and_v1_serves(&world, &["--image", "registry.fly.io/shop:badmigration"]);
    assert!(report.contains("exit code 3"), "{report}");
    assert!(
        report.contains("relation \"users\" already exists") || report.contains("relation \\\"users\\\" already exists"),
        "the command's last log lines: {report}"
    );
    let updates = machine_updates(&world).len();
    assert_eq!(updates, 0, "no app machine was touched");
}

#[test]
fn a_lease_held_by_someone_else_stops_the_deploy_and_names_the_holder() {
    let world = running_v1();
    let web = world.machines(APP).into_iter().find(|m| m["config"]["metadata"]["fly_process_group"] == "web").unwrap();
    let id = web["id"].as_str().unwrap();
    world.api("POST", &format!("/v1/apps/{APP}/machines/{id}/lease?ttl=120"), Some(json!({"description": "a colleague's fly deploy"})));
    let report = fails_and_v1_serves(&world, &["--image", V2, "--skip-release-command"]);
    assert!(report.contains("lease"), "{report}");
    assert!(report.contains("fly machine leases clear"), "the report says how to clear it: {report}");
    assert!(!report.contains("may succeed"), "a held lease needs a person, not another try: {report}");
}

#[test]
fn an_api_failure_mid_rollout_puts_the_updated_machines_back() {
    let world = running_v1();
    let web = web_ids(&world);
    // The spearhead (first by id) succeeds; the update of the second gets a
    // 503 on each of fly-go's four attempts.
    world.fault(json!({"method": "POST", "path": format!("^/v1/apps/{APP}/machines/{}$", web[1]), "status": 503, "times": 4}));
    let report = fails_and_v1_serves(&world, &["--image", V2, "--skip-release-command"]);
    assert!(report.contains("503"), "{report}");
    assert!(report.contains("the same apply, run again, may succeed"), "a 503 is the platform's passing failure: {report}");
}

#[test]
fn a_create_that_times_out_after_succeeding_is_not_repeated() {
    let world = FlyWorld::start(APP, FLY_TOML);
    world.healthy(V1, "v1");
    world.fault(json!({"method": "POST", "path": format!("^/v1/apps/{APP}/machines$"), "status": 408, "after_success": true, "times": 2}));
    let (code, out, err) = world.deploy(&["--image", V1, "--skip-release-command"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(world.machines(APP).len(), 3, "found by launch id, not created twice");
}

#[test]
fn a_failing_canary_leaves_every_machine_as_it_was() {
    let world = running_v1();
    world.image("registry.fly.io/shop:crash", json!({"kind": "crash"}));
    fails_and_v1_serves(&world, &["--image", "registry.fly.io/shop:crash", "--strategy", "canary", "--skip-release-command"]);
    let updates = machine_updates(&world).len();
    assert_eq!(updates, 0, "the canary failed before any existing machine changed");
}

#[test]
fn failing_greens_are_destroyed_and_the_blues_keep_serving() {
    let world = running_v1();
    world.image("registry.fly.io/shop:sick", json!({"kind": "unhealthy"}));
    fails_and_v1_serves(&world, &["--image", "registry.fly.io/shop:sick", "--strategy", "bluegreen", "--wait-timeout", "3s", "--skip-release-command"]);
    assert!(world.machines(APP).iter().all(|m| m["cordoned"] == false), "blues stay in rotation");
}

#[test]
fn a_deploy_killed_between_batches_resumes_and_converges() {
    let world = running_v1();
    let before = world.machine_ids(APP);
    let log = world.state_dir().join("exec.log");
    let (code, _, _) = crate::support::run(
        world.deploy_cmd(&["--image", V2, "--max-unavailable", "1"]).env("FERRY_TEST_KILL_AT", "update:1:started").env("FERRY_TEST_EXEC_LOG", &log),
    );
    assert_ne!(code, 0, "the process was killed");
    let (code, out, err) = crate::support::run(world.deploy_cmd(&["--image", V2, "--max-unavailable", "1"]).env("FERRY_TEST_EXEC_LOG", &log));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("took over the lock") || err.contains("resuming"), "{err}");
    assert_eq!(world.machine_ids(APP), before, "no machine duplicated or lost");
    assert_eq!(world.versions(APP), ["v2", "v2"]);
    let executed = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<&str> = executed.lines().collect();
    let total = lines.len();
    lines.dedup();
    assert_eq!(lines.len(), total, "no action ran twice: {executed}");
}

#[test]
fn a_first_deploy_killed_after_creating_machines_does_not_create_them_again() {
    let world = FlyWorld::start(APP, FLY_TOML);
    world.healthy(V1, "v1");
    let (code, _, _) = crate::support::run(world.deploy_cmd(&["--image", V1, "--skip-release-command"]).env("FERRY_TEST_KILL_AT", "create:web:executed"));
    assert_ne!(code, 0);
    let (code, out, err) = world.deploy(&["--image", V1, "--skip-release-command"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(world.machines(APP).len(), 3, "two web and one worker, as if it had never stopped");
}

#[test]
fn a_rollout_failing_after_its_canary_passed_leaves_no_canary_behind() {
    let world = running_v1();
    let web = web_ids(&world);
    world.fault(json!({"method": "POST", "path": format!("^/v1/apps/{APP}/machines/{}$", web[1]), "status": 503, "times": 4}));
    fails_and_v1_serves(&world, &["--image", V2, "--strategy", "canary", "--skip-release-command"]);
    assert_eq!(creates_with(&world, "fly_canary", "true"), 2, "the canaries ran and passed");
}

#[test]
fn abort_after_a_successful_deploy_puts_the_previous_release_back() {
    let world = running_v1();
    let (code, out, err) = world.deploy(&["--image", V2, "--skip-release-command"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(world.versions(APP), ["v2", "v2"]);
    let (code, out, err) = crate::support::run(world.ferry().arg("abort").arg("--yes").arg("--dir").arg(world.checkout.path()));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(config_images(&world), [V1]);
    assert_eq!(world.versions(APP), ["v1", "v1"]);
}

#[test]
fn a_deploy_killed_mid_batch_is_finished_by_the_next_run() {
    let world = running_v1();
    world.image("registry.fly.io/shop:slow", json!({"kind": "healthy", "body": "slow", "start_delay_ms": 1500}));
    let before = world.machine_ids(APP);
    let mut child = world
        .deploy_cmd(&["--image", "registry.fly.io/shop:slow", "--skip-release-command"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL: no cleanup runs) while the spearhead is starting.
    let deadline = Instant::now() + Duration::from_secs(20);
    while world.count_requests("POST", "/lease") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let (code, out, err) = world.deploy(&["--image", "registry.fly.io/shop:slow", "--skip-release-command"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(world.machine_ids(APP), before, "no duplicate machines");
    assert_eq!(world.versions(APP), ["slow", "slow"]);
}

/// `ferry ci` as the action runs it, for `event`, with the Fly emulator and
/// a GitHub fake; returns (code, stderr, outputs, summary).
fn ci(world: &FlyWorld, github: &crate::support::github::FakeGitHub, event: &str, payload: Value, sha: &str) -> (i32, String, String, String) {
    let files = world.state_dir().join("runner");
    let mut cmd = world.ferry();
    cmd.arg("ci").arg("--dir").arg(world.checkout.path()).env("GITHUB_SHA", sha);
    let runner = crate::support::github::Runner::new(&files, github, event, &payload);
    let (code, _, stderr) = crate::support::run(runner.apply(&mut cmd));
    (code, stderr, runner.outputs(), runner.summary())
}

fn output(outputs: &str, key: &str) -> Option<String> {
    outputs.lines().find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}

#[test]
fn a_pull_request_shows_the_deploy_plan_and_the_merge_deploys_it_and_reports_on_the_commit() {
    use crate::support::github::{FakeGitHub, Pull, pull_request_event, push_event};
    let world = running_v1();
    let sha = "c0ffee0000000000000000000000000000000001";
    world.healthy(&format!("registry.fly.io/shop:{sha}"), "v2");
    let workflow = "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"deploy\"\nparams = { image = \"registry.fly.io/shop:${GITHUB_SHA}\", skip-release-command = true }\n";
    std::fs::write(world.checkout.path().join("ferry.toml"), workflow).unwrap();
    let github = FakeGitHub::start("");
    let origin = tempfile::tempdir().unwrap();
    let git = crate::support::git::GitRepo::adopt(world.checkout.path(), origin.path());
    let head = git.pull_request(7, &[]);
    github.state().pulls.insert(7, Pull::open(&head));

    let (code, stderr, outputs, _) = ci(&world, &github, "pull_request", pull_request_event(7, &head), sha);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(output(&outputs, "has-changes").as_deref(), Some("true"));
    let comment = &github.comments_on(7)[0].body;
    assert!(comment.contains("spearhead") && comment.contains(&format!("registry.fly.io/shop:{sha}")), "{comment}");
    assert_eq!(world.versions(APP), ["v1", "v1"], "a plan changes nothing");

    let merged = git.merge(7);
    github.state().pulls.insert(7, Pull { merged: true, ..Pull::open(&merged) });
    let (code, stderr, outputs, summary) = ci(&world, &github, "push", push_event(&merged), sha);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(world.versions(APP), ["v2", "v2"]);
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("applied"));
    assert_eq!(output(&outputs, "release-version").as_deref(), Some("2"));
    assert_eq!(output(&outputs, "image"), Some(format!("registry.fly.io/shop:{sha}")));
    assert_eq!(output(&outputs, "machine-ids").unwrap().split(',').count(), 3);
    assert!(summary.contains("now runs release "), "{summary}");
    let commits = github.state().commit_comments.clone();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].0, merged, "reported on the commit applied");
    assert!(commits[0].1.contains("Applied") && commits[0].1.contains("now runs release"), "{}", commits[0].1);
}

/// fly.toml keys that reach a machine only when carried (port TLS and HTTP
/// options, autostop, `[[files]]` from the checkout and inline, a static's
/// index document, the kill timeout), as fly-go sends them.
const CARRIED_TOML: &str = r#"
app = "shop"
primary_region = "ams"
kill_timeout = "90s"

[http_service]
  internal_port = 8080
  auto_stop_machines = "stop"
  auto_start_machines = true

  [http_service.tls_options]
    alpn = ["h2", "http/1.1"]

  [http_service.http_options]
    idle_timeout = 600

  [[http_service.checks]]
    interval = "1s"
    timeout = "1s"
    path = "/healthz"

[[files]]
  guest_path = "/etc/shop/settings.yml"
  local_path = "config/settings.yml"

[[files]]
  guest_path = "/etc/shop/motd"
  raw_value = "hello world\n"

[[statics]]
  guest_path = "/app/public"
  url_prefix = "/static"
  index_document = "index.html"
"#;

/// Waits until machine `id` of the app is started again.
fn wait_started(world: &FlyWorld, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if world.machines(APP).iter().any(|m| m["id"] == id && m["state"] == "started") {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("machine {id} did not start again: {:?}", world.machines(APP));
}

#[test]
fn carried_fly_toml_keys_reach_the_machines_and_an_update_keeps_what_fly_toml_does_not_own() {
    let world = FlyWorld::start(APP, CARRIED_TOML);
    world.healthy(V1, "v1").healthy(V2, "v2");
    std::fs::create_dir_all(world.checkout.path().join("config")).unwrap();
    std::fs::write(world.checkout.path().join("config/settings.yml"), "log_level: info\n").unwrap();
    let (code, out, err) = world.deploy(&["--image", V1]);
    assert_eq!(code, 0, "{out}{err}");

    let creates: Vec<Value> = world.requests().into_iter().filter(|r| r["method"] == "POST" && r["path"] == format!("/v1/apps/{APP}/machines")).collect();
    assert_eq!(creates.len(), 2, "two machines for the HA http service");
    let sent = &creates[0]["body"]["config"];
    let service = &sent["services"][0];
    assert_eq!(service["autostop"], json!(true), "fly-go sends autostop \"stop\" as true");
    assert_eq!(service["autostart"], json!(true));
    let http_options = json!({"idle_timeout": 600});
    assert_eq!(service["ports"][0], json!({"port": 80, "handlers": ["http"], "http_options": http_options}));
    assert_eq!(
        service["ports"][1],
        json!({"port": 443, "handlers": ["http", "tls"], "tls_options": {"alpn": ["h2", "http/1.1"]}, "http_options": http_options})
    );
    assert_eq!(
        sent["files"],
        json!([
            {"guest_path": "/etc/shop/settings.yml", "raw_value": "bG9nX2xldmVsOiBpbmZvCg=="},
            {"guest_path": "/etc/shop/motd", "raw_value": "aGVsbG8gd29ybGQK"},
        ]),
        "local_path read from the checkout, raw_value encoded as flyctl encodes it"
    );
    assert_eq!(sent["statics"][0]["index_document"], "index.html");
    assert_eq!(sent["stop_config"], json!({"timeout": "1m30s"}), "Go's Duration.String()");

    // Someone runs `fly machine update --schedule daily --metadata team=web`
    // on one machine: neither is fly.toml's, so a deploy keeps both.
    let id = world.machine_ids(APP)[0].clone();
    let machine = world.api("GET", &format!("/v1/apps/{APP}/machines/{id}"), None);
    let mut config = machine["config"].clone();
    config["schedule"] = json!("daily");
    config["metadata"]["team"] = json!("web");
    world.api("POST", &format!("/v1/apps/{APP}/machines/{id}"), Some(json!({"config": config})));
    wait_started(&world, &id);

    world.clear_requests();
    let (code, out, err) = world.deploy(&["--image", V2]);
    assert_eq!(code, 0, "{out}{err}");
    let updates = machine_updates(&world);
    assert_eq!(updates.len(), 2, "both machines get the new image");
    let kept = updates.iter().find(|u| u["path"].as_str().unwrap().ends_with(&id)).expect("the changed machine is updated");
    let config = &kept["body"]["config"];
    assert_eq!(config["image"], V2);
    assert_eq!(config["schedule"], "daily", "the machine's own schedule is kept");
    assert_eq!(config["metadata"]["team"], "web", "user metadata is kept");
    assert_eq!(config["metadata"]["fly_process_group"], "app");
    assert_eq!(config["files"], sent["files"], "fly.toml's files are sent again");
    assert_eq!(world.versions(APP), ["v2", "v2"]);

    world.clear_requests();
    let (code, out, err) = world.deploy(&["--image", V2]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("nothing to deploy") || out.contains("nothing to deploy"), "the API's copy of each config is what ferry would send: {out}{err}");
    assert!(machine_updates(&world).is_empty());
}

/// The app's current release as the release API reports it.
fn current_release(world: &FlyWorld) -> Value {
    world.api("GET", &format!("/api/v1/apps/{APP}/releases/current"), None)
}

#[test]
fn a_deploy_records_one_release_the_api_numbers_and_stamps_it_into_every_machine() {
    let world = running_v1();
    let first = current_release(&world);
    let (code, out, err) = world.deploy(&["--image", V2, "--skip-release-command"]);
    assert_eq!(code, 0, "{out}{err}");
    let release = current_release(&world);
    assert_ne!(release["id"], first["id"]);
    assert_eq!(release["status"], "complete", "{release}");
    assert_eq!(release["version"].as_i64(), first["version"].as_i64().map(|v| v + 1));
    assert_eq!(world.count_requests("POST", "/api/v1/releases"), 1, "one release per deploy");
    let version = release["version"].as_i64().unwrap().to_string();
    for m in world.machines(APP) {
        assert_eq!(m["config"]["metadata"]["fly_release_id"], release["id"], "{m}");
        assert_eq!(m["config"]["metadata"]["fly_release_version"], version.as_str(), "{m}");
    }
    // A deploy that changes nothing creates no release.
    world.clear_requests();
    let (code, out, err) = world.deploy(&["--image", V2, "--skip-release-command"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(world.count_requests("POST", "/api/v1/releases"), 0);
}

#[test]
fn a_deploy_killed_after_its_release_was_created_resumes_with_that_release() {
    let world = running_v1();
    let (code, _, _) = crate::support::run(
        world.deploy_cmd(&["--image", V2, "--max-unavailable", "1", "--skip-release-command"]).env("FERRY_TEST_KILL_AT", "update:1:started"),
    );
    assert_ne!(code, 0, "the process was killed");
    let (code, out, err) = world.deploy(&["--image", V2, "--max-unavailable", "1", "--skip-release-command"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(world.count_requests("POST", "/api/v1/releases"), 1, "the resumed run made no second release");
    let release = current_release(&world);
    assert_eq!(release["status"], "complete", "{release}");
    let stamped: Vec<Value> = world.machines(APP).iter().map(|m| m["config"]["metadata"]["fly_release_id"].clone()).collect();
    assert!(stamped.iter().all(|id| *id == release["id"]), "machines updated before and after the kill carry the one release: {stamped:?}");
}

#[test]
fn a_failing_release_api_is_a_warning_and_the_deploy_goes_on() {
    let world = running_v1();
    world.fault(json!({"method": "POST", "path": "^/api/v1/releases$", "status": 500, "times": 100}));
    let (code, out, err) = world.deploy(&["--image", V2, "--skip-release-command"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(world.versions(APP), ["v2", "v2"]);
    assert!(format!("{out}{err}").contains("no release record"), "{out}{err}");
    assert!(world.machines(APP).iter().all(|m| m["config"]["metadata"]["fly_release_id"] == ""), "flyctl's no-release value");
}

/// `--smoke-checks` (flyctl's default): a machine that passes its health
/// checks and crashes seconds later fails the deploy, which rolls back;
/// `--smoke-checks false` lets the same image through, as flyctl does.
#[test]
fn a_machine_crashing_after_its_checks_pass_fails_the_smoke_check_unless_smoke_checks_are_off() {
    let world = running_v1();
    let flaky = "registry.fly.io/shop:flaky";
    world.image(flaky, json!({"kind": "crash-after", "crash_after_ms": 5000, "exit_code": 7, "body": "v3"}));
    let report = fails_and_v1_serves(&world, &["--image", flaky, "--skip-release-command"]);
    assert!(report.contains("smoke check") && report.contains("code 7"), "{report}");

    world.clear_requests();
    let (code, out, err) = world.deploy(&["--image", flaky, "--skip-release-command", "--smoke-checks", "false"]);
    assert_eq!(code, 0, "without smoke checks the deploy ends once the checks pass: {out}{err}");
    assert_eq!(config_images(&world), [flaky]);
}

/// `--env`, `--file-literal` and `--only-machines` go from the command line
/// through the step's plan to the Machines API: only the named machine is
/// updated, and it gets the variable and the file over fly.toml's.
#[test]
fn env_files_and_machine_filters_from_the_command_line_reach_the_machines() {
    let world = running_v1();
    let web = web_ids(&world);
    let (code, out, err) = world.deploy(&[
        "--image",
        V2,
        "--skip-release-command",
        "--smoke-checks",
        "false",
        "--only-machines",
        &web[1],
        "-e",
        "LOG_LEVEL=debug",
        "--env",
        "GREETING=a=b",
        "--file-literal",
        "/etc/motd=hello\nworld",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let updates = machine_updates(&world);
    let updated: Vec<&str> = updates.iter().map(|u| u["path"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(updated, [web[1].as_str()], "only the machine named by --only-machines changes");
    let config = &updates[0]["body"]["config"];
    assert_eq!((config["env"]["LOG_LEVEL"].as_str(), config["env"]["GREETING"].as_str()), (Some("debug"), Some("a=b")), "{config}");
    let motd = config["files"].as_array().unwrap().iter().find(|f| f["guest_path"] == "/etc/motd").unwrap_or_else(|| panic!("{config}"));
    use base64::Engine as _;
    assert_eq!(
        motd["raw_value"].as_str(),
        Some(base64::engine::general_purpose::STANDARD.encode("hello\nworld").as_str()),
        "a multi-line literal arrives whole"
    );
}

/// Wrong flag values are refused before anything is planned, naming the flag.
#[test]
fn malformed_deploy_flags_are_refused_naming_the_flag() {
    let world = running_v1();
    for (args, says) in [
        (&["--deploy-retries", "lots"][..], "deploy-retries"),
        (&["--vm-size", "shared-cpu-3x"], "vm-size"),
        (&["--vm-cpu-kind", "gpu"], "vm-cpu-kind"),
        (&["--env", "NOEQUALS"], "--env"),
        (&["--file-literal", "etc/motd=x"], "must be absolute"),
        (&["--wait-timeout", "soon"], "wait-timeout"),
        (&["--process-groups", "wbe"], "did you mean `web`"),
        (&["--vm-gpus", "1"], "GPU machines are no longer supported"),
        (&["--target", "vm", "--regions", "ams"], "--regions applies to Fly Machines deploys"),
        // --file-local reads only inside the checkout: a path out of it is refused, not read.
        (&["--file-local", "/etc/leak=../../../../../../etc/passwd"], "file-local /etc/leak=../../../../../../etc/passwd: "),
        (&["--file-local", "/etc/leak=/etc/passwd"], "file-local /etc/leak=/etc/passwd: "),
    ] {
        let mut full = vec!["--image", V2, "--skip-release-command"];
        full.extend_from_slice(args);
        let (code, out, err) = world.deploy(&full);
        assert_ne!(code, 0, "{args:?} must be refused: {out}{err}");
        assert!(format!("{out}{err}").contains(says), "{args:?} names the flag ({says}): {out}{err}");
    }
    assert!(machine_updates(&world).is_empty(), "nothing changed");
    assert_eq!(config_images(&world), [V1]);
}

/// `--deploy-retries 1`: the update the API refused once is sent again under
/// the same lease and the deploy ends on v2; without it the same failure
/// rolls back (`an_api_failure_mid_rollout_puts_the_updated_machines_back`).
#[test]
fn deploy_retries_sends_a_failed_update_again_and_the_deploy_succeeds() {
    let world = running_v1();
    let web = web_ids(&world);
    world.fault(json!({"method": "POST", "path": format!("^/v1/apps/{APP}/machines/{}$", web[1]), "status": 503, "times": 1}));
    let (code, out, err) = world.deploy(&["--image", V2, "--skip-release-command", "--smoke-checks", "false", "--deploy-retries", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(world.versions(APP), ["v2", "v2"]);
    let tries: Vec<bool> =
        machine_updates(&world).iter().filter(|u| u["path"].as_str().unwrap().ends_with(web[1].as_str())).map(|u| u["fault"] == true).collect();
    assert_eq!(tries, [true, false], "one refused update, then one that went through");
}
