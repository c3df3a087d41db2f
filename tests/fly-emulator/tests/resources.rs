//! Volumes, secrets, IP assignments, release records, logs, and flyctl's
//! release-command machine.

mod common;

use std::time::Duration;

use common::{Emulator, eventually, web_config};
use serde_json::{Value, json};

const IMAGE: &str = "registry.fly.io/app:v1";

fn setup() -> Emulator {
    let emulator = Emulator::start();
    emulator.register_image(IMAGE, json!({}));
    emulator.create_app("app");
    emulator
}

fn create_volume(emulator: &Emulator, body: Value) -> Value {
    let response = emulator.post("/v1/apps/app/volumes", body);
    assert_eq!(response.status, 200, "{:?}", response.body);
    response.body
}

fn with_mount(volume: &str) -> Value {
    let mut config = web_config(IMAGE);
    config["mounts"] = json!([{"volume": volume, "path": "/data"}]);
    config
}

#[test]
fn volumes_attach_to_one_machine_and_detach_when_it_is_destroyed() {
    let emulator = setup();
    let volume = create_volume(&emulator, json!({"name": "data", "region": "ams", "size_gb": 3}));
    let vol = volume["id"].as_str().unwrap().to_string();
    assert!(vol.starts_with("vol_"));
    assert_eq!(volume["size_gb"], 3);
    assert!(volume["attached_machine_id"].is_null());

    let machine = emulator.create_machine("app", json!({"config": with_mount(&vol)}));
    let id = machine["id"].as_str().unwrap().to_string();
    assert_eq!(machine["region"], "ams", "a volume pins its machine's region");
    assert_eq!(emulator.get(&format!("/v1/apps/app/volumes/{vol}")).body["attached_machine_id"], id.as_str());

    let double = emulator.post("/v1/apps/app/machines", json!({"config": with_mount(&vol)}));
    assert_eq!(double.status, 400);
    assert!(double.error().contains("is already attached"), "{:?}", double.body);
    let elsewhere = emulator.post("/v1/apps/app/machines", json!({"config": with_mount(&vol), "region": "iad"}));
    assert_eq!(elsewhere.status, 400);
    let unknown = emulator.post("/v1/apps/app/machines", json!({"config": with_mount("vol_doesnotexist0000")}));
    assert_eq!(unknown.status, 400);
    assert!(unknown.error().contains("not found"));
    let refused = emulator.delete(&format!("/v1/apps/app/volumes/{vol}"));
    assert_eq!(refused.status, 400, "an attached volume is not deleted");

    // Updating the same machine with the same mount is fine.
    emulator.wait_state("app", &id, "started");
    assert_eq!(emulator.post(&format!("/v1/apps/app/machines/{id}"), json!({"config": with_mount(&vol)})).status, 200);

    assert_eq!(emulator.delete(&format!("/v1/apps/app/machines/{id}?kill=true")).status, 200);
    emulator.wait_state("app", &id, "destroyed");
    assert!(emulator.get(&format!("/v1/apps/app/volumes/{vol}")).body["attached_machine_id"].is_null());
    let next = emulator.create_machine("app", json!({"config": with_mount(&vol)}));
    assert_eq!(emulator.get(&format!("/v1/apps/app/volumes/{vol}")).body["attached_machine_id"], next["id"]);
}

