//! What the API stores and echoes for a machine: the config round-tripped
//! through fly-go's types with the platform's defaults, replaced (not
//! merged) on update; unknown keys and source-less files refused; every
//! body flyctl sends accepted; `instance_id` apart from `version`.

mod common;

use common::{Emulator, web_config};
use serde_json::{Value, json};

const IMAGE: &str = "registry.fly.io/app:v1";

fn setup() -> Emulator {
    let emulator = Emulator::start();
    emulator.register_image(IMAGE, json!({}));
    emulator.create_app("app");
    emulator
}

fn service(autostop: Value) -> Value {
    json!({
        "protocol": "tcp",
        "internal_port": 8080,
        "autostop": autostop,
        "autostart": false,
        "min_machines_running": 0,
        "ports": [{"port": 443, "handlers": ["tls", "http"]}],
        "checks": [{"type": "http", "path": "/", "interval": "90s", "timeout": 1_500_000_000u64, "grace_period": "1s"}],
    })
}

#[test]
fn a_config_comes_back_the_way_the_api_encodes_it() {
    let emulator = setup();
    let sent = json!({
        "image": IMAGE,
        "env": {},
        "metadata": null,
        "schedule": "",
        "auto_destroy": false,
        "services": [service(json!("stop")), service(json!("off")), service(json!("suspend"))],
        "stop_config": {"timeout": "300s", "signal": "SIGTERM"},
    });
    let created = emulator.create_machine("app", json!({"config": sent}));
    let config = &created["config"];
    // fly-go: "the API continues to use booleans for "off" and "stop" in responses".
    let autostops: Vec<&Value> = config["services"].as_array().unwrap().iter().map(|s| &s["autostop"]).collect();
    assert_eq!(autostops, [&json!(true), &json!(false), &json!("suspend")]);
    // Durations as Go's Duration.String() prints them.
    let check = &config["services"][0]["checks"][0];
    assert_eq!((check["interval"].as_str(), check["timeout"].as_str(), check["grace_period"].as_str()), (Some("1m30s"), Some("1.5s"), Some("1s")));
    assert_eq!(config["stop_config"]["timeout"], "5m0s");
    // Defaults the platform fills in (docs' example responses).
    assert_eq!(config["guest"], json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}));
    assert_eq!(config["restart"], json!({"policy": ""}));
    assert_eq!(config["dns"], json!({}));
    assert_eq!(config["init"], json!({}), "init is never omitted");
    // omitempty: empty values vanish, pointers that were sent stay.
    for gone in ["env", "metadata", "schedule", "auto_destroy"] {
        assert!(config.get(gone).is_none(), "{gone} should be omitted: {config}");
    }
    assert_eq!(config["services"][0]["autostart"], false);
    assert_eq!(config["services"][0]["min_machines_running"], 0);
    assert!(config["services"][0]["force_instance_key"].is_null() && config["services"][0].get("force_instance_key").is_some());

    // The same echo everywhere the config is read.
    let id = created["id"].as_str().unwrap();
    assert_eq!(emulator.machine("app", id)["config"], *config);
    assert_eq!(emulator.get("/v1/apps/app/machines").body[0]["config"], *config);
    assert_eq!(emulator.get(&format!("/v1/apps/app/machines/{id}/versions")).body[0]["user_config"], *config);

    // Echoing the echo changes nothing: a client comparing against it is stable.
    let again = emulator.post(&format!("/v1/apps/app/machines/{id}"), json!({"config": config, "skip_launch": true}));
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["config"], *config);
}

#[test]
fn an_update_replaces_the_config_instead_of_merging_it() {
    let emulator = setup();
    let mut config = web_config(IMAGE);
    config["schedule"] = json!("daily");
    config["standbys"] = json!(["0e286039f42e86"]);
    config["dns"] = json!({"nameservers": ["1.1.1.1"]});
    config["init"] = json!({"tty": true, "kernel_args": ["quiet"]});
    let id = emulator.create_machine("app", json!({"config": config}))["id"].as_str().unwrap().to_string();
    emulator.wait_state("app", &id, "started");
    let updated = emulator.post(&format!("/v1/apps/app/machines/{id}"), json!({"config": web_config(IMAGE)}));
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    let echoed = &updated.body["config"];
    assert!(echoed.get("schedule").is_none() && echoed.get("standbys").is_none(), "what the client left out is gone: {echoed}");
    assert_eq!(echoed["dns"], json!({}), "back to the default");
    assert_eq!(echoed["init"], json!({}));
}

