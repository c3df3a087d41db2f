//! Leases: acquire, conflicts, guarded mutations, refresh, release, expiry,
//! and the lease taken at create time with `lease_ttl`.

mod common;

use std::time::Duration;

use common::{Emulator, web_config};
use serde_json::{Value, json};

const IMAGE: &str = "registry.fly.io/app:v1";

fn setup() -> (Emulator, String) {
    let emulator = Emulator::start();
    emulator.register_image(IMAGE, json!({}));
    emulator.create_app("app");
    let id = emulator.create_machine("app", json!({"config": web_config(IMAGE)}))["id"].as_str().unwrap().to_string();
    emulator.wait_state("app", &id, "started");
    (emulator, id)
}

/// The same call as another client: a different token and no nonce.
fn as_other(emulator: &Emulator, method: &str, path: &str, body: Option<Value>) -> common::Response {
    emulator.call_with(method, path, body, &[("Authorization", "Bearer someone-else")])
}

fn with_nonce(emulator: &Emulator, method: &str, path: &str, body: Option<Value>, nonce: &str) -> common::Response {
    emulator.call_with(method, path, body, &[("Authorization", "Bearer test-token"), ("fly-machine-lease-nonce", nonce)])
}

#[test]
fn a_held_lease_refuses_other_clients_and_unguarded_mutations() {
    let (emulator, id) = setup();
    let lease_path = format!("/v1/apps/app/machines/{id}/lease");
    assert_eq!(emulator.get(&lease_path).status, 404, "no lease yet");

    let acquired = emulator.post(&format!("{lease_path}?ttl=30"), json!({"description": "ferry deploy"}));
    assert_eq!(acquired.status, 200, "{:?}", acquired.body);
    assert_eq!(acquired.body["status"], "success");
    let data = &acquired.body["data"];
    let nonce = data["nonce"].as_str().unwrap().to_string();
    assert!(!nonce.is_empty());
    assert!(data["owner"].as_str().unwrap().contains('@'));
    assert_eq!(data["description"], "ferry deploy");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let expires = data["expires_at"].as_u64().unwrap();
    assert!((now + 25..=now + 31).contains(&expires), "expires_at is unix seconds");
    assert_eq!(emulator.get(&lease_path).body["data"]["nonce"], nonce.as_str());

    let conflict = as_other(&emulator, "POST", &lease_path, None);
    assert_eq!(conflict.status, 409);
    assert!(conflict.error().contains("lease currently held by"), "{:?}", conflict.body);
    assert!(conflict.error().contains(data["owner"].as_str().unwrap()));

    let base = format!("/v1/apps/app/machines/{id}");
    let mutations: [(&str, String, Option<Value>); 8] = [
        ("POST", base.clone(), Some(json!({"config": web_config(IMAGE)}))),
        ("POST", format!("{base}/stop"), Some(json!({}))),
        ("POST", format!("{base}/start"), None),
        ("POST", format!("{base}/restart"), None),
        ("POST", format!("{base}/cordon"), None),
        ("POST", format!("{base}/metadata/key"), Some(json!({"value": "v"}))),
        ("DELETE", format!("{base}/metadata/key"), None),
        ("DELETE", format!("{base}?kill=true"), None),
    ];
    for (method, path, body) in &mutations {
        let refused = emulator.call(method, path, body.clone());
        assert_eq!(refused.status, 409, "{method} {path} without the nonce");
        assert!(refused.error().contains("lease currently held by"));
        let wrong = with_nonce(&emulator, method, path, body.clone(), "not-the-nonce");
        assert_eq!(wrong.status, 409, "{method} {path} with a wrong nonce");
    }
    assert_eq!(emulator.machine("app", &id)["state"], "started", "nothing happened");

    let cordoned = with_nonce(&emulator, "POST", &format!("{base}/cordon"), None, &nonce);
    assert_eq!(cordoned.status, 200);
    let updated = with_nonce(&emulator, "POST", &base, Some(json!({"config": web_config(IMAGE)})), &nonce);
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    let metadata = with_nonce(&emulator, "POST", &format!("{base}/metadata/k"), Some(json!({"value": "v"})), &nonce);
    assert_eq!(metadata.status, 204);
}

#[test]
fn the_holder_refreshes_and_releases_and_then_anyone_may_acquire() {
    let (emulator, id) = setup();
    let lease_path = format!("/v1/apps/app/machines/{id}/lease");
    let first = emulator.post(&format!("{lease_path}?ttl=5"), json!({})).body;
    let nonce = first["data"]["nonce"].as_str().unwrap().to_string();
    let expires = first["data"]["expires_at"].as_u64().unwrap();

    let refreshed = with_nonce(&emulator, "POST", &format!("{lease_path}?ttl=60"), None, &nonce);
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert_eq!(refreshed.body["data"]["nonce"], nonce.as_str(), "a refresh keeps the nonce");
    assert!(refreshed.body["data"]["expires_at"].as_u64().unwrap() > expires + 30);

    assert_eq!(as_other(&emulator, "DELETE", &lease_path, None).status, 409, "only the holder releases");
    assert_eq!(with_nonce(&emulator, "DELETE", &lease_path, None, &nonce).status, 200);
    assert_eq!(emulator.get(&lease_path).status, 404);
    assert_eq!(emulator.delete(&lease_path).status, 404, "nothing left to release");

    let taken = as_other(&emulator, "POST", &format!("{lease_path}?ttl=30"), None);
    assert_eq!(taken.status, 200);
    assert_ne!(taken.body["data"]["nonce"], nonce.as_str());
}

#[test]
fn an_expired_lease_lets_another_client_take_the_machine() {
    let (emulator, id) = setup();
    let lease_path = format!("/v1/apps/app/machines/{id}/lease");
    assert_eq!(emulator.post(&format!("{lease_path}?ttl=1"), json!({})).status, 200);
    assert_eq!(as_other(&emulator, "POST", &lease_path, None).status, 409);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(emulator.get(&lease_path).status, 404, "expired");
    assert_eq!(as_other(&emulator, "POST", &format!("/v1/apps/app/machines/{id}/cordon"), None).status, 200);
    assert_eq!(as_other(&emulator, "POST", &format!("{lease_path}?ttl=30"), None).status, 200);
}

#[test]
fn lease_ttl_on_create_returns_the_machine_holding_a_lease() {
    let emulator = Emulator::start();
    emulator.register_image(IMAGE, json!({}));
    emulator.create_app("app");
    let machine = emulator.create_machine("app", json!({"config": web_config(IMAGE), "lease_ttl": 60}));
    let id = machine["id"].as_str().unwrap();
    let nonce = machine["nonce"].as_str().expect("the create response carries the nonce");
    let lease = emulator.get(&format!("/v1/apps/app/machines/{id}/lease")).body;
    assert_eq!(lease["data"]["nonce"], nonce);
    emulator.wait_state("app", id, "started");
    assert_eq!(emulator.post(&format!("/v1/apps/app/machines/{id}/stop"), json!({})).status, 409);
    assert_eq!(with_nonce(&emulator, "POST", &format!("/v1/apps/app/machines/{id}/stop"), Some(json!({})), nonce).status, 200);
    assert!(emulator.machine("app", id).get("nonce").is_none(), "only the create response shows the nonce");
}