#[test]
fn volumes_fork_extend_update_list_and_delete() {
    let emulator = setup();
    let source = create_volume(&emulator, json!({"name": "pg_data", "region": "fra", "size_gb": 10}));
    let source_id = source["id"].as_str().unwrap();
    let fork = create_volume(&emulator, json!({"name": "pg_data", "source_volume_id": source_id, "require_unique_zone": true}));
    assert_eq!(fork["region"], "fra", "a fork defaults to its source's region");
    assert_eq!(fork["size_gb"], 10);
    assert_eq!(fork["source_volume_id"], source_id);
    let too_small = emulator.post("/v1/apps/app/volumes", json!({"name": "pg_data", "source_volume_id": source_id, "size_gb": 1}));
    assert_eq!(too_small.status, 400);
    let missing = emulator.post("/v1/apps/app/volumes", json!({"name": "x", "source_volume_id": "vol_missing"}));
    assert_eq!(missing.status, 404);

    let unique = create_volume(&emulator, json!({"name": "pg_data", "region": "fra", "require_unique_zone": true}));
    assert_ne!(unique["zone"], source["zone"], "require_unique_zone picks another zone");
    assert_eq!(emulator.post("/v1/apps/app/volumes", json!({"name": "Bad-Name"})).status, 400);

    let fork_id = fork["id"].as_str().unwrap();
    let extended = emulator.call("PUT", &format!("/v1/apps/app/volumes/{fork_id}/extend"), Some(json!({"size_gb": 20})));
    assert_eq!(extended.status, 200, "{:?}", extended.body);
    assert_eq!(extended.body["volume"]["size_gb"], 20);
    assert_eq!(extended.body["needs_restart"], false);
    let shrink = emulator.call("PUT", &format!("/v1/apps/app/volumes/{fork_id}/extend"), Some(json!({"size_gb": 5})));
    assert_eq!(shrink.status, 400);
    let updated = emulator.call("PUT", &format!("/v1/apps/app/volumes/{fork_id}"), Some(json!({"snapshot_retention": 14})));
    assert_eq!(updated.body["snapshot_retention"], 14);

    assert_eq!(emulator.get("/v1/apps/app/volumes").body.as_array().unwrap().len(), 3);
    let deleted = emulator.delete(&format!("/v1/apps/app/volumes/{fork_id}"));
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["state"], "destroyed");
    assert_eq!(emulator.get(&format!("/v1/apps/app/volumes/{fork_id}")).status, 404);
    assert_eq!(emulator.get("/v1/apps/app/volumes").body.as_array().unwrap().len(), 2);
}

