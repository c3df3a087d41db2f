//! The platform's consistency and limits: a new app is invisible for a
//! while, a name held by another org answers 403, secrets reach machines
//! late unless `min_secrets_version` asks for them, rate limits answer 429,
//! and injected 502/503s can be retried the way fly-go retries them.

mod common;

use std::time::{Duration, Instant};

use common::{Emulator, web_config};
use serde_json::json;

const IMAGE: &str = "registry.fly.io/app:v1";

#[test]
fn a_new_app_answers_404_until_it_is_visible_so_clients_must_wait_for_it() {
    let emulator = Emulator::start();
    emulator.register_image(IMAGE, json!({}));
    emulator.settings(json!({"app_404_window_ms": 800}));
    let created_at = Instant::now();
    let created = emulator.post("/v1/apps?wait=true", json!({"name": "fresh", "org_slug": "personal", "network": "", "app_role_id": ""}));
    assert_eq!(created.status, 201, "{:?}", created.body);

    // A client that carries on at once fails on every app-scoped call.
    assert_eq!(emulator.get("/v1/apps/fresh").status, 404);
    assert_eq!(emulator.post("/v1/apps/fresh/secrets", json!({"values": {"A": "b"}})).status, 404);
    assert_eq!(emulator.post("/v1/apps/fresh/machines", json!({"config": web_config(IMAGE)})).status, 404);
    assert!(emulator.get("/v1/apps").body["apps"].as_array().unwrap().is_empty());
    assert_eq!(emulator.post("/v1/apps", json!({"name": "fresh", "org_slug": "personal"})).status, 422, "the name is taken all the same");

    // fly-go's WaitForApp: GET until 2xx, retrying 404 and 401, backoff
    // from 100 ms doubling to at most 500 ms (flaps/flaps_apps.go:129-145).
    let mut delay = Duration::from_millis(100);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let response = emulator.get("/v1/apps/fresh");
        if response.status == 200 {
            break;
        }
        assert!([404, 401].contains(&response.status), "{response:?}");
        assert!(created_at.elapsed() < Duration::from_secs(60), "WaitForApp gives up after a minute");
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(500));
    }
    assert!(attempts > 1 && created_at.elapsed() >= Duration::from_millis(800));
    assert_eq!(emulator.post("/v1/apps/fresh/secrets", json!({"values": {"A": "b"}})).status, 200);
}

#[test]
fn a_name_held_by_another_org_answers_403_and_cannot_be_taken() {
    // fly-go TestAppNameAvailable (flaps/flaps_apps_test.go:26-89): 403 means
    // taken by an org the token cannot see; 404 means free.
    let emulator = Emulator::start();
    let held = emulator.control("POST", "/foreign_apps", Some(json!({"name": "popular", "org_slug": "acme"})));
    assert_eq!(held.status, 200, "{:?}", held.body);
    let read = emulator.get("/v1/apps/popular");
    assert_eq!((read.status, read.body.clone()), (403, json!({"error": "unauthorized"})));
    assert_eq!(emulator.get("/v1/apps/popular/machines").status, 403);
    assert_eq!(emulator.get("/v1/apps/free-name").status, 404);
    let create = emulator.post("/v1/apps", json!({"name": "popular", "org_slug": "personal", "network": "", "app_role_id": ""}));
    assert_eq!((create.status, create.body["status"].as_str()), (422, Some("name_taken")));
    assert!(emulator.get("/v1/apps").body["apps"].as_array().unwrap().is_empty());
}

fn process(emulator: &Emulator, id: &str) -> serde_json::Value {
    emulator.control("GET", &format!("/apps/app/machines/{id}/process"), None).body
}

fn env_of(emulator: &Emulator, id: &str, name: &str) -> String {
    emulator.fetch(&format!("http://{}/env/{name}", emulator.endpoint("app", id, 8080))).1
}