#[test]
fn unknown_keys_and_wrong_types_are_refused_with_their_path() {
    let emulator = setup();
    let refuse = |body: Value, needle: &str| {
        let response = emulator.post("/v1/apps/app/machines", body);
        assert_eq!(response.status, 400, "{:?}", response.body);
        assert!(response.error().contains(needle), "{needle:?} not in {:?}", response.body);
    };
    let mut config = web_config(IMAGE);
    config["some_future_field"] = json!(1);
    refuse(json!({"config": config}), "config: unknown field \"some_future_field\"");
    let mut config = web_config(IMAGE);
    config["services"][0]["ports"][0]["tls"] = json!({"alpn": ["h2"]});
    refuse(json!({"config": config}), "config.services[0].ports[0]: unknown field \"tls\"");
    let mut config = web_config(IMAGE);
    config["files"] = json!([{"guest_path": "/etc/app.conf", "local_path": "app.conf"}]);
    refuse(json!({"config": config}), "config.files[0]: unknown field \"local_path\"");
    let mut config = web_config(IMAGE);
    config["guest"] = json!({"cpus": "2"});
    refuse(json!({"config": config}), "config.guest.cpus");
    let mut config = web_config(IMAGE);
    config["services"][0]["autostop"] = json!("sometimes");
    refuse(json!({"config": config}), "invalid autostop string value \"sometimes\"");
    refuse(json!({"config": web_config(IMAGE), "region_hint": "ams"}), "unknown field `region_hint`");
    assert!(emulator.get("/v1/apps/app/machines").body.as_array().unwrap().is_empty(), "nothing was created");
}

fn file_config(files: Value) -> Value {
    let mut config = web_config(IMAGE);
    config["files"] = files;
    config
}

#[test]
fn a_file_needs_exactly_one_source_and_reaches_the_machine() {
    let emulator = setup();
    for (files, needle) in [
        (json!([{"guest_path": "/etc/a"}]), "exactly one of raw_value, secret_name or image_config, got none"),
        (json!([{"guest_path": "/etc/a", "raw_value": "aGk=", "secret_name": "A"}]), "got raw_value and secret_name"),
        (json!([{"guest_path": "/etc/a", "raw_value": "hello world"}]), "raw_value is not valid base64"),
        (json!([{"guest_path": "etc/a", "raw_value": "aGk="}]), "absolute"),
    ] {
        let response = emulator.post("/v1/apps/app/machines", json!({"config": file_config(files)}));
        assert_eq!(response.status, 400, "{:?}", response.body);
        assert!(response.error().contains(needle), "{needle:?} not in {:?}", response.body);
    }

    // The secret holds base64 of the contents (fly-go machine_types.go:919-921).
    emulator.post("/v1/apps/app/secrets", json!({"values": {"TLS_KEY": "a2V5IGJ5dGVz"}}));
    let files = json!([
        {"guest_path": "/etc/greeting", "raw_value": "aGVsbG8gd29ybGQK"},
        {"guest_path": "/etc/tls/key.pem", "secret_name": "TLS_KEY", "mode": 384},
    ]);
    let created = emulator.create_machine("app", json!({"config": file_config(files.clone())}));
    assert_eq!(created["config"]["files"], files);
    let id = created["id"].as_str().unwrap();
    emulator.wait_healthy("app", id);
    let endpoint = emulator.endpoint("app", id, 8080);
    assert_eq!(emulator.fetch(&format!("http://{endpoint}/files/etc/greeting")), (200, "hello world\n".to_string()));
    assert_eq!(emulator.fetch(&format!("http://{endpoint}/files/etc/tls/key.pem")).1, "key bytes");
    assert_eq!(emulator.fetch(&format!("http://{endpoint}/files/etc/other")).0, 404);
}

