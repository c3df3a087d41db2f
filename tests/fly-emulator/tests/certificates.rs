//! Custom-domain certificates over REST: the statuses Fly's docs show
//! (`pending_validation`, `pending_ownership`, `active`), issuance by the
//! control API or over time, the paginated list, `%2A` for wildcards,
//! custom imports, and deletes.

mod common;

use std::time::Duration;

use common::{Emulator, eventually};
use serde_json::{Value, json};

const HOST: &str = "shop.example.com";
const PEM_CHAIN: &str = "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n";
const PEM_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

fn setup() -> Emulator {
    let emulator = Emulator::start();
    emulator.create_app("app");
    emulator
}

fn add(emulator: &Emulator, app: &str, hostname: &str) -> common::Response {
    emulator.post(&format!("/v1/apps/{app}/certificates/acme"), json!({"hostname": hostname}))
}

#[test]
fn an_acme_certificate_is_pending_validation_until_it_is_issued_then_active() {
    let emulator = setup();
    emulator.post("/v1/apps/app/ip_assignments", json!({"type": "v4"}));
    let added = add(&emulator, "app", "Shop.Example.com");
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(added.body["hostname"], HOST, "hostnames are lowercased");
    assert_eq!(added.body["status"], "pending_validation");
    assert_eq!(added.body["configured"], false);
    assert_eq!(added.body["acme_requested"], true);
    assert_eq!(added.body["certificates"], json!([]));
    assert_eq!(added.body["dns_requirements"]["cname"], "app.fly.dev");
    assert!(added.body["dns_requirements"]["a"][0].as_str().unwrap().starts_with("203.0.113."), "{:?}", added.body);
    assert_eq!(added.body["dns_requirements"]["acme_challenge"]["name"], "_acme-challenge.shop.example.com");
    assert_eq!(added.body["dns_requirements"]["ownership"]["name"], "_fly-ownership.shop.example.com");
    assert_ne!(added.body["status"], "Ready", "GraphQL's vocabulary is not REST's");

    let again = add(&emulator, "app", HOST);
    assert_eq!(again.status, 200, "adding it again answers the same certificate");
    let listed = emulator.get("/v1/apps/app/certificates").body;
    assert_eq!(listed["total_count"], 1, "{listed}");
    assert_eq!(listed["certificates"][0]["hostname"], HOST);
    assert_eq!(listed["certificates"][0]["status"], "pending_validation");
    assert!(listed.get("next_cursor").is_none(), "one page only: {listed}");

    let path = format!("/v1/apps/app/certificates/{HOST}");
    assert_eq!(emulator.post(&format!("{path}/check"), json!({})).body["status"], "pending_validation");
    let issued = emulator.control("POST", &format!("/apps/app/certificates/{HOST}/issue"), None);
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    let detail = emulator.get(&path).body;
    assert_eq!(detail["status"], "active");
    assert_eq!(detail["configured"], true);
    assert_eq!(detail["certificates"][0]["source"], "fly");
    assert_eq!(detail["certificates"][0]["status"], "active");
    assert_eq!(detail["certificates"][0]["issued"][0]["certificate_authority"], "lets_encrypt");
    let checked = emulator.post(&format!("{path}/check"), json!({})).body;
    assert_eq!(checked["status"], "active");
    assert!(checked["dns_records"]["resolved_addresses"].as_array().is_some_and(|a| !a.is_empty()), "{checked}");
    assert_eq!(emulator.get("/v1/apps/app/certificates").body["certificates"][0]["has_fly_certificate"], true);

    assert_eq!(emulator.delete(&path).status, 204);
    assert_eq!(emulator.get(&path).status, 404);
    assert_eq!(emulator.delete(&path).status, 404);
    assert_eq!(emulator.get("/v1/apps/app/certificates").body, json!({"certificates": [], "total_count": 0}));
}

#[test]
fn issuance_can_complete_over_time() {
    let emulator = setup();
    emulator.control("POST", "/settings", Some(json!({"certificate_issue_ms": 300})));
    assert_eq!(add(&emulator, "app", HOST).body["status"], "pending_validation");
    eventually("the certificate to be issued", Duration::from_secs(5), || {
        emulator.get(&format!("/v1/apps/app/certificates/{HOST}")).body["status"] == "active"
    });
}

