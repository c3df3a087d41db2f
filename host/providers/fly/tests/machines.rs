//! Machines: idempotent create, 404-after-create, waits, health, leases.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{Fake, Seq, header, machine, ok, query, status};
use ferry_fly::{FlyError, HealthError, HealthWait, LAUNCH_ID_METADATA_KEY, LaunchInput, LeaseGuard, MachineConfig, WaitState};
use serde_json::{Value, json};
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, ResponseTemplate};

fn launch_input() -> LaunchInput {
    let mut config = MachineConfig::new();
    config.set_image("registry.fly.io/web:deployment-2");
    LaunchInput { config, region: Some("ams".into()), ..LaunchInput::default() }
}

fn with_launch_id(mut m: Value, key: &str) -> Value {
    m["config"]["metadata"][LAUNCH_ID_METADATA_KEY] = json!(key);
    m
}

#[test]
fn a_404_right_after_create_is_retried_until_found() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines")).respond_with(ok(machine("m1", "created"))));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(Seq::new(vec![
        status(404, "machine not found"),
        status(404, "machine not found"),
        ok(machine("m1", "started")),
    ])));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/other")).respond_with(status(404, "machine not found")));
    let client = fake.client();
    let created = client.create_machine("web", &launch_input(), "launch-1").unwrap();
    assert_eq!(created.id, "m1");
    assert_eq!(client.get_machine("web", "m1").unwrap().state, "started");
    assert_eq!(fake.requests_to("GET", "/machines/m1").len(), 3);
    // A machine this client did not just create gets no such grace.
    assert!(matches!(client.get_machine("web", "other"), Err(FlyError::NotFound { .. })));
    assert_eq!(fake.requests_to("GET", "/machines/other").len(), 1);
}

#[test]
fn create_that_timed_out_after_success_is_found_by_launch_id_not_repeated() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines")).respond_with(status(408, "request timed out")));
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/web/machines"))
            .respond_with(ok(json!([with_launch_id(machine("m0", "started"), "another-launch"), with_launch_id(machine("m7", "created"), "launch-7"),]))),
    );
    let machine = fake.client().create_machine("web", &launch_input(), "launch-7").unwrap();
    assert_eq!(machine.id, "m7");
    let posts = fake.requests_to("POST", "/v1/apps/web/machines");
    assert_eq!(posts.len(), 1, "no second create");
    let body: Value = serde_json::from_slice(&posts[0].body).unwrap();
    assert_eq!(body["config"]["metadata"][LAUNCH_ID_METADATA_KEY], "launch-7");
    assert_eq!(body["config"]["image"], "registry.fly.io/web:deployment-2");
    assert_eq!(body["region"], "ams");
    assert!(body.get("skip_launch").is_none(), "false flags are omitted: {body}");
}

#[test]
fn create_that_failed_before_success_is_retried_and_succeeds() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST")).and(path("/v1/apps/web/machines")).respond_with(Seq::new(vec![status(503, "try again"), ok(machine("m2", "created"))])),
    );
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines")).respond_with(ok(json!([]))));
    let machine = fake.client().create_machine("web", &launch_input(), "launch-2").unwrap();
    assert_eq!(machine.id, "m2");
    assert_eq!(fake.requests_to("POST", "/v1/apps/web/machines").len(), 2);
    assert_eq!(fake.requests_to("GET", "/v1/apps/web/machines").len(), 3, "looked up over the whole window (3 lists) before the retry");
}