#[test]
fn everything_flyctl_sends_is_accepted() {
    let emulator = Emulator::start();
    emulator.register_image(IMAGE, json!({}));
    // CreateAppRequest: all four keys, empty strings included (flaps_apps.go:13-24).
    let app = emulator.post("/v1/apps?wait=true", json!({"name": "shop", "org_slug": "personal", "network": "", "app_role_id": ""}));
    assert_eq!(app.status, 201, "{:?}", app.body);
    for key in ["id", "name", "status", "organization", "machine_count", "volume_count", "network", "internal_numeric_id", "cname_target", "app_role"] {
        assert!(app.body.get(key).is_some(), "{key} missing from {:?}", app.body);
    }
    // CreateVolumeRequest: explicit nulls for unset pointers (volume_types.go:29-51).
    let volume = emulator.post(
        "/v1/apps/shop/volumes",
        json!({
            "name": "data", "region": "ams", "size_gb": 1, "encrypted": true, "require_unique_zone": null,
            "unique_zone_app_wide": null, "snapshot_retention": null, "auto_backup_enabled": null, "fstype": null,
            "snapshot_id": null, "source_volume_id": null,
            "compute": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}, "compute_image": IMAGE,
        }),
    );
    assert_eq!(volume.status, 200, "{:?}", volume.body);
    // LaunchMachineInput with init {}, force_instance_key null, skip_secrets false.
    let config = json!({
        "init": {},
        "image": IMAGE,
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
        "metadata": {"fly_platform_version": "v2", "fly_process_group": "app", "fly_release_id": "01J", "fly_release_version": "1", "fly_flyctl_version": "0.3.0"},
        "services": [{"protocol": "tcp", "internal_port": 8080, "autostop": true, "autostart": true, "min_machines_running": 0,
                      "ports": [{"port": 80, "handlers": ["http"], "force_https": true}], "force_instance_key": null}],
        "mounts": [{"path": "/data", "name": "data", "volume": volume.body["id"]}],
    });
    let created =
        emulator.post("/v1/apps/shop/machines", json!({"config": config, "region": "ams", "skip_launch": false, "skip_secrets": false, "lease_ttl": 300}));
    assert_eq!(created.status, 200, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let nonce = created.body["nonce"].as_str().unwrap();
    let auth = format!("Bearer {}", common::TOKEN);
    let with_nonce = [("Authorization", auth.as_str()), ("fly-machine-lease-nonce", nonce)];
    emulator.wait_state("shop", id, "started");
    // Restart: `?force_stop=false` always (flaps_machines.go:90-113).
    let restart = emulator.call_with("POST", &format!("/v1/apps/shop/machines/{id}/restart?force_stop=false"), None, &with_nonce);
    assert_eq!(restart.status, 200, "{:?}", restart.body);
    emulator.wait_state("shop", id, "started");
    // Stop: `{"id", "timeout": "0s"}` (brief §19.14); 0s means the default, not SIGKILL.
    let stop = emulator.call_with("POST", &format!("/v1/apps/shop/machines/{id}/stop"), Some(json!({"id": id, "timeout": "0s"})), &with_nonce);
    assert_eq!(stop.status, 200, "{:?}", stop.body);
    emulator.wait_state("shop", id, "stopped");
    let exit = emulator.machine("shop", id)["events"][0].clone();
    assert_eq!(exit["request"]["exit_event"]["exit_code"], 128 + 2, "stopped by SIGINT, not killed: {exit}");
    // Destroy: `?kill=false` on a stopped machine.
    let destroy = emulator.call_with("DELETE", &format!("/v1/apps/shop/machines/{id}?kill=false"), None, &with_nonce);
    assert_eq!(destroy.status, 200, "{:?}", destroy.body);
}

#[test]
fn instance_id_and_version_are_different_values_and_the_lease_carries_the_instance() {
    let emulator = setup();
    let created = emulator.create_machine("app", json!({"config": web_config(IMAGE)}));
    let id = created["id"].as_str().unwrap();
    let (instance, version) = (created["instance_id"].as_str().unwrap(), created["version"].as_str().unwrap());
    assert_ne!(instance, version);
    assert_eq!(instance.len(), 26, "a ULID like the docs' 01HEPA330HZ37A78TK080NAK1M");
    let lease = emulator.post(&format!("/v1/apps/app/machines/{id}/lease?ttl=30"), json!({}));
    assert_eq!(lease.body["data"]["version"], instance, "flyctl compares it with instance_id (lease.go:116-119)");
}
