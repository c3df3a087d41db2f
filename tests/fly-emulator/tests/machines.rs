//! Machines as real processes: create, serve, update, versions, bad images,
//! crashes and restart policies, wait, stop/start/restart, destroy, metadata.

mod common;

use std::time::Duration;

use common::{Emulator, eventually, process_alive, web_config};
use serde_json::{Value, json};

const V1: &str = "registry.fly.io/app:v1";
const V2: &str = "registry.fly.io/app:v2";

fn setup() -> Emulator {
    let emulator = Emulator::start();
    emulator.register_image(V1, json!({"kind": "healthy"}));
    emulator.register_image(V2, json!({"kind": "healthy", "body": "second"}));
    emulator.create_app("app");
    emulator
}

fn id(machine: &Value) -> String {
    machine["id"].as_str().unwrap().to_string()
}

fn served(emulator: &Emulator, id: &str) -> Value {
    let (status, body) = emulator.fetch(&format!("http://{}/", emulator.endpoint("app", id, 8080)));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_created_machine_starts_and_serves_its_image() {
    let emulator = setup();
    let mut config = web_config(V1);
    config["env"] = json!({"GREETING": "hello"});
    let created = emulator.create_machine("app", json!({"config": config.clone(), "region": "ams", "name": "web-1"}));
    let id = id(&created);
    assert_eq!(id.len(), 14);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(created["state"], "created");
    assert_eq!(created["region"], "ams");
    assert_eq!(created["name"], "web-1");
    assert_eq!(created["config"]["env"], config["env"]);
    assert_eq!(created["config"]["services"][0]["internal_port"], 8080);
    assert_eq!(created["config"]["image"], V1);
    assert_eq!(created["image_ref"]["registry"], "registry.fly.io");
    assert_eq!(created["image_ref"]["repository"], "app");
    assert_eq!(created["image_ref"]["tag"], "v1");
    assert!(created["image_ref"]["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(created["host_status"], "ok");
    assert!(created.get("nonce").is_none());

    emulator.wait_healthy("app", &id);
    assert_eq!(served(&emulator, &id), json!({"body": "v1", "machine": id}), "default body is the tag");
    let (_, greeting) = emulator.fetch(&format!("http://{}/env/GREETING", emulator.endpoint("app", &id, 8080)));
    assert_eq!(greeting, "hello");
    let (_, app_name) = emulator.fetch(&format!("http://{}/env/FLY_APP_NAME", emulator.endpoint("app", &id, 8080)));
    assert_eq!(app_name, "app");

    let machine = emulator.machine("app", &id);
    assert_eq!(machine["state"], "started");
    let kinds: Vec<&str> = machine["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["start", "launch"], "events are newest first");
    let ps = emulator.get(&format!("/v1/apps/app/machines/{id}/ps")).body;
    assert_eq!(ps[0]["listen_sockets"][0]["address"], "0.0.0.0:8080");
    let listed = emulator.get("/v1/apps/app/machines?region=ams").body;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(emulator.get("/v1/apps/app/machines?region=iad").body.as_array().unwrap().is_empty());
}

#[test]
fn an_update_replaces_the_config_bumps_the_version_and_restarts_with_it() {
    let emulator = setup();
    let created = emulator.create_machine("app", json!({"config": web_config(V1)}));
    let id = id(&created);
    emulator.wait_state("app", &id, "started");
    let old_pid = emulator.pid_of("app", &id);

    let updated = emulator.post(&format!("/v1/apps/app/machines/{id}"), json!({"config": web_config(V2)}));
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    let version = updated.body["version"].as_str().unwrap().to_string();
    let instance = updated.body["instance_id"].as_str().unwrap().to_string();
    assert_ne!(version, created["version"].as_str().unwrap());
    assert_ne!(instance, created["instance_id"].as_str().unwrap());
    assert_ne!(instance, version, "instance_id and version are different values");
    assert_eq!(updated.body["config"]["image"], V2);
    let waited = emulator.get(&format!("/v1/apps/app/machines/{id}/wait?state=started&version={instance}&timeout=10"));
    assert_eq!(waited.status, 200, "{:?}", waited.body);
    emulator.wait_healthy("app", &id);
    assert_eq!(served(&emulator, &id)["body"], "second");
    assert!(!process_alive(old_pid), "the old process was stopped");

    let versions = emulator.get(&format!("/v1/apps/app/machines/{id}/versions")).body;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["version"], version.as_str());
    assert_eq!(versions[1]["user_config"]["image"], V1, "older versions keep their config");
    let events = emulator.get(&format!("/v1/apps/app/machines/{id}/events")).body;
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["start", "exit", "update", "start", "launch"]);
}

#[test]
fn an_update_with_skip_launch_leaves_the_machine_stopped() {
    let emulator = setup();
    let id = id(&emulator.create_machine("app", json!({"config": web_config(V1)})));
    emulator.wait_state("app", &id, "started");
    let updated = emulator.post(&format!("/v1/apps/app/machines/{id}"), json!({"config": web_config(V2), "skip_launch": true}));
    assert_eq!(updated.status, 200);
    emulator.wait_state("app", &id, "stopped");
    assert_eq!(emulator.machine("app", &id)["config"]["image"], V2);
}

#[test]
fn an_unregistered_image_is_refused_with_422_and_changes_nothing() {
    let emulator = setup();
    let refused = emulator.post("/v1/apps/app/machines", json!({"config": web_config("registry.fly.io/app:missing")}));
    assert_eq!(refused.status, 422);
    assert_eq!(refused.error(), "failed to launch VM: image not found: registry.fly.io/app:missing");
    assert!(emulator.get("/v1/apps/app/machines").body.as_array().unwrap().is_empty());

    let id = id(&emulator.create_machine("app", json!({"config": web_config(V1)})));
    emulator.wait_state("app", &id, "started");
    let refused = emulator.post(&format!("/v1/apps/app/machines/{id}"), json!({"config": web_config("registry.fly.io/app:missing")}));
    assert_eq!(refused.status, 422);
    let machine = emulator.machine("app", &id);
    assert_eq!(machine["config"]["image"], V1);
    assert_eq!(machine["state"], "started");
}

fn exit_codes(machine: &Value) -> Vec<i64> {
    machine["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "exit")
        .map(|e| e["request"]["MonitorEvent"]["exit_event"]["exit_code"].as_i64().unwrap())
        .collect()
}

#[test]
fn a_crashing_image_with_restart_policy_no_stops_with_an_exit_event() {
    let emulator = setup();
    emulator.register_image("registry.fly.io/app:crash", json!({"kind": "crash", "exit_code": 3}));
    let id = id(&emulator.create_machine("app", json!({"config": web_config("registry.fly.io/app:crash")})));
    emulator.wait_state("app", &id, "stopped");
    let machine = emulator.machine("app", &id);
    assert_eq!(machine["state"], "stopped");
    assert_eq!(exit_codes(&machine), [3]);
    let exit = machine["events"].as_array().unwrap().iter().find(|e| e["type"] == "exit").unwrap();
    assert_eq!(exit["request"]["exit_event"]["exit_code"], 3);
    assert_eq!(exit["request"]["exit_event"]["requested_stop"], false);
    assert_eq!(exit["request"]["exit_event"]["oom_killed"], false);
    assert_eq!(exit["source"], "flyd");
    let logs = emulator.get("/api/v1/apps/app/logs").body;
    let messages: Vec<&str> = logs["data"].as_array().unwrap().iter().map(|l| l["attributes"]["message"].as_str().unwrap()).collect();
    assert!(messages.contains(&"crashing with exit code 3"), "{messages:?}");
}

#[test]
fn on_failure_restarts_up_to_max_retries_then_fails() {
    let emulator = setup();
    emulator.register_image("registry.fly.io/app:crash", json!({"kind": "crash", "exit_code": 2}));
    let mut config = web_config("registry.fly.io/app:crash");
    config["restart"] = json!({"policy": "on-failure", "max_retries": 2});
    let id = id(&emulator.create_machine("app", json!({"config": config})));
    eventually("the machine to fail", Duration::from_secs(10), || emulator.machine("app", &id)["state"] == "failed");
    let machine = emulator.machine("app", &id);
    assert_eq!(exit_codes(&machine), [2, 2, 2], "first run plus two restarts");
    let restart_counts: Vec<i64> =
        machine["events"].as_array().unwrap().iter().filter(|e| e["type"] == "start").map(|e| e["request"]["restart_count"].as_i64().unwrap()).collect();
    assert_eq!(restart_counts, [2, 1, 0]);
}

#[test]
fn without_a_restart_policy_fly_default_on_failure_applies() {
    let emulator = setup();
    emulator.register_image("registry.fly.io/app:crash", json!({"kind": "crash"}));
    let mut config = web_config("registry.fly.io/app:crash");
    config.as_object_mut().unwrap().remove("restart");
    let id = id(&emulator.create_machine("app", json!({"config": config})));
    eventually("the machine to fail", Duration::from_secs(10), || emulator.machine("app", &id)["state"] == "failed");
    assert_eq!(exit_codes(&emulator.machine("app", &id)).len(), 4, "one run and three restarts");
}

#[test]
fn a_crash_after_image_serves_then_exits_and_always_restarts_it() {
    let emulator = setup();
    emulator.register_image("registry.fly.io/app:flaky", json!({"kind": "crash-after", "crash_after_ms": 200, "exit_code": 0}));
    let mut config = web_config("registry.fly.io/app:flaky");
    config["restart"] = json!({"policy": "always"});
    let id = id(&emulator.create_machine("app", json!({"config": config})));
    emulator.wait_healthy("app", &id);
    assert_eq!(served(&emulator, &id)["body"], "flaky");
    eventually("two exits", Duration::from_secs(10), || exit_codes(&emulator.machine("app", &id)).len() >= 2);
    assert!(exit_codes(&emulator.machine("app", &id)).iter().all(|code| *code == 0));
}

#[test]
fn wait_succeeds_times_out_with_408_and_refuses_long_timeouts() {
    let emulator = setup();
    let id = id(&emulator.create_machine("app", json!({"config": web_config(V1)})));
    let path = format!("/v1/apps/app/machines/{id}/wait");
    assert_eq!(emulator.get(&format!("{path}?state=started&timeout=10")).body, json!({"ok": true}));

    let started = std::time::Instant::now();
    let timed_out = emulator.get(&format!("{path}?state=stopped&timeout=1"));
    assert_eq!(timed_out.status, 408);
    assert_eq!(timed_out.error(), "deadline_exceeded: machine failed to reach desired state");
    assert!(started.elapsed() >= Duration::from_secs(1));

    assert_eq!(emulator.get(&format!("{path}?state=started&timeout=61")).status, 400);
    assert_eq!(emulator.get(&format!("{path}?state=bogus")).status, 400);
    assert_eq!(emulator.get(&format!("{path}?state=started&version=01OTHERVERSION&timeout=1")).status, 408);
    assert_eq!(emulator.get(&format!("{path}?state=stopped&state=started&timeout=1")).status, 200, "any of several states");
    assert_eq!(emulator.get("/v1/apps/app/machines/00000000000000/wait").status, 404);
}

#[test]
fn a_long_poll_returns_as_soon_as_the_state_is_reached() {
    let emulator = setup();
    let id = id(&emulator.create_machine("app", json!({"config": web_config(V1)})));
    emulator.wait_state("app", &id, "started");
    std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let started = std::time::Instant::now();
            let response = emulator.get(&format!("/v1/apps/app/machines/{id}/wait?state=stopped&timeout=30"));
            (response.status, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(emulator.post(&format!("/v1/apps/app/machines/{id}/stop"), json!({})).status, 200);
        let (status, elapsed) = waiter.join().unwrap();
        assert_eq!(status, 200);
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    });
}

#[test]
fn stop_start_and_restart_run_new_processes() {
    let emulator = setup();
    let id = id(&emulator.create_machine("app", json!({"config": web_config(V1)})));
    let base = format!("/v1/apps/app/machines/{id}");
    emulator.wait_state("app", &id, "started");
    let first = emulator.pid_of("app", &id);

    let stopped = emulator.post(&format!("{base}/stop"), json!({"signal": "SIGTERM", "timeout": "5s"}));
    assert_eq!(stopped.status, 200, "{:?}", stopped.body);
    emulator.wait_state("app", &id, "stopped");
    assert!(!process_alive(first));
    assert_eq!(emulator.get(&format!("{base}/ps")).body, json!([]));
    let exit = emulator.machine("app", &id)["events"][0].clone();
    assert_eq!(exit["type"], "exit");
    assert_eq!(exit["request"]["exit_event"]["requested_stop"], true);
    assert_eq!(exit["request"]["exit_event"]["exit_code"], 128 + 15, "killed by SIGTERM");

    let start = emulator.post(&format!("{base}/start"), json!({}));
    assert_eq!(start.body["previous_state"], "stopped");
    emulator.wait_state("app", &id, "started");
    let second = emulator.pid_of("app", &id);
    assert_ne!(first, second);

    assert_eq!(emulator.post(&format!("{base}/restart?signal=SIGINT&timeout=2s"), json!({})).status, 200);
    eventually("a new process", Duration::from_secs(10), || {
        let ps = emulator.get(&format!("{base}/ps")).body;
        ps[0]["pid"].as_u64().is_some_and(|pid| pid as u32 != second)
    });
    assert!(!process_alive(second));
    assert_eq!(emulator.post(&format!("{base}/stop"), json!({"signal": "SIGBOGUS"})).status, 400);
}

#[test]
fn skip_launch_creates_a_stopped_machine_that_starts_on_request() {
    let emulator = setup();
    let created = emulator.create_machine("app", json!({"config": web_config(V1), "skip_launch": true}));
    let id = id(&created);
    assert_eq!(created["state"], "created");
    emulator.wait_state("app", &id, "stopped");
    assert_eq!(emulator.get(&format!("/v1/apps/app/machines/{id}/ps")).body, json!([]));
    emulator.post(&format!("/v1/apps/app/machines/{id}/start"), json!({}));
    emulator.wait_state("app", &id, "started");
}

#[test]
fn destroy_needs_kill_for_a_started_machine_and_kills_the_process() {
    let emulator = setup();
    let id = id(&emulator.create_machine("app", json!({"config": web_config(V1)})));
    emulator.wait_state("app", &id, "started");
    let pid = emulator.pid_of("app", &id);
    assert!(process_alive(pid));

    let refused = emulator.delete(&format!("/v1/apps/app/machines/{id}"));
    assert_eq!(refused.status, 412);
    assert!(refused.error().contains("not currently stopped"), "{:?}", refused.body);
    assert_eq!(emulator.delete(&format!("/v1/apps/app/machines/{id}?kill=true")).status, 200);
    emulator.wait_state("app", &id, "destroyed");
    eventually("the process to be gone", Duration::from_secs(5), || !process_alive(pid));

    assert!(emulator.get("/v1/apps/app/machines").body.as_array().unwrap().is_empty(), "destroyed machines are hidden");
    let all = emulator.get("/v1/apps/app/machines?include_deleted=true").body;
    assert_eq!(all[0]["state"], "destroyed");
    assert_eq!(emulator.machine("app", &id)["events"][0]["type"], "destroy");
    assert_eq!(emulator.post(&format!("/v1/apps/app/machines/{id}/start"), json!({})).status, 404, "gone for mutations");
    assert_eq!(emulator.get(&format!("/v1/apps/app/machines/{id}/wait?state=started")).status, 404);
}

#[test]
fn a_stopped_machine_is_destroyed_without_kill() {
    let emulator = setup();
    let id = id(&emulator.create_machine("app", json!({"config": web_config(V1), "skip_launch": true})));
    emulator.wait_state("app", &id, "stopped");
    assert_eq!(emulator.delete(&format!("/v1/apps/app/machines/{id}")).status, 200);
    emulator.wait_state("app", &id, "destroyed");
}

#[test]
fn metadata_changes_one_key_at_a_time_without_a_new_version() {
    let emulator = setup();
    let created = emulator.create_machine("app", json!({"config": web_config(V1)}));
    let id = id(&created);
    let base = format!("/v1/apps/app/machines/{id}/metadata");
    assert_eq!(emulator.get(&base).body["fly_process_group"], "app");

    assert_eq!(emulator.post(&format!("{base}/fly_bluegreen_deployment_tag"), json!({"value": "safe_to_destroy"})).status, 204);
    let metadata = emulator.get(&base).body;
    assert_eq!(metadata["fly_bluegreen_deployment_tag"], "safe_to_destroy");
    assert_eq!(metadata["fly_platform_version"], "v2");
    let machine = emulator.machine("app", &id);
    assert_eq!(machine["config"]["metadata"]["fly_bluegreen_deployment_tag"], "safe_to_destroy");
    assert_eq!(machine["version"], created["version"]);

    assert_eq!(emulator.delete(&format!("{base}/fly_platform_version")).status, 204);
    assert!(emulator.get(&base).body.get("fly_platform_version").is_none());
    assert_eq!(emulator.post(&format!("{base}/key"), json!({"nope": 1})).status, 400);
}

#[test]
fn process_group_and_platform_variables_reach_the_process() {
    let emulator = setup();
    let id = id(&emulator.create_machine("app", json!({"config": web_config(V1), "region": "lhr"})));
    emulator.wait_healthy("app", &id);
    let endpoint = emulator.endpoint("app", &id, 8080);
    let env = |name: &str| emulator.fetch(&format!("http://{endpoint}/env/{name}")).1;
    assert_eq!(env("FLY_MACHINE_ID"), id);
    assert_eq!(env("FLY_REGION"), "lhr");
    assert_eq!(env("FLY_PROCESS_GROUP"), "app");
    assert_eq!(env("FLY_IMAGE_REF"), V1);
    assert_eq!(emulator.fetch(&format!("http://{endpoint}/env/HOME")).0, 404, "nothing leaks from the emulator's env");
}

#[test]
fn stop_answers_at_once_and_the_machine_gets_to_stopped_later() {
    let emulator = setup();
    // An app that takes its time to shut down, as a database does.
    emulator.register_image("registry.fly.io/app:slow-stop", json!({"stop_delay_ms": 1000}));
    let id = id(&emulator.create_machine("app", json!({"config": web_config("registry.fly.io/app:slow-stop")})));
    emulator.wait_healthy("app", &id);
    let started = std::time::Instant::now();
    let stop = emulator.post(&format!("/v1/apps/app/machines/{id}/stop"), json!({"signal": "SIGTERM", "timeout": "10s"}));
    assert_eq!(stop.status, 200);
    assert!(started.elapsed() < Duration::from_millis(500), "stop does not wait");
    assert_eq!(emulator.machine("app", &id)["state"], "stopping", "a client that goes on now reads a machine still running");
    let still_serving = emulator.fetch(&format!("http://{}/", emulator.endpoint("app", &id, 8080)));
    assert_eq!(still_serving.0, 200, "it shuts down gracefully");
    // flyctl's `fly machine stop`: Stop, then Wait(state=stopped).
    emulator.wait_state("app", &id, "stopped");
    assert!(started.elapsed() >= Duration::from_millis(1000));
    let exit = emulator.machine("app", &id)["events"][0].clone();
    assert_eq!(exit["request"]["exit_event"]["exit_code"], 0, "{exit}");
    assert_eq!(exit["request"]["exit_event"]["requested_stop"], true);
}

#[test]
fn a_suspended_machine_resumes_on_start_and_the_app_counts_as_deployed() {
    let emulator = setup();
    let id = id(&emulator.create_machine("app", json!({"config": web_config(V1)})));
    emulator.wait_state("app", &id, "started");
    assert_eq!(emulator.post(&format!("/v1/apps/app/machines/{id}/suspend"), json!({})).status, 200);
    emulator.wait_state("app", &id, "suspended");
    assert_eq!(emulator.get("/v1/apps/app").body["status"], "suspended", "fly-go's Deployed() accepts it");
    assert_eq!(emulator.post(&format!("/v1/apps/app/machines/{id}/suspend"), json!({})).status, 412);
    let start = emulator.post(&format!("/v1/apps/app/machines/{id}/start"), json!({}));
    assert_eq!(start.body["previous_state"], "suspended");
    emulator.wait_state("app", &id, "started");
    assert_eq!(emulator.get("/v1/apps/app").body["status"], "deployed");
}

#[test]
fn wait_takes_fly_gos_parameters_and_refuses_what_it_does_not_know() {
    let emulator = setup();
    let machine = emulator.create_machine("app", json!({"config": web_config(V1)}));
    let id = id(&machine);
    let instance = machine["instance_id"].as_str().unwrap();
    let path = format!("/v1/apps/app/machines/{id}/wait");
    // TestWaitOptions: repeated state, version and from_event_id.
    let options = emulator.get(&format!("{path}?from_event_id=01JC1V3C&state=stopped&state=started&timeout=10&version={instance}"));
    assert_eq!(options.status, 200, "{:?}", options.body);
    assert_eq!(emulator.get(&format!("{path}?instance_id={instance}&timeout=5")).status, 200, "the docs' name");
    // TestWaitStatesNoCommaSplitting: one parameter is one state.
    assert_eq!(emulator.get(&format!("{path}?state=started,stopped&timeout=1")).status, 400);
    let version = machine["version"].as_str().unwrap();
    assert_eq!(emulator.get(&format!("{path}?state=started&version={version}&timeout=1")).status, 408, "the pin is an instance_id, not the machine version");
    assert_eq!(emulator.get(&format!("{path}?state=started&instance=x&timeout=1")).status, 400, "a misspelt pin is refused, not ignored");
}

#[test]
fn right_after_an_update_reads_can_show_the_old_instance_and_a_pinned_wait_sees_through_it() {
    let emulator = setup();
    emulator.settings(json!({"update_stale_read_ms": 1500}));
    let created = emulator.create_machine("app", json!({"config": web_config(V1)}));
    let id = id(&created);
    emulator.wait_healthy("app", &id);
    let old_instance = emulator.machine("app", &id)["instance_id"].clone();
    let updated = emulator.post(&format!("/v1/apps/app/machines/{id}"), json!({"config": web_config(V2)}));
    let new_instance = updated.body["instance_id"].as_str().unwrap().to_string();
    assert_ne!(new_instance, old_instance.as_str().unwrap());

    // A client that does not pin sees the old instance, started and healthy.
    let read = emulator.machine("app", &id);
    assert_eq!((read["instance_id"].clone(), read["state"].clone()), (old_instance, json!("started")));
    assert!(common::checks_passing(&read), "{read}");
    let started = std::time::Instant::now();
    let unpinned = emulator.get(&format!("/v1/apps/app/machines/{id}/wait?state=started&timeout=10"));
    assert_eq!(unpinned.status, 200);
    assert!(started.elapsed() < Duration::from_millis(500), "an unpinned wait passes on the old instance");
    // Pinned to the instance the update returned, the wait sees the new one.
    let pinned = emulator.get(&format!("/v1/apps/app/machines/{id}/wait?state=started&instance_id={new_instance}&timeout=10"));
    assert_eq!(pinned.status, 200, "{:?}", pinned.body);
    assert!(started.elapsed() >= Duration::from_millis(1400), "{:?}", started.elapsed());
    assert_eq!(emulator.machine("app", &id)["instance_id"], new_instance.as_str());
    emulator.wait_healthy("app", &id);
    assert_eq!(served(&emulator, &id)["body"], "second");
}