#[test]
fn create_rejected_by_the_api_is_neither_retried_nor_looked_up() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).respond_with(status(422, "invalid config")));
    let error = fake.client().create_machine("web", &launch_input(), "launch-3").unwrap_err();
    assert!(matches!(error, FlyError::Api { status: 422, .. }), "{error:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn wait_loops_over_408s_until_the_state_is_reached() {
    let fake = Fake::start();
    let timeout = status(408, "machine failed to reach desired state");
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1/wait")).respond_with(Seq::new(vec![
        timeout.clone(),
        timeout.clone(),
        timeout,
        ok(json!({"ok": true})),
    ])));
    fake.client().wait_for_state("web", "m1", WaitState::Started, Some("01HVERSION"), Duration::from_secs(150)).unwrap();
    let waits = fake.requests_to("GET", "/wait");
    assert_eq!(waits.len(), 4);
    for wait in &waits {
        assert_eq!(query(wait, "state").as_deref(), Some("started"));
        assert_eq!(query(wait, "instance_id").as_deref(), Some("01HVERSION"), "the docs' name of the parameter (required for `stopped`)");
        assert_eq!(query(wait, "timeout").as_deref(), Some("60"), "capped at the server's 60 s");
    }
}

#[test]
fn wait_respects_the_overall_deadline_and_reports_the_last_state() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1/wait")).respond_with(status(408, "timeout")));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(ok(machine("m1", "starting"))));
    let started = Instant::now();
    let error = fake.client().wait_for_state("web", "m1", WaitState::Started, None, Duration::from_millis(1200)).unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1200) && elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(matches!(error, FlyError::Timeout { ctx: None, .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("last seen state: starting"), "{text}");
    assert!(text.contains("did not reach state started"), "{text}");
    let waits = fake.requests_to("GET", "/wait");
    assert!(!waits.is_empty());
    for wait in waits {
        let secs: u64 = query(&wait, "timeout").unwrap().parse().unwrap();
        assert!((1..=2).contains(&secs), "timeout {secs} exceeds what is left of the deadline");
    }
}

#[test]
fn wait_for_destroyed_accepts_404_and_other_errors_end_the_wait() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/gone/wait")).respond_with(status(404, "not found")));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1/wait")).respond_with(status(400, "bad state")));
    let client = fake.client();
    client.wait_for_state("web", "gone", WaitState::Destroyed, None, Duration::from_secs(5)).unwrap();
    let error = client.wait_for_state("web", "m1", WaitState::Started, None, Duration::from_secs(5)).unwrap_err();
    assert!(matches!(error, FlyError::Api { status: 400, .. }), "{error:?}");
}

/// A started machine with one service check in its config.
fn checked(state: &str, check_status: &str, events: Value) -> Value {
    let mut m = machine("m1", state);
    m["config"]["services"] = json!([{
        "protocol": "tcp", "internal_port": 8080,
        "checks": [{"type": "http", "port": 8080, "path": "/health", "interval": "1s"}]
    }]);
    m["checks"] = json!([{"name": "servicecheck-00-http-8080", "status": check_status, "output": "connection refused"}]);
    m["events"] = events;
    m
}

fn start_event(ts: i64) -> Value {
    json!({"type": "start", "status": "started", "source": "flyd", "timestamp": ts})
}

fn fast(timeout: Duration) -> HealthWait {
    HealthWait { timeout, poll_interval: Duration::from_millis(20), grace: Duration::from_millis(200) }
}

#[test]
fn wait_healthy_returns_once_all_checks_pass() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(Seq::new(vec![
        ok(checked("started", "critical", json!([start_event(1000)]))),
        ok(checked("started", "warning", json!([start_event(1000)]))),
        ok(checked("started", "passing", json!([start_event(1000)]))),
    ])));
    let machine = fake.client().wait_healthy("web", "m1", &fast(Duration::from_secs(10))).unwrap();
    assert!(machine.checks.iter().all(|c| c.is_passing()));
    assert_eq!(fake.requests().len(), 3);
}

#[test]
fn wait_healthy_without_checks_returns_once_started() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/web/machines/m1"))
            .respond_with(Seq::new(vec![ok(machine("m1", "starting")), ok(machine("m1", "started"))])),
    );
    let machine = fake.client().wait_healthy("web", "m1", &fast(Duration::from_secs(10))).unwrap();
    assert_eq!(machine.state, "started");
}

