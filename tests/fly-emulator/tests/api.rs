//! Authentication, apps, request ids, the request log, fault injection and
//! the eventual-consistency window.

mod common;

use std::time::{Duration, Instant};

use common::{Emulator, web_config};
use serde_json::json;

#[test]
fn bearer_and_flyv1_are_accepted_with_any_token_and_no_token_is_refused() {
    let emulator = Emulator::start();
    let list = |headers: &[(&str, &str)]| emulator.call_with("GET", "/v1/apps?org_slug=personal", None, headers);

    assert_eq!(list(&[("Authorization", "Bearer plain-token")]).status, 200);
    assert_eq!(list(&[("Authorization", "FlyV1 fm2_lJPECAAAAAAAAAAA,fm2_second")]).status, 200);
    // The docs' own form: `Bearer $(fly tokens deploy)`, which prints `FlyV1 fm2_…`.
    assert_eq!(list(&[("Authorization", "Bearer FlyV1 fm2_abc")]).status, 200);
    // flyctl's release client sends macaroons as Bearer (uiex/releases.go).
    assert_eq!(list(&[("Authorization", "Bearer fm2_abc,fo1_user")]).status, 200);
    let anonymous = list(&[]);
    assert_eq!(anonymous.status, 401);
    assert!(!anonymous.error().is_empty());
    assert_eq!(list(&[("Authorization", "Basic abc")]).status, 401);
    assert_eq!(list(&[("Authorization", "Bearer FlyV1")]).status, 401);
    // Releases and logs (api.fly.io endpoints) need auth too.
    assert_eq!(emulator.call_with("GET", "/api/v1/apps/x/releases/current", None, &[]).status, 401);
    // The scheme each request used is in the log, for tests that hold a
    // client to fly-go's `FlyV1` for macaroons.
    let schemes: Vec<String> = emulator.requests().iter().map(|r| r["auth_scheme"].as_str().unwrap_or("none").to_string()).collect();
    assert_eq!(&schemes[..4], ["Bearer", "FlyV1", "Bearer", "Bearer"]);
}

#[test]
fn responses_carry_a_request_id() {
    let emulator = Emulator::start();
    let ok = emulator.get("/v1/apps");
    let missing = emulator.get("/v1/apps/nope");
    assert_eq!(missing.status, 404);
    for response in [ok, missing] {
        assert!(response.request_id.as_deref().is_some_and(|id| !id.is_empty()), "{response:?}");
    }
}

#[test]
fn apps_are_pending_until_a_machine_is_created_then_deployed() {
    let emulator = Emulator::start();
    emulator.register_image("registry.fly.io/shop:v1", json!({}));

    let created = emulator.post("/v1/apps", json!({"name": "shop", "org_slug": "acme"}));
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["name"], "shop");
    assert_eq!(created.body["organization"]["slug"], "acme");
    assert_eq!(emulator.get("/v1/apps/shop").body["status"], "pending");
    let taken = emulator.post("/v1/apps", json!({"app_name": "shop", "org_slug": "acme"}));
    // fly-go's TestIsNameTakenError keys on `status`.
    assert_eq!((taken.status, taken.body.clone()), (422, json!({"error": "Validation failed: Name has already been taken", "status": "name_taken"})));
    assert_eq!(emulator.post("/v1/apps", json!({"org_slug": "acme"})).status, 400);

    emulator.create_machine("shop", json!({"config": web_config("registry.fly.io/shop:v1")}));
    let app = emulator.get("/v1/apps/shop").body;
    assert_eq!(app["status"], "deployed");
    assert_eq!(app["machine_count"], 1);

    emulator.create_app("other");
    let acme = emulator.get("/v1/apps?org_slug=acme").body;
    assert_eq!(acme["total_apps"], 1);
    assert_eq!(acme["apps"][0]["name"], "shop");
    assert_eq!(emulator.get("/v1/apps").body["total_apps"], 2);

    assert_eq!(emulator.delete("/v1/apps/other").status, 202);
    assert_eq!(emulator.get("/v1/apps/other").status, 404);
}

#[test]
fn unknown_endpoints_and_bad_json_answer_with_json_errors() {
    let emulator = Emulator::start();
    emulator.create_app("app");
    let unknown = emulator.get("/v1/nothing/here");
    assert_eq!(unknown.status, 404);
    assert!(!unknown.error().is_empty());
    let bad = emulator.call_with("POST", "/v1/apps/app/machines", None, &[("Authorization", "Bearer t"), ("Content-Type", "application/json")]);
    assert_eq!(bad.status, 400, "an empty body has no config: {:?}", bad.body);
    assert!(bad.error().contains("config"));
}