#[test]
fn secrets_never_return_values_and_reach_the_machine_environment() {
    let emulator = setup();
    let set = emulator.post("/v1/apps/app/secrets", json!({"values": {"DATABASE_URL": "postgres://s3cr3t", "OLD": "x"}}));
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(set.body["version"], 1);
    let unset = emulator.post("/v1/apps/app/secrets", json!({"values": {"OLD": null, "API_KEY": "k3y"}}));
    assert_eq!(unset.body["version"], 2);

    let listed = emulator.get("/v1/apps/app/secrets");
    let names: Vec<&str> = listed.body["secrets"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["API_KEY", "DATABASE_URL"]);
    for response in [&set, &unset, &listed] {
        let text = response.body.to_string();
        assert!(!text.contains("s3cr3t") && !text.contains("k3y"), "a value leaked: {text}");
        assert!(response.body["secrets"][0]["digest"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert_eq!(emulator.post("/v1/apps/app/secrets", json!({"values": {"BAD-NAME": "v"}})).status, 400);

    let machine = emulator.create_machine("app", json!({"config": web_config(IMAGE), "min_secrets_version": 2}));
    let id = machine["id"].as_str().unwrap();
    emulator.wait_healthy("app", id);
    let endpoint = emulator.endpoint("app", id, 8080);
    assert_eq!(emulator.fetch(&format!("http://{endpoint}/env/DATABASE_URL")).1, "postgres://s3cr3t");
    assert_eq!(emulator.fetch(&format!("http://{endpoint}/env/OLD")).0, 404);
    let too_new = emulator.post("/v1/apps/app/machines", json!({"config": web_config(IMAGE), "min_secrets_version": 9}));
    assert_eq!(too_new.status, 422, "{:?}", too_new.body);
    assert!(too_new.error().contains("min_secrets_version 9"), "{:?}", too_new.body);

    let deleted = emulator.delete("/v1/apps/app/secrets/API_KEY");
    assert_eq!(deleted.body["version"], 3);
    assert_eq!(emulator.delete("/v1/apps/app/secrets/API_KEY").status, 404);
    let one = emulator.post("/v1/apps/app/secrets/TOKEN", json!({"value": "t0k"}));
    assert_eq!(one.body["name"], "TOKEN");
    assert_eq!(one.body["version"], 4);
    assert!(one.body.get("value").is_none());
    assert!(emulator.get("/v1/apps/app/secrets/TOKEN").body.get("value").is_none());
}

#[test]
fn skip_secrets_keeps_secrets_out_of_the_machine() {
    let emulator = setup();
    emulator.post("/v1/apps/app/secrets", json!({"values": {"HIDDEN": "v"}}));
    let id = emulator.create_machine("app", json!({"config": web_config(IMAGE), "skip_secrets": true}))["id"].as_str().unwrap().to_string();
    emulator.wait_healthy("app", &id);
    assert_eq!(emulator.fetch(&format!("http://{}/env/HIDDEN", emulator.endpoint("app", &id, 8080))).0, 404);
}

#[test]
fn ip_assignments_use_documentation_addresses() {
    let emulator = setup();
    let assign = |kind: &str| {
        let response = emulator.post("/v1/apps/app/ip_assignments", json!({"type": kind, "region": "global"}));
        assert_eq!(response.status, 200, "{kind}: {:?}", response.body);
        response.body
    };
    let v4 = assign("v4");
    assert!(v4["ip"].as_str().unwrap().starts_with("203.0.113."));
    assert_eq!(v4["shared"], false);
    let shared = assign("shared_v4");
    assert!(shared["ip"].as_str().unwrap().starts_with("198.51.100."));
    assert_eq!(shared["shared"], true);
    let v6 = assign("v6");
    assert!(v6["ip"].as_str().unwrap().starts_with("2001:db8:"));
    let flycast = assign("private_v6");
    assert!(flycast["ip"].as_str().unwrap().starts_with("fdaa:"));
    assert_eq!(flycast["network"]["org_slug"], "personal");
    assert_eq!(emulator.post("/v1/apps/app/ip_assignments", json!({"type": "v5"})).status, 400);

    let listed = emulator.get("/v1/apps/app/ip_assignments").body;
    assert_eq!(listed["ips"].as_array().unwrap().len(), 4);
    let ip = v4["ip"].as_str().unwrap();
    assert_eq!(emulator.delete(&format!("/v1/apps/app/ip_assignments/{ip}")).status, 204);
    assert_eq!(emulator.delete(&format!("/v1/apps/app/ip_assignments/{ip}")).status, 404);
    assert_eq!(emulator.get("/v1/apps/app/ip_assignments").body["ips"].as_array().unwrap().len(), 3);
}

fn create_release(emulator: &Emulator, app: &str) -> Value {
    let body = json!({"app_name": app, "build_id": 0, "definition": {"app": app}, "image": IMAGE, "strategy": "ROLLING"});
    let response = emulator.call_with(
        "POST",
        "/api/v1/releases",
        Some(body),
        // flyctl's uiex client: `Bearer <macaroons,tokens>` (internal/uiex/releases.go:215).
        &[("Authorization", "Bearer fm2_deploytoken,fo1_usertoken")],
    );
    assert_eq!(response.status, 201, "{:?}", response.body);
    response.body["release"].clone()
}

fn patch_release(emulator: &Emulator, id: &str, body: Value) -> common::Response {
    emulator.call("PATCH", &format!("/api/v1/releases/{id}"), Some(body))
}

#[test]
fn release_records_follow_flyctls_uiex_client() {
    let emulator = setup();
    emulator.create_app("other");
    let first = create_release(&emulator, "app");
    for key in ["id", "version", "stable", "in_progress", "status", "strategy", "user", "created_at", "image_ref"] {
        assert!(first.get(key).is_some(), "{key} missing from {first}");
    }
    assert_eq!(first["in_progress"], true);
    assert_eq!(first["image_ref"], IMAGE);
    let second = create_release(&emulator, "app");
    assert_eq!((first["version"].as_u64(), second["version"].as_u64()), (Some(1), Some(2)));
    assert_eq!(create_release(&emulator, "other")["version"], 1, "each app counts its own");
    assert_eq!(emulator.get("/api/v1/apps/app/releases/current").status, 404, "nothing complete yet");

    // flyctl's sequence: running (metadata null), then complete or failed.
    let id = first["id"].as_str().unwrap();
    let running = patch_release(&emulator, id, json!({"metadata": null, "status": "running"}));
    assert_eq!(running.status, 200, "{:?}", running.body);
    assert_eq!(running.body["status"], "running", "the bare release: {:?}", running.body);
    let complete = patch_release(&emulator, id, json!({"metadata": {"post_deployment_info": {"flyctl_version": "ferry", "error": ""}}, "status": "complete"}));
    assert_eq!(complete.body["status"], "complete");
    assert_eq!(complete.body["stable"], true);
    let failed = second["id"].as_str().unwrap();
    patch_release(&emulator, failed, json!({"metadata": {"post_deployment_info": {"flyctl_version": "ferry", "error": "boom"}}, "status": "failed"}));
    let finished = patch_release(&emulator, failed, json!({"metadata": null, "status": "complete"}));
    assert_eq!((finished.status, finished.error()), (422, "the release has already finished"));

    // A failed deploy's number is not reused.
    assert_eq!(create_release(&emulator, "app")["version"], 3);
    let current = emulator.get("/api/v1/apps/app/releases/current").body;
    assert_eq!(current["id"], id, "the newest complete release");
    let listed = emulator.get("/api/v1/apps/app/releases?limit=2").body;
    let versions: Vec<u64> = listed["releases"].as_array().unwrap().iter().map(|r| r["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [3, 2], "newest first, limited");
    let records = emulator.control("GET", "/apps/app/releases", None).body;
    assert_eq!(records[1]["metadata"]["post_deployment_info"]["error"], "boom");
    assert_eq!(records[0]["definition"], json!({"app": "app"}));

    assert_eq!(patch_release(&emulator, id, json!({"status": "weird"})).status, 400);
    let lowercase = emulator.post("/api/v1/releases", json!({"app_name": "app", "image": IMAGE, "strategy": "rolling"}));
    assert_eq!(lowercase.status, 422, "flyctl upper-cases the strategy: {:?}", lowercase.body);
    let unknown = emulator.post("/api/v1/releases", json!({"app_name": "app", "image": IMAGE, "strategy": "ROLLING", "version": 9}));
    assert_eq!(unknown.status, 400, "{:?}", unknown.body);
    assert_eq!(emulator.post("/api/v1/releases", json!({"app_name": "ghost", "image": IMAGE, "strategy": "ROLLING"})).status, 404);
}

fn release_config(image: &str, auto_destroy: bool) -> Value {
    json!({
        "image": image,
        "init": {"cmd": ["bin/migrate"]},
        "env": {"RELEASE_COMMAND": "1"},
        "metadata": {"fly_platform_version": "v2", "fly_process_group": "fly_app_release_command"},
        "restart": {"policy": "no"},
        "auto_destroy": auto_destroy,
        "dns": {"skip_registration": true},
    })
}

fn log_messages(emulator: &Emulator, instance: &str) -> Vec<String> {
    let logs = emulator.get(&format!("/api/v1/apps/app/logs?instance={instance}")).body;
    logs["data"].as_array().unwrap().iter().map(|l| l["attributes"]["message"].as_str().unwrap().to_string()).collect()
}

#[test]
fn the_release_command_machine_prints_exits_with_its_code_and_auto_destroys() {
    let emulator = setup();
    emulator.register_image(
        "registry.fly.io/app:migrate",
        json!({"release_exit_code": 3, "release_output": ["running migrations", "migration 42 failed"], "release_duration_ms": 100}),
    );
    // flyctl's sequence: create with skip_launch, wait stopped, start, wait destroyed, read the exit code.
    let created = emulator.create_machine("app", json!({"config": release_config("registry.fly.io/app:migrate", true), "skip_launch": true}));
    let id = created["id"].as_str().unwrap();
    emulator.wait_state("app", id, "stopped");
    emulator.post(&format!("/v1/apps/app/machines/{id}/start"), json!({}));
    emulator.wait_state("app", id, "destroyed");

    let machine = emulator.machine("app", id);
    assert_eq!(machine["state"], "destroyed");
    let events = machine["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["destroy", "exit", "start", "launch"]);
    assert_eq!(events[1]["request"]["MonitorEvent"]["exit_event"]["exit_code"], 3);
    assert_eq!(log_messages(&emulator, id), ["running migrations", "migration 42 failed"]);
    assert_eq!(emulator.get(&format!("/v1/apps/app/machines/{id}/wait?state=started")).status, 404, "it is gone");
    assert!(emulator.get("/v1/apps/app/machines").body.as_array().unwrap().is_empty());
}

#[test]
fn a_successful_release_command_without_auto_destroy_stops() {
    let emulator = setup();
    emulator.register_image("registry.fly.io/app:migrate", json!({"release_output": ["ok"]}));
    let id = emulator.create_machine("app", json!({"config": release_config("registry.fly.io/app:migrate", false)}))["id"].as_str().unwrap().to_string();
    eventually("the command to finish", Duration::from_secs(10), || emulator.machine("app", &id)["events"][0]["type"] == "exit");
    let machine = emulator.machine("app", &id);
    assert_eq!(machine["state"], "stopped");
    assert_eq!(machine["events"][0]["request"]["exit_event"]["exit_code"], 0);
    assert_eq!(log_messages(&emulator, &id), ["ok"]);
}

#[test]
fn a_machine_with_init_cmd_outside_the_release_group_serves_its_image() {
    let emulator = setup();
    let mut config = web_config(IMAGE);
    config["init"] = json!({"cmd": ["bin/server"]});
    let id = emulator.create_machine("app", json!({"config": config}))["id"].as_str().unwrap().to_string();
    emulator.wait_healthy("app", &id);
}

#[test]
fn logs_page_by_next_token_and_keep_lines_of_all_machines() {
    let emulator = setup();
    emulator.register_image("registry.fly.io/app:chatty", json!({"release_output": ["one", "two", "three"]}));
    let id = emulator.create_machine("app", json!({"config": release_config("registry.fly.io/app:chatty", false)}))["id"].as_str().unwrap().to_string();
    eventually("three lines", Duration::from_secs(10), || log_messages(&emulator, &id).len() == 3);
    let page = emulator.get("/api/v1/apps/app/logs").body;
    let entry = &page["data"][0];
    assert_eq!(entry["attributes"]["instance"], id.as_str());
    assert_eq!(entry["attributes"]["region"], "iad");
    assert_eq!(entry["attributes"]["level"], "info");
    assert!(entry["attributes"]["timestamp"].as_str().unwrap().ends_with('Z'));
    let token = page["meta"]["next_token"].as_str().unwrap();
    let after = emulator.get(&format!("/api/v1/apps/app/logs?next_token={token}")).body;
    assert!(after["data"].as_array().unwrap().is_empty());
    assert_eq!(after["meta"]["next_token"], token, "the token stays when nothing is new");
    assert_eq!(emulator.get("/api/v1/apps/ghost/logs").status, 404);
}

/// Polls the volume's snapshots until one not in `before` is `created`.
fn new_created_snapshot(emulator: &Emulator, app: &str, volume: &str, before: &[String]) -> String {
    let path = format!("/v1/apps/{app}/volumes/{volume}/snapshots");
    let mut found = None;
    eventually("the new snapshot to be created", Duration::from_secs(10), || {
        let listed = emulator.get(&path).body;
        found = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["status"] == "created" && !before.iter().any(|b| s["id"] == b.as_str()))
            .map(|s| s["id"].as_str().unwrap().to_string());
        found.is_some()
    });
    found.unwrap()
}

#[test]
fn snapshots_are_asynchronous_and_only_a_created_one_restores() {
    let emulator = setup();
    emulator.control("POST", "/settings", Some(json!({"snapshot_waiting_ms": 400, "snapshot_running_ms": 400})));
    let source = create_volume(&emulator, json!({"name": "data", "region": "ams", "size_gb": 3}));
    let vol = source["id"].as_str().unwrap();
    let snapshots = format!("/v1/apps/app/volumes/{vol}/snapshots");
    assert_eq!(emulator.post(&snapshots, json!({})).status, 200);

    let waiting = emulator.get(&snapshots).body;
    assert_eq!(waiting[0]["status"], "waiting", "{waiting}");
    assert_eq!(waiting[0]["id"], "", "a waiting snapshot has no id yet (flyctl prints \"(pending)\")");
    let pending = emulator.post("/v1/apps/app/volumes", json!({"name": "copy", "snapshot_id": ""}));
    assert_eq!(pending.status, 404, "a client restoring the listed id too early: {:?}", pending.body);
    assert!(pending.error().contains("still waiting"), "{:?}", pending.body);
    eventually("the snapshot to run", Duration::from_secs(5), || emulator.get(&snapshots).body[0]["status"] == "running");
    let running = emulator.get(&snapshots).body;
    let id = running[0]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("vs_"), "{running}");
    let early = emulator.post("/v1/apps/app/volumes", json!({"name": "copy", "snapshot_id": id}));
    assert_eq!(early.status, 400, "{:?}", early.body);
    assert!(early.error().contains("not created yet"), "{:?}", early.body);

    assert_eq!(new_created_snapshot(&emulator, "app", vol, &[]), id);
    let restored = emulator.post("/v1/apps/app/volumes", json!({"name": "copy", "snapshot_id": id}));
    assert_eq!(restored.status, 200, "{:?}", restored.body);
}

#[test]
fn the_snapshot_list_order_is_not_the_creation_order() {
    let emulator = setup();
    emulator.control("POST", "/settings", Some(json!({"snapshot_waiting_ms": 0, "snapshot_running_ms": 0})));
    let vol = create_volume(&emulator, json!({"name": "data"}))["id"].as_str().unwrap().to_string();
    let path = format!("/v1/apps/app/volumes/{vol}/snapshots");
    for _ in 0..6 {
        emulator.post(&path, json!({}));
    }
    let order =
        |emulator: &Emulator| -> Vec<String> { emulator.get(&path).body.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect() };
    let first = order(&emulator);
    let shuffled = (0..20).any(|_| order(&emulator) != first);
    assert!(shuffled, "twenty lists of six snapshots all came back in one order");
    emulator.control("POST", "/settings", Some(json!({"snapshot_shuffle": false})));
    let stable = order(&emulator);
    assert!((0..5).all(|_| order(&emulator) == stable));
}

#[test]
fn snapshots_carry_a_volumes_bytes_into_another_apps_volume() {
    let emulator = setup();
    emulator.create_app("other");
    let source = create_volume(&emulator, json!({"name": "data", "region": "ams", "size_gb": 3}));
    let vol = source["id"].as_str().unwrap();
    let content = format!("/volumes/{vol}/content");
    assert_eq!(emulator.control("PUT", &content, Some(json!("yesterday's bytes"))).status, 200);
    // The platform's daily backup, a day old: not the snapshot to restore.
    let daily = emulator.control("POST", &format!("/volumes/{vol}/snapshots"), Some(json!({})));
    assert_eq!(daily.body["status"], "created", "{:?}", daily.body);
    let daily_id = daily.body["id"].as_str().unwrap().to_string();

    let bytes = json!({"orders": [1, 2, 3]});
    emulator.control("PUT", &content, Some(bytes.clone()));
    let snapshots = format!("/v1/apps/app/volumes/{vol}/snapshots");
    assert_eq!(emulator.post(&snapshots, json!({})).status, 200);
    // Later writes are not in the snapshot.
    emulator.control("PUT", &content, Some(json!("changed after the snapshot")));
    let snapshot = new_created_snapshot(&emulator, "app", vol, std::slice::from_ref(&daily_id));
    let listed = emulator.get(&snapshots).body;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let ours = listed.as_array().unwrap().iter().find(|s| s["id"] == snapshot.as_str()).unwrap();
    assert_eq!(ours["size"], 3u64 << 30);
    assert_eq!(ours["volume_size"], 3);
    let theirs = listed.as_array().unwrap().iter().find(|s| s["id"] == daily_id.as_str()).unwrap();
    assert!(theirs["created_at"].as_str() < ours["created_at"].as_str(), "the daily one is older: {listed}");

    let small = emulator.post("/v1/apps/other/volumes", json!({"name": "data", "snapshot_id": snapshot, "size_gb": 1}));
    assert_eq!(small.status, 400);
    assert!(small.error().contains("at least 3 (the snapshot's size)"), "{:?}", small.body);
    let restored = emulator.post("/v1/apps/other/volumes", json!({"name": "data", "snapshot_id": snapshot, "region": "fra"}));
    assert_eq!(restored.status, 200, "{:?}", restored.body);
    assert_eq!((restored.body["size_gb"].as_u64(), restored.body["region"].as_str()), (Some(3), Some("fra")));
    let copy = restored.body["id"].as_str().unwrap();
    assert_eq!(emulator.control("GET", &format!("/volumes/{copy}/content"), None).body, bytes);
    let stale = emulator.post("/v1/apps/other/volumes", json!({"name": "old", "snapshot_id": daily_id}));
    let stale_copy = stale.body["id"].as_str().unwrap();
    assert_eq!(emulator.control("GET", &format!("/volumes/{stale_copy}/content"), None).body, "yesterday's bytes");

    // A fork stays inside its app; other apps go through a snapshot.
    let cross = emulator.post("/v1/apps/other/volumes", json!({"name": "data", "source_volume_id": vol}));
    assert_eq!(cross.status, 404, "{:?}", cross.body);
    let fork = create_volume(&emulator, json!({"name": "data", "source_volume_id": vol}));
    let fork_content = emulator.control("GET", &format!("/volumes/{}/content", fork["id"].as_str().unwrap()), None);
    assert_eq!(fork_content.body, "changed after the snapshot");
    let both = emulator.post("/v1/apps/app/volumes", json!({"name": "data", "source_volume_id": vol, "snapshot_id": snapshot}));
    assert_eq!(both.status, 400);
    let missing = emulator.post("/v1/apps/app/volumes", json!({"name": "data", "snapshot_id": "vs_nothere"}));
    assert_eq!(missing.status, 404);

    // Snapshots outlive their volume.
    assert_eq!(emulator.delete(&format!("/v1/apps/app/volumes/{vol}")).status, 200);
    assert_eq!(emulator.get(&snapshots).status, 404, "the volume is gone");
    let again = emulator.post("/v1/apps/other/volumes", json!({"name": "data2", "snapshot_id": snapshot}));
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(emulator.control("GET", "/volumes/vol_nothere/content", None).status, 404);
}