#[test]
fn wait_healthy_fails_fast_when_the_machine_exits() {
    let fake = Fake::start();
    let exit = json!({"type": "exit", "status": "stopped", "source": "flyd", "timestamp": 2000,
                      "request": {"exit_event": {"exit_code": 3, "requested_stop": false}}});
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(Seq::new(vec![
        ok(checked("started", "critical", json!([start_event(1000)]))),
        ok(checked("stopped", "critical", json!([exit, start_event(1000)]))),
    ])));
    let started = Instant::now();
    let error = fake.client().wait_healthy("web", "m1", &fast(Duration::from_secs(30))).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "did not wait out the timeout: {:?}", started.elapsed());
    match &error {
        HealthError::Crashed { exit_code, state, machine_id } => {
            assert_eq!(*exit_code, Some(3));
            assert_eq!(state, "stopped");
            assert_eq!(machine_id, "m1");
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("exit code 3"), "{error}");
}

#[test]
fn wait_healthy_fails_fast_when_the_machine_restarts() {
    let fake = Fake::start();
    let exit = json!({"type": "exit", "status": "stopped", "source": "flyd", "timestamp": 2000,
                      "request": {"MonitorEvent": {"exit_event": {"exit_code": 137, "restarting": true, "oom_killed": true}}}});
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(Seq::new(vec![
        ok(checked("started", "critical", json!([start_event(1000)]))),
        ok(checked("started", "critical", json!([start_event(2001), exit, start_event(1000)]))),
    ])));
    let error = fake.client().wait_healthy("web", "m1", &fast(Duration::from_secs(30))).unwrap_err();
    assert!(matches!(error, HealthError::Crashed { exit_code: Some(137), .. }), "{error:?}");
}

#[test]
fn wait_healthy_ignores_exits_from_before_the_wait() {
    let fake = Fake::start();
    // The machine was updated (a requested stop) and restarted before we looked.
    let old_exit = json!({"type": "exit", "timestamp": 900, "request": {"exit_event": {"exit_code": 1}}});
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(Seq::new(vec![
        ok(checked("started", "critical", json!([start_event(1000), old_exit.clone()]))),
        ok(checked("started", "passing", json!([start_event(1000), old_exit]))),
    ])));
    fake.client().wait_healthy("web", "m1", &fast(Duration::from_secs(10))).unwrap();
}

#[test]
fn wait_healthy_timeout_names_the_failing_checks() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(ok(checked("started", "critical", json!([start_event(1000)])))));
    let started = Instant::now();
    let error = fake.client().wait_healthy("web", "m1", &fast(Duration::from_millis(300))).unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    match &error {
        HealthError::Timeout { failing, configured, reported, state, .. } => {
            assert_eq!((*configured, *reported), (1, 1));
            assert_eq!(state, "started");
            assert_eq!(failing.len(), 1);
            assert_eq!(failing[0].output, "connection refused");
        }
        other => panic!("{other:?}"),
    }
    let text = error.to_string();
    assert!(text.contains("servicecheck-00-http-8080 is critical: connection refused"), "{text}");
}

fn lease_json(nonce: &str) -> Value {
    json!({"status": "success", "data": {"nonce": nonce, "expires_at": 1_700_000_013, "owner": "ci@example.com", "version": "v1"}})
}

fn mount_lease(fake: &Fake) {
    // Refreshes carry the nonce; the acquire does not.
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/v1/apps/web/machines/m1/lease"))
            .and(header_exists("fly-machine-lease-nonce"))
            .respond_with(ok(lease_json("nonce-1"))),
    );
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines/m1/lease")).respond_with(ok(lease_json("nonce-1"))));
    fake.mount(Mock::given(method("DELETE")).and(path("/v1/apps/web/machines/m1/lease")).respond_with(ok(json!({}))));
}