#[test]
fn the_request_log_records_what_the_client_sent() {
    let emulator = Emulator::start();
    emulator.register_image("registry.fly.io/app:v1", json!({}));
    emulator.create_app("app");
    let machine = emulator.create_machine("app", json!({"config": web_config("registry.fly.io/app:v1"), "lease_ttl": 30}));
    let id = machine["id"].as_str().unwrap();
    let nonce = machine["nonce"].as_str().unwrap();
    emulator.call_with(
        "POST",
        &format!("/v1/apps/app/machines/{id}/cordon"),
        None,
        &[("Authorization", "FlyV1 fm2_token"), ("fly-machine-lease-nonce", nonce)],
    );

    let log = emulator.requests();
    let creates: Vec<_> = log.iter().filter(|r| r["method"] == "POST" && r["path"] == "/v1/apps/app/machines").collect();
    assert_eq!(creates.len(), 1, "exactly one create");
    assert_eq!(creates[0]["status"], 200);
    assert_eq!(creates[0]["auth_scheme"], "Bearer");
    assert_eq!(creates[0]["body"]["config"]["image"], "registry.fly.io/app:v1");
    assert!(creates[0]["lease_nonce"].is_null());
    let cordon = log.iter().find(|r| r["path"].as_str().unwrap().ends_with("/cordon")).unwrap();
    assert_eq!(cordon["auth_scheme"], "FlyV1");
    assert_eq!(cordon["lease_nonce"], nonce);
    assert!(log.iter().all(|r| !r["path"].as_str().unwrap().starts_with("/_emulator")), "control calls are not logged");

    emulator.control("DELETE", "/requests", None);
    assert!(emulator.requests().is_empty());
}

#[test]
fn faults_fail_matching_requests_a_number_of_times() {
    let emulator = Emulator::start();
    emulator.create_app("app");
    let rule = json!({"method": "GET", "path": "^/v1/apps/app$", "status": 503, "times": 2, "body": {"error": "overloaded"}});
    assert_eq!(emulator.control("POST", "/faults", Some(rule)).status, 200);

    assert_eq!(emulator.get("/v1/apps").status, 200, "other paths are untouched");
    let first = emulator.get("/v1/apps/app");
    assert_eq!((first.status, first.error()), (503, "overloaded"));
    assert_eq!(emulator.get("/v1/apps/app").status, 503);
    assert_eq!(emulator.get("/v1/apps/app").status, 200, "the rule is used up");
    let faulted: Vec<_> = emulator.requests().into_iter().filter(|r| r["fault"] == true).collect();
    assert_eq!(faulted.len(), 2);
    assert!(faulted.iter().all(|r| r["status"] == 503));

    emulator.control("POST", "/faults", Some(json!([{"path": "apps", "status": 500, "times": 100}])));
    assert_eq!(emulator.get("/v1/apps").status, 500);
    emulator.control("DELETE", "/faults", None);
    assert_eq!(emulator.get("/v1/apps").status, 200);
    assert_eq!(emulator.control("POST", "/faults", Some(json!({"path": "(", "status": 500}))).status, 400);
}

#[test]
fn an_after_success_fault_performs_the_create_then_reports_a_timeout() {
    let emulator = Emulator::start();
    emulator.register_image("registry.fly.io/app:v1", json!({}));
    emulator.create_app("app");
    emulator.control("POST", "/faults", Some(json!({"method": "POST", "path": "^/v1/apps/app/machines$", "status": 408, "after_success": true})));
    let mut config = web_config("registry.fly.io/app:v1");
    config["metadata"]["fly_flyctl_bluegreen_launch_id"] = json!("01HLAUNCH");
    let response = emulator.post("/v1/apps/app/machines", json!({"config": config}));
    assert_eq!(response.status, 408);

    let machines = emulator.get("/v1/apps/app/machines").body;
    assert_eq!(machines.as_array().unwrap().len(), 1, "the machine exists despite the 408");
    assert_eq!(machines[0]["config"]["metadata"]["fly_flyctl_bluegreen_launch_id"], "01HLAUNCH");
}

#[test]
fn latency_rules_delay_without_failing() {
    let emulator = Emulator::start();
    emulator.control("POST", "/faults", Some(json!({"path": "^/v1/apps$", "latency_ms": 300})));
    let started = Instant::now();
    assert_eq!(emulator.get("/v1/apps").status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn a_new_machine_is_not_found_for_the_configured_window() {
    let emulator = Emulator::start();
    emulator.register_image("registry.fly.io/app:v1", json!({}));
    emulator.create_app("app");
    let settings = emulator.control("POST", "/settings", Some(json!({"create_404_window_ms": 1000})));
    assert_eq!(settings.body["create_404_window_ms"], 1000);

    let id = emulator.create_machine("app", json!({"config": web_config("registry.fly.io/app:v1")}))["id"].as_str().unwrap().to_string();
    let created = Instant::now();
    assert_eq!(emulator.get(&format!("/v1/apps/app/machines/{id}")).status, 404);
    assert_eq!(emulator.get(&format!("/v1/apps/app/machines/{id}/wait?state=started&timeout=5")).status, 404);
    // A client that retries 404s gets through once the window has passed.
    let mut attempts = 0;
    let found = loop {
        attempts += 1;
        let response = emulator.get(&format!("/v1/apps/app/machines/{id}"));
        if response.status == 200 {
            break response;
        }
        assert_eq!(response.status, 404);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(created.elapsed() >= Duration::from_millis(1000));
    assert!(attempts > 1);
    assert_eq!(found.body["id"], id.as_str());
    assert_eq!(emulator.control("POST", "/settings", Some(json!({"bogus": 1}))).status, 400);
}
