//! Real health checks and the app proxy that routes only to started,
//! uncordoned machines whose checks pass.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Emulator, checks_passing, eventually, web_config};
use serde_json::{Value, json};

fn setup(images: &[(&str, Value)]) -> Emulator {
    let emulator = Emulator::start();
    for (reference, behaviour) in images {
        emulator.register_image(reference, behaviour.clone());
    }
    emulator.create_app("app");
    emulator
}

fn create(emulator: &Emulator, body: Value) -> String {
    emulator.create_machine("app", body)["id"].as_str().unwrap().to_string()
}

/// The statuses of the machine's checks, without the compat check flaps
/// adds (fly-go removes every `bg_deployments_compat*` check before looking,
/// `machine_types.go:207-217`).
fn check_states(machine: &Value) -> Vec<String> {
    machine["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["name"].as_str().unwrap().starts_with("bg_deployments_compat"))
        .map(|c| c["status"].as_str().unwrap().to_string())
        .collect()
}

/// The status of the compat check flaps inserts.
fn compat_status(machine: &Value) -> Option<String> {
    machine["checks"]
        .as_array()?
        .iter()
        .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with("bg_deployments_compat")))
        .map(|c| c["status"].as_str().unwrap_or_default().to_string())
}

#[test]
fn an_unhealthy_image_keeps_its_checks_critical() {
    let emulator = setup(&[("registry.fly.io/app:sick", json!({"kind": "unhealthy"}))]);
    let id = create(&emulator, json!({"config": web_config("registry.fly.io/app:sick")}));
    emulator.wait_state("app", &id, "started");
    eventually("a check result", Duration::from_secs(5), || emulator.machine("app", &id)["checks"][0]["output"].as_str().unwrap().contains("500"));
    std::thread::sleep(Duration::from_millis(300));
    let machine = emulator.machine("app", &id);
    assert_eq!(check_states(&machine), ["critical"]);
    assert_eq!(machine["checks"][0]["name"], "servicecheck-00-http-8080");
    assert_eq!(compat_status(&machine).as_deref(), Some("critical"), "flaps adds a compat check that a client must ignore: {machine}");
    let (status, _) = emulator.fetch(&format!("http://{}/anything", emulator.endpoint("app", &id, 8080)));
    assert_eq!(status, 500, "every path fails");
}

#[test]
fn health_path_limits_the_failure_to_the_health_endpoint() {
    let emulator = setup(&[("registry.fly.io/app:sick", json!({"kind": "unhealthy", "health_path": "/healthz"}))]);
    let mut config = web_config("registry.fly.io/app:sick");
    config["services"][0]["checks"][0]["path"] = json!("/healthz");
    let id = create(&emulator, json!({"config": config}));
    emulator.wait_state("app", &id, "started");
    eventually("the check to run", Duration::from_secs(5), || emulator.machine("app", &id)["checks"][0]["output"].as_str().unwrap().contains("500"));
    let endpoint = emulator.endpoint("app", &id, 8080);
    assert_eq!(emulator.fetch(&format!("http://{endpoint}/healthz")).0, 500);
    assert_eq!(emulator.fetch(&format!("http://{endpoint}/")).0, 200);
}

#[test]
fn a_slow_starting_image_passes_its_checks_after_the_delay() {
    let emulator = setup(&[("registry.fly.io/app:slow", json!({"start_delay_ms": 1000}))]);
    let id = create(&emulator, json!({"config": web_config("registry.fly.io/app:slow")}));
    let started = Instant::now();
    emulator.wait_state("app", &id, "started");
    assert_eq!(check_states(&emulator.machine("app", &id)), ["critical"], "started is not healthy");
    eventually("checks to pass", Duration::from_secs(10), || checks_passing(&emulator.machine("app", &id)));
    assert!(started.elapsed() >= Duration::from_millis(1000));
    assert_eq!(compat_status(&emulator.machine("app", &id)).as_deref(), Some("passing"));
}

#[test]
fn grace_period_delays_the_first_check_and_top_level_tcp_checks_use_their_port() {
    let emulator = setup(&[("registry.fly.io/app:v1", json!({}))]);
    let mut config = web_config("registry.fly.io/app:v1");
    config["checks"] = json!({"admin": {"type": "tcp", "port": 9090, "interval": "100ms", "grace_period": "1500ms"}});
    let id = create(&emulator, json!({"config": config}));
    let created = Instant::now();
    emulator.wait_state("app", &id, "started");
    std::thread::sleep(Duration::from_millis(300));
    let machine = emulator.machine("app", &id);
    let admin = machine["checks"].as_array().unwrap().iter().find(|c| c["name"] == "admin").unwrap().clone();
    assert_eq!(admin["status"], "critical");
    assert_eq!(admin["output"], "waiting for the first check");
    eventually("both checks to pass", Duration::from_secs(10), || checks_passing(&emulator.machine("app", &id)));
    assert!(created.elapsed() >= Duration::from_millis(1500), "not before the grace period");
    let admin = emulator.machine("app", &id)["checks"].as_array().unwrap().iter().find(|c| c["name"] == "admin").unwrap().clone();
    assert!(admin["output"].as_str().unwrap().contains("0.0.0.0:9090"));
    assert!(!emulator.endpoint("app", &id, 9090).is_empty(), "check ports get a loopback port too");
}