#[test]
fn lease_is_acquired_refreshed_with_its_nonce_and_released() {
    let fake = Fake::start();
    mount_lease(&fake);
    let guard = fake.client().acquire_lease("web", "m1", Duration::from_secs(2), "ferry deploy").unwrap();
    assert_eq!(guard.nonce(), "nonce-1");
    assert_eq!(guard.machine_id(), "m1");
    // ttl 2 s → a refresh every (2 s - 1 s) / 3 ≈ 333 ms.
    thread::sleep(Duration::from_millis(900));
    guard.release().unwrap();
    let posts = fake.requests_to("POST", "/lease");
    let (refreshes, acquires): (Vec<_>, Vec<_>) = posts.iter().partition(|r| header(r, "fly-machine-lease-nonce").is_some());
    assert_eq!(acquires.len(), 1);
    assert_eq!(query(acquires[0], "ttl").as_deref(), Some("2"));
    let body: Value = serde_json::from_slice(&acquires[0].body).unwrap();
    assert_eq!(body["description"], "ferry deploy");
    assert!(refreshes.len() >= 2, "refreshed {} times", refreshes.len());
    for refresh in &refreshes {
        assert_eq!(header(refresh, "fly-machine-lease-nonce").as_deref(), Some("nonce-1"));
        assert_eq!(query(refresh, "ttl").as_deref(), Some("2"));
    }
    let deletes = fake.requests_to("DELETE", "/lease");
    assert_eq!(deletes.len(), 1);
    assert_eq!(header(&deletes[0], "fly-machine-lease-nonce").as_deref(), Some("nonce-1"));
    // The refresher stopped with the release.
    let before = fake.requests_to("POST", "/lease").len();
    thread::sleep(Duration::from_millis(500));
    assert_eq!(fake.requests_to("POST", "/lease").len(), before);
}

#[test]
fn dropping_the_guard_releases_the_lease() {
    let fake = Fake::start();
    mount_lease(&fake);
    {
        let _guard = fake.client().acquire_lease("web", "m1", Duration::from_secs(13), "ferry").unwrap();
    }
    let deletes = fake.requests_to("DELETE", "/lease");
    assert_eq!(deletes.len(), 1);
    assert_eq!(header(&deletes[0], "fly-machine-lease-nonce").as_deref(), Some("nonce-1"));
}

#[test]
fn a_lease_that_is_already_gone_counts_as_released() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines/m1/lease")).respond_with(ok(lease_json("n"))));
    fake.mount(Mock::given(method("DELETE")).respond_with(status(404, "lease not found")));
    let guard = fake.client().acquire_lease("web", "m1", Duration::from_secs(13), "ferry").unwrap();
    guard.release().unwrap();
}

#[test]
fn a_held_lease_is_retried_then_reported_with_its_holder() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines/m1/lease")).respond_with(status(409, "machine is leased")));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1/lease")).respond_with(ok(json!({
        "status": "success",
        "data": {"nonce": "theirs", "expires_at": 1_700_000_100, "owner": "other@example.com", "description": "fly deploy"}
    }))));
    let error = fake.client().acquire_lease("web", "m1", Duration::from_secs(13), "ferry").unwrap_err();
    assert_eq!(fake.requests_to("POST", "/lease").len(), 3, "retried per lease_retry, then given up");
    match &error {
        FlyError::LeaseHeld { machine_id, holder, .. } => {
            assert_eq!(machine_id, "m1");
            assert!(holder.starts_with("other@example.com (fly deploy)"), "{holder}");
        }
        other => panic!("{other:?}"),
    }
    let text = error.to_string();
    assert!(text.contains("lease currently held by other@example.com"), "{text}");
    assert!(text.contains("fly machine leases clear m1"), "{text}");
    assert!(!text.contains("theirs"), "the holder's nonce is not shown: {text}");
}