#[test]
fn a_custom_certificate_is_pending_ownership_until_verified() {
    let emulator = setup();
    let imported = emulator.post("/v1/apps/app/certificates/custom", json!({"hostname": HOST, "fullchain": PEM_CHAIN, "private_key": PEM_KEY}));
    assert_eq!(imported.status, 201, "{:?}", imported.body);
    assert_eq!(imported.body["status"], "pending_ownership");
    assert_eq!(imported.body["acme_requested"], false);
    assert_eq!(imported.body["certificates"][0]["source"], "custom");
    assert_eq!(imported.body["certificates"][0]["status"], "pending_ownership");
    let not_pem = emulator.post("/v1/apps/app/certificates/custom", json!({"hostname": HOST, "fullchain": "hello", "private_key": PEM_KEY}));
    assert_eq!(not_pem.status, 422);
    emulator.control("POST", &format!("/apps/app/certificates/{HOST}/issue"), None);
    let path = format!("/v1/apps/app/certificates/{HOST}");
    assert_eq!(emulator.get(&path).body["status"], "active");

    // Adding ACME too, then removing the custom certificate, keeps the hostname.
    assert_eq!(add(&emulator, "app", HOST).status, 200);
    assert_eq!(emulator.delete(&format!("{path}/custom")).status, 204);
    let detail = emulator.get(&path).body;
    assert_eq!(detail["acme_requested"], true);
    assert!(detail["certificates"].as_array().unwrap().iter().all(|c| c["source"] == "fly"), "{detail}");
    assert_eq!(emulator.delete(&format!("{path}/acme")).status, 204);
    assert_eq!(emulator.get(&path).status, 404, "nothing left: the hostname is gone");
}

#[test]
fn the_list_is_paginated_with_cursors_and_a_total_count() {
    let emulator = setup();
    let hostnames: Vec<String> = (0..7).map(|i| format!("h{i}.example.com")).collect();
    for hostname in &hostnames {
        assert_eq!(add(&emulator, "app", hostname).status, 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(cursor) => format!("?limit=3&cursor={cursor}"),
            None => "?limit=3".to_string(),
        };
        let page = emulator.get(&format!("/v1/apps/app/certificates{query}")).body;
        pages += 1;
        assert_eq!(page["total_count"], 7, "{page}");
        let certificates = page["certificates"].as_array().unwrap();
        assert!(certificates.len() <= 3);
        seen.extend(certificates.iter().map(|c| c["hostname"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(next) if !next.is_empty() => cursor = Some(next.to_string()),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, hostnames, "every hostname once, in order");

    // A client that reads one default page misses hostnames once there are more.
    emulator.control("POST", "/settings", Some(json!({"certificate_page_size": 5})));
    let first = emulator.get("/v1/apps/app/certificates").body;
    assert_eq!(first["certificates"].as_array().unwrap().len(), 5);
    assert!(first["next_cursor"].is_string());
    let filtered = emulator.get("/v1/apps/app/certificates?filter=h3").body;
    assert_eq!((filtered["total_count"].as_u64(), filtered["certificates"][0]["hostname"].as_str()), (Some(1), Some("h3.example.com")));
    assert_eq!(emulator.get("/v1/apps/app/certificates?cursor=zz").status, 400);
}

#[test]
fn wildcard_hostnames_go_in_paths_url_encoded() {
    let emulator = setup();
    assert_eq!(add(&emulator, "app", "*.example.com").status, 201, "wildcards are fine");
    let encoded = emulator.get("/v1/apps/app/certificates/%2A.example.com");
    assert_eq!(encoded.status, 200, "{:?}", encoded.body);
    assert_eq!(encoded.body["hostname"], "*.example.com");
    assert_eq!(encoded.body["dns_requirements"]["acme_challenge"]["name"], "_acme-challenge.example.com");
    let raw = emulator.get("/v1/apps/app/certificates/*.example.com");
    assert_eq!(raw.status, 400, "{:?}", raw.body);
    assert!(raw.error().contains("%2A"), "{:?}", raw.body);
    assert_eq!(emulator.delete("/v1/apps/app/certificates/%2A.example.com").status, 204);
}

#[test]
fn hostnames_are_checked_and_apps_must_exist() {
    let emulator = setup();
    for bad in ["localhost", "-shop.example.com", "shop..example.com", "shop_1.example.com", ""] {
        let refused = add(&emulator, "app", bad);
        assert_eq!(refused.status, 422, "{bad}: {:?}", refused.body);
        assert!(refused.error().contains("is not a valid hostname"), "{:?}", refused.body);
    }
    assert_eq!(add(&emulator, "nope", HOST).status, 404);
    assert_eq!(emulator.get("/v1/apps/nope/certificates").status, 404);
    assert_eq!(emulator.control("POST", &format!("/apps/app/certificates/{HOST}/issue"), None).status, 404);
    let unknown_key = emulator.post("/v1/apps/app/certificates/acme", json!({"hostname": HOST, "wildcard": true}));
    assert_eq!(unknown_key.status, 400, "{:?}", unknown_key.body);

    // The same hostname may sit on two apps (a migration re-adds it before
    // DNS moves); deleting an app takes its certificates with it.
    emulator.create_app("app-v2");
    assert_eq!(add(&emulator, "app-v2", HOST).status, 201);
    assert_eq!(emulator.delete("/v1/apps/app-v2").status, 202);
    emulator.create_app("app-v2");
    let empty: Value = emulator.get("/v1/apps/app-v2/certificates").body;
    assert_eq!(empty["certificates"], json!([]));
}