#[test]
fn checks_go_critical_when_the_machine_stops() {
    let emulator = setup(&[("registry.fly.io/app:v1", json!({}))]);
    let id = create(&emulator, json!({"config": web_config("registry.fly.io/app:v1")}));
    emulator.wait_healthy("app", &id);
    emulator.post(&format!("/v1/apps/app/machines/{id}/stop"), json!({}));
    emulator.wait_state("app", &id, "stopped");
    assert_eq!(check_states(&emulator.machine("app", &id)), ["critical"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(check_states(&emulator.machine("app", &id)), ["critical"], "no late results from the old process");
}

fn proxy_url(emulator: &Emulator) -> String {
    let response = emulator.control("GET", "/apps/app/proxy", None);
    assert_eq!(response.status, 200, "{:?}", response.body);
    format!("http://{}", response.body["address"].as_str().unwrap())
}

/// Which machines answered `count` requests through the proxy.
fn served_by(emulator: &Emulator, proxy: &str, count: usize) -> BTreeSet<String> {
    (0..count)
        .map(|_| {
            let (status, body) = emulator.fetch(&format!("{proxy}/"));
            assert_eq!(status, 200, "{body}");
            serde_json::from_str::<Value>(&body).unwrap()["machine"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn the_proxy_routes_round_robin_to_healthy_uncordoned_machines_only() {
    let emulator = setup(&[("registry.fly.io/app:v1", json!({})), ("registry.fly.io/app:sick", json!({"kind": "unhealthy"}))]);
    let proxy = proxy_url(&emulator);
    let (status, _) = emulator.fetch(&format!("{proxy}/"));
    assert_eq!(status, 503, "no machines yet");
    assert_eq!(proxy_url(&emulator), proxy, "one proxy per app");

    let healthy = create(&emulator, json!({"config": web_config("registry.fly.io/app:v1")}));
    let cordoned = create(&emulator, json!({"config": web_config("registry.fly.io/app:v1")}));
    let sick = create(&emulator, json!({"config": web_config("registry.fly.io/app:sick")}));
    for id in [&healthy, &cordoned] {
        emulator.wait_healthy("app", id);
    }
    emulator.wait_state("app", &sick, "started");
    assert_eq!(emulator.post(&format!("/v1/apps/app/machines/{cordoned}/cordon"), json!({})).status, 200);
    assert_eq!(emulator.machine("app", &cordoned)["cordoned"], true);
    assert_eq!(served_by(&emulator, &proxy, 6), BTreeSet::from([healthy.clone()]));

    emulator.post(&format!("/v1/apps/app/machines/{cordoned}/uncordon"), json!({}));
    assert_eq!(emulator.machine("app", &cordoned)["cordoned"], false);
    assert_eq!(served_by(&emulator, &proxy, 6), BTreeSet::from([healthy.clone(), cordoned.clone()]));

    for id in [&healthy, &cordoned] {
        emulator.post(&format!("/v1/apps/app/machines/{id}/stop"), json!({}));
    }
    for id in [&healthy, &cordoned] {
        emulator.wait_state("app", id, "stopped");
    }
    assert_eq!(emulator.fetch(&format!("{proxy}/")).0, 503, "the unhealthy machine gets no traffic");
}

#[test]
fn green_machines_created_without_service_registration_wait_for_uncordon() {
    let emulator = setup(&[("registry.fly.io/app:v1", json!({})), ("registry.fly.io/app:v2", json!({}))]);
    let proxy = proxy_url(&emulator);
    let blue = create(&emulator, json!({"config": web_config("registry.fly.io/app:v1")}));
    emulator.wait_healthy("app", &blue);
    let green = emulator.create_machine("app", json!({"config": web_config("registry.fly.io/app:v2"), "skip_service_registration": true}));
    assert_eq!(green["cordoned"], true);
    let green = green["id"].as_str().unwrap().to_string();
    emulator.wait_healthy("app", &green);
    assert_eq!(served_by(&emulator, &proxy, 4), BTreeSet::from([blue.clone()]));

    emulator.post(&format!("/v1/apps/app/machines/{green}/uncordon"), json!({}));
    emulator.post(&format!("/v1/apps/app/machines/{blue}/cordon"), json!({}));
    assert_eq!(served_by(&emulator, &proxy, 4), BTreeSet::from([green.clone()]));
    let (_, body) = emulator.fetch(&format!("{proxy}/"));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["body"], "v2");
}

#[test]
fn a_proxy_can_target_a_specific_internal_port() {
    let emulator = setup(&[("registry.fly.io/app:v1", json!({}))]);
    let mut config = web_config("registry.fly.io/app:v1");
    config["services"].as_array_mut().unwrap().push(json!({"internal_port": 9000}));
    let id = create(&emulator, json!({"config": config}));
    emulator.wait_healthy("app", &id);
    let response = emulator.control("GET", "/apps/app/proxy?internal_port=9000", None);
    let proxy = format!("http://{}", response.body["address"].as_str().unwrap());
    assert_ne!(proxy, proxy_url(&emulator));
    assert_eq!(served_by(&emulator, &proxy, 2), BTreeSet::from([id]));
    assert_eq!(emulator.control("GET", "/apps/none/proxy", None).status, 404);
}

/// Sends requests through the proxy until `done` is set (at most 3000), and
/// returns (status, served body text) for each.
fn hammer(emulator: &Emulator, proxy: &str, done: &std::sync::atomic::AtomicBool) -> Vec<(u16, String)> {
    let mut results = Vec::new();
    while !done.load(std::sync::atomic::Ordering::SeqCst) && results.len() < 3000 {
        let (status, body) = emulator.fetch(&format!("{proxy}/"));
        let served = serde_json::from_str::<Value>(&body).map(|v| v["body"].to_string()).unwrap_or(body);
        results.push((status, served));
        std::thread::sleep(Duration::from_millis(5));
    }
    results
}

#[test]
fn a_bluegreen_switch_through_cordon_serves_every_request() {
    let emulator = setup(&[("registry.fly.io/app:v1", json!({})), ("registry.fly.io/app:v2", json!({}))]);
    let proxy = proxy_url(&emulator);
    let blues: Vec<String> = (0..2).map(|_| create(&emulator, json!({"config": web_config("registry.fly.io/app:v1")}))).collect();
    for blue in &blues {
        emulator.wait_healthy("app", blue);
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        let traffic = scope.spawn(|| hammer(&emulator, &proxy, &done));
        let greens: Vec<String> = blues
            .iter()
            .map(|_| {
                let body = json!({"config": web_config("registry.fly.io/app:v2"), "skip_service_registration": true});
                create(&emulator, body)
            })
            .collect();
        for green in &greens {
            emulator.wait_healthy("app", green);
            emulator.post(&format!("/v1/apps/app/machines/{green}/uncordon"), json!({}));
        }
        for blue in &blues {
            emulator.post(&format!("/v1/apps/app/machines/{blue}/cordon"), json!({}));
        }
        std::thread::sleep(Duration::from_millis(200));
        for blue in &blues {
            emulator.post(&format!("/v1/apps/app/machines/{blue}/stop"), json!({}));
            emulator.wait_state("app", blue, "stopped");
            emulator.delete(&format!("/v1/apps/app/machines/{blue}"));
        }
        std::thread::sleep(Duration::from_millis(100));
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        traffic.join().unwrap()
    });
    let failures: Vec<_> = results.iter().filter(|(status, _)| *status != 200).collect();
    assert!(failures.is_empty(), "{} of {} requests failed: {failures:?}", failures.len(), results.len());
    assert_eq!(results.first().unwrap().1, "\"v1\"");
    assert_eq!(results.last().unwrap().1, "\"v2\"");
}

#[test]
fn updating_the_only_machine_in_place_shows_up_as_downtime() {
    let emulator = setup(&[("registry.fly.io/app:v1", json!({})), ("registry.fly.io/app:v2", json!({"start_delay_ms": 300}))]);
    let proxy = proxy_url(&emulator);
    let id = create(&emulator, json!({"config": web_config("registry.fly.io/app:v1")}));
    emulator.wait_healthy("app", &id);
    let done = std::sync::atomic::AtomicBool::new(false);
    let results = std::thread::scope(|scope| {
        let traffic = scope.spawn(|| hammer(&emulator, &proxy, &done));
        std::thread::sleep(Duration::from_millis(100));
        emulator.post(&format!("/v1/apps/app/machines/{id}"), json!({"config": web_config("registry.fly.io/app:v2")}));
        emulator.wait_healthy("app", &id);
        std::thread::sleep(Duration::from_millis(100));
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        traffic.join().unwrap()
    });
    assert!(results.iter().any(|(status, _)| *status == 503), "the gap is visible");
    assert_eq!(results.last().unwrap(), &(200, "\"v2\"".to_string()));
}