#[test]
fn lease_conflicts_on_other_calls_are_lease_held() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/v1/apps/web/machines/m9/stop"))
            .respond_with(status(409, "lease currently held by someone@example.com, expires in 10s")),
    );
    let error = fake.client().stop_machine("web", "m9", &Default::default(), None).unwrap_err();
    match &error {
        FlyError::LeaseHeld { machine_id, holder, .. } => {
            assert_eq!(machine_id, "m9");
            assert_eq!(holder, "someone@example.com");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mutations_send_the_lease_nonce_and_keep_unknown_config_fields() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines/m1")).respond_with(ok(machine("m1", "started"))));
    fake.mount(Mock::given(method("DELETE")).and(path("/v1/apps/web/machines/m1")).respond_with(ok(json!({"ok": true}))));
    let client = fake.client();
    let mut m: ferry_fly::Machine = serde_json::from_value(json!({
        "id": "m1",
        "config": {"image": "old", "future_field": {"nested": [1, 2]}, "files": [{"guest_path": "/a", "raw_value": "eA=="}]}
    }))
    .unwrap();
    let mut config = m.config.take().unwrap();
    config.set_image("new");
    let input = LaunchInput { config, ..LaunchInput::default() };
    client.update_machine("web", "m1", &input, Some("nonce-9")).unwrap();
    client.destroy_machine("web", "m1", true, Some("nonce-9")).unwrap();
    let requests = fake.requests();
    assert_eq!(header(&requests[0], "fly-machine-lease-nonce").as_deref(), Some("nonce-9"));
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["config"]["image"], "new");
    assert_eq!(body["config"]["future_field"], json!({"nested": [1, 2]}));
    assert_eq!(body["config"]["files"][0]["raw_value"], "eA==");
    assert_eq!(requests[1].url.query(), Some("kill=true"));
    assert_eq!(header(&requests[1], "fly-machine-lease-nonce").as_deref(), Some("nonce-9"));
}

#[test]
fn managed_machines_are_v2_active_and_not_release_or_console() {
    let fake = Fake::start();
    let mut legacy = machine("legacy", "started");
    legacy["config"]["metadata"] = json!({});
    let mut release = machine("release", "stopped");
    release["config"]["metadata"]["fly_process_group"] = json!("fly_app_release_command");
    let mut console = machine("console", "started");
    console["config"]["metadata"]["fly_process_group"] = json!("fly_app_console");
    let body = json!([machine("app1", "started"), machine("app2", "stopped"), legacy, release, console, machine("dying", "destroying")]);
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines")).respond_with(ok(body)));
    let client = fake.client();
    let ids: Vec<String> = client.list_managed_machines("web").unwrap().into_iter().map(|m| m.id).collect();
    assert_eq!(ids, ["app1", "app2"]);
    let all = client.list_machines("web").unwrap();
    assert!(all.iter().any(|m| m.id == "release" && m.is_release_command()));
}

#[test]
fn metadata_is_set_and_removed_per_key() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).respond_with(ResponseTemplate::new(204)));
    fake.mount(Mock::given(method("DELETE")).respond_with(ResponseTemplate::new(204)));
    let client = fake.client();
    client.set_machine_metadata("web", "m1", "fly_bluegreen_deployment_tag", "safe_to_destroy").unwrap();
    client.delete_machine_metadata("web", "m1", "fly_bluegreen_deployment_tag").unwrap();
    let requests = fake.requests();
    assert_eq!(requests[0].url.path(), "/v1/apps/web/machines/m1/metadata/fly_bluegreen_deployment_tag");
    assert_eq!(serde_json::from_slice::<Value>(&requests[0].body).unwrap(), json!({"value": "safe_to_destroy"}));
    assert_eq!(requests[1].method.as_str(), "DELETE");
}

#[test]
fn lease_guard_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<LeaseGuard>();
    assert_send::<ferry_fly::FlyClient>();
}

#[test]
fn an_unreadable_create_answer_is_resolved_by_lookup_not_by_creating_again() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines")).respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy</html>")));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines")).respond_with(ok(json!([]))));
    let error = fake.client().create_machine("web", &launch_input(), "launch-4").unwrap_err();
    assert!(matches!(error, FlyError::Decode { .. }), "{error:?}");
    assert_eq!(fake.requests_to("POST", "/v1/apps/web/machines").len(), 1, "a 2xx create is never repeated");
    assert_eq!(fake.requests_to("GET", "/v1/apps/web/machines").len(), 3);
}