#[test]
fn machines_get_new_secrets_late_unless_they_ask_for_their_version() {
    let emulator = Emulator::start();
    emulator.register_image(IMAGE, json!({}));
    emulator.create_app("app");
    let first = emulator.post("/v1/apps/app/secrets", json!({"values": {"DATABASE_URL": "postgres://old"}}));
    assert_eq!(first.body["version"], 1);
    emulator.settings(json!({"secrets_propagation_ms": 3000}));
    let second = emulator.post("/v1/apps/app/secrets", json!({"values": {"DATABASE_URL": "postgres://new"}}));
    assert_eq!(second.body["version"], 2);

    // Without min_secrets_version, a machine launched now boots with version 1
    // (flyctl sends it on every launch, update and release machine: brief §7).
    let careless = emulator.create_machine("app", json!({"config": web_config(IMAGE)}))["id"].as_str().unwrap().to_string();
    let careful = emulator.create_machine("app", json!({"config": web_config(IMAGE), "min_secrets_version": 2}))["id"].as_str().unwrap().to_string();
    emulator.wait_healthy("app", &careless);
    emulator.wait_healthy("app", &careful);
    assert_eq!(env_of(&emulator, &careless, "DATABASE_URL"), "postgres://old");
    assert_eq!(process(&emulator, &careless)["secrets_version"], 1);
    assert_eq!(env_of(&emulator, &careful, "DATABASE_URL"), "postgres://new");
    assert_eq!(process(&emulator, &careful)["secrets_version"], 2);

    // Reads: stale without `version=`, current with it; a version the app
    // does not have is refused, for lists and machines alike.
    let digest = |query: &str| emulator.get(&format!("/v1/apps/app/secrets{query}")).body["secrets"][0]["digest"].clone();
    assert_eq!(digest(""), first.body["secrets"][0]["digest"]);
    assert_eq!(digest("?version=2"), second.body["secrets"][0]["digest"]);
    assert_eq!(emulator.get("/v1/apps/app/secrets?version=3").status, 422);
    let shown = emulator.get("/v1/apps/app/secrets?version=2&show_secrets=true").body;
    assert_eq!(shown["secrets"][0]["value"], "postgres://new", "values only when asked for");
    let too_new = emulator.post("/v1/apps/app/machines", json!({"config": web_config(IMAGE), "min_secrets_version": 3}));
    assert_eq!(too_new.status, 422, "{:?}", too_new.body);

    // An update with the version brings the careless machine up to date.
    let updated = emulator.post(&format!("/v1/apps/app/machines/{careless}"), json!({"config": web_config(IMAGE), "min_secrets_version": 2}));
    assert_eq!(updated.status, 200, "{:?}", updated.body);
    let instance = updated.body["instance_id"].as_str().unwrap();
    assert_eq!(emulator.get(&format!("/v1/apps/app/machines/{careless}/wait?state=started&instance_id={instance}&timeout=10")).status, 200);
    emulator.wait_healthy("app", &careless);
    assert_eq!(env_of(&emulator, &careless, "DATABASE_URL"), "postgres://new");
}

#[test]
fn rate_limits_answer_429_per_action_and_identifier_until_switched_off() {
    let emulator = Emulator::start();
    emulator.register_image(IMAGE, json!({}));
    emulator.create_app("app");
    emulator.create_app("other");
    let id = emulator.create_machine("app", json!({"config": web_config(IMAGE)}))["id"].as_str().unwrap().to_string();
    emulator.settings(json!({"rate_limits": {"enabled": true}}));

    // List Machines: 1/s with a burst of 3, per app.
    let statuses: Vec<u16> = (0..4).map(|_| emulator.get("/v1/apps/app/machines").status).collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    let refused = emulator.call_with("GET", "/v1/apps/app/machines", None, &[("Authorization", "Bearer t")]);
    assert_eq!((refused.status, refused.error()), (429, "rate limit exceeded"));
    assert_eq!(emulator.get("/v1/apps/other/machines").status, 200, "another app has its own bucket");
    // Get Machine: 5/s with a burst of 10, per machine.
    let gets: Vec<u16> = (0..11).map(|_| emulator.get(&format!("/v1/apps/app/machines/{id}")).status).collect();
    assert_eq!(gets.iter().filter(|s| **s == 200).count(), 10, "{gets:?}");
    assert_eq!(gets[10], 429);
    // No Retry-After: nothing documents one (the request log shows the 429s).
    let logged: Vec<u64> = emulator.requests().iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(logged.iter().filter(|s| **s == 429).count(), 3);
    // Tokens come back at the documented rate.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(emulator.get("/v1/apps/app/machines").status, 200);
    assert_eq!(emulator.get("/v1/apps/app/machines").status, 429);

    emulator.settings(json!({"rate_limits": {"enabled": false}}));
    assert!((0..10).all(|_| emulator.get("/v1/apps/app/machines").status == 200));
    emulator.settings(json!({"rate_limits": {"enabled": true, "per_second": 100, "burst": 20}}));
    assert!((0..20).all(|_| emulator.get("/v1/apps/app/machines").status == 200), "tunable");
}

#[test]
fn rate_limits_have_no_retry_after_header() {
    let emulator = Emulator::start();
    emulator.create_app("app");
    emulator.settings(json!({"rate_limits": {"enabled": true, "burst": 1}}));
    assert_eq!(emulator.get("/v1/apps/app").status, 200);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let response = agent.get(&format!("{}/v1/apps/app", emulator.url)).header("Authorization", "Bearer t").call().unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_none());
}

#[test]
fn a_503_on_a_create_did_nothing_and_a_fly_go_style_replay_creates_it_once() {
    // fly-go's transport replays every method, POST included, on 502/503,
    // up to 4 attempts (brief §8). An injected 503 is a refusal: the replay
    // is safe and exactly one machine results.
    let emulator = Emulator::start();
    emulator.register_image(IMAGE, json!({}));
    emulator.create_app("app");
    emulator.control(
        "POST",
        "/faults",
        Some(json!([{"method": "POST", "path": "^/v1/apps/app/machines$", "status": 503, "times": 2},
                    {"method": "POST", "path": "^/v1/apps/app/machines$", "status": 502, "times": 1}])),
    );
    let body = json!({"config": web_config(IMAGE)});
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = emulator.post("/v1/apps/app/machines", body.clone());
        statuses.push(response.status);
        if response.status == 200 {
            break;
        }
    }
    assert_eq!(statuses, [503, 503, 502, 200]);
    assert_eq!(emulator.get("/v1/apps/app/machines").body.as_array().unwrap().len(), 1);
}