#[test]
fn a_lease_granted_by_create_can_be_adopted() {
    let fake = Fake::start();
    mount_lease(&fake);
    let mut created = machine("m1", "created");
    created["nonce"] = json!("nonce-1");
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines")).respond_with(ok(created)));
    let client = fake.client();
    let input = LaunchInput { lease_ttl: Some(2), ..launch_input() };
    let machine = client.create_machine("web", &input, "launch-5").unwrap();
    let guard = client.adopt_lease("web", &machine.id, machine.nonce.as_deref().unwrap(), Duration::from_secs(2));
    thread::sleep(Duration::from_millis(500));
    drop(guard);
    let refreshes = fake.requests_to("POST", "/lease");
    assert!(!refreshes.is_empty());
    assert!(refreshes.iter().all(|r| header(r, "fly-machine-lease-nonce").as_deref() == Some("nonce-1")));
    assert_eq!(fake.requests_to("DELETE", "/lease").len(), 1);
    let body: Value = serde_json::from_slice(&fake.requests_to("POST", "/v1/apps/web/machines")[0].body).unwrap();
    assert_eq!(body["lease_ttl"], 2);
}

#[test]
fn the_create_lookup_spreads_its_lists_over_the_window_and_finds_a_late_machine() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines")).respond_with(status(502, "bad gateway")));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines")).respond_with(Seq::new(vec![
        ok(json!([])),
        ok(json!([])),
        ok(json!([with_launch_id(machine("m9", "created"), "launch-9")])),
    ])));
    let mut config = fake.config();
    config.create_lookup_window = Duration::from_millis(600);
    config.create_lookups = 3;
    let started = Instant::now();
    let machine = ferry_fly::FlyClient::new(config).unwrap().create_machine("web", &launch_input(), "launch-9").unwrap();
    assert_eq!(machine.id, "m9", "listed only at the end of the window, and found");
    assert!(started.elapsed() >= Duration::from_millis(600), "the third list came at the window's end: {:?}", started.elapsed());
    assert_eq!(fake.requests_to("POST", "/v1/apps/web/machines").len(), 1, "a 502 on a create is not replayed blindly");
    let lists: Vec<_> = fake.requests_to("GET", "/v1/apps/web/machines");
    assert_eq!(lists.len(), 3);
}

#[test]
fn a_create_rate_limited_is_repeated_without_a_lookup() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST")).and(path("/v1/apps/web/machines")).respond_with(Seq::new(vec![status(429, "rate limited"), ok(machine("m3", "created"))])),
    );
    let machine = fake.client().create_machine("web", &launch_input(), "launch-3").unwrap();
    assert_eq!(machine.id, "m3");
    assert_eq!(fake.requests_to("POST", "/v1/apps/web/machines").len(), 2);
    assert!(fake.requests_to("GET", "/v1/apps/web/machines").is_empty(), "a 429 was not applied: nothing to look up");
}

#[test]
fn the_health_wait_pinned_to_an_instance_ignores_the_old_one() {
    let fake = Fake::start();
    let mut old = checked("started", "passing", json!([start_event(1)]));
    old["instance_id"] = json!("01OLD");
    let mut new_starting = checked("starting", "critical", json!([start_event(1)]));
    new_starting["instance_id"] = json!("01NEW");
    let mut new_ok = checked("started", "passing", json!([start_event(1)]));
    new_ok["instance_id"] = json!("01NEW");
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(Seq::new(vec![
        ok(old.clone()),
        ok(old),
        ok(new_starting),
        ok(new_ok),
    ])));
    let healthy = fake.client().wait_healthy_at("web", "m1", Some("01NEW"), &fast(Duration::from_secs(5))).unwrap();
    assert_eq!(healthy.instance_id, "01NEW", "the old instance's passing checks did not count");
    assert_eq!(fake.requests_to("GET", "/machines/m1").len(), 4);
}

#[test]
fn a_pinned_health_wait_that_never_sees_the_instance_says_so() {
    let fake = Fake::start();
    let mut old = checked("started", "passing", json!([start_event(1)]));
    old["instance_id"] = json!("01OLD");
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(ok(old)));
    let error = fake.client().wait_healthy_at("web", "m1", Some("01NEW"), &fast(Duration::from_millis(200))).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("instance 01OLD") && text.contains("01NEW"), "{text}");
}
