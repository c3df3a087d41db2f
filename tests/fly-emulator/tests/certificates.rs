//! Custom-domain certificates: added by ACME, listed, checked, issued by
//! the control API, deleted, and gone with their app.

mod common;

use common::Emulator;
use serde_json::json;

const HOST: &str = "shop.example.com";

fn setup() -> Emulator {
    let emulator = Emulator::start();
    emulator.create_app("app");
    emulator
}

fn add(emulator: &Emulator, app: &str, hostname: &str) -> common::Response {
    emulator.post(&format!("/v1/apps/{app}/certificates/acme"), json!({"hostname": hostname}))
}

#[test]
fn a_certificate_awaits_configuration_until_it_is_issued() {
    let emulator = setup();
    emulator.post("/v1/apps/app/ip_assignments", json!({"type": "v4"}));
    let added = add(&emulator, "app", "Shop.Example.com");
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(added.body["hostname"], HOST, "hostnames are lowercased");
    assert_eq!(added.body["status"], "Awaiting configuration");
    assert_eq!(added.body["configured"], false);
    assert_eq!(added.body["dns_requirements"]["cname"], "app.fly.dev");
    assert!(added.body["dns_requirements"]["a"][0].as_str().unwrap().starts_with("203.0.113."), "{:?}", added.body);
    assert_eq!(added.body["dns_requirements"]["acme_challenge"]["name"], "_acme-challenge.shop.example.com");

    let again = add(&emulator, "app", HOST);
    assert_eq!(again.status, 200, "adding it again answers the same certificate");
    let listed = emulator.get("/v1/apps/app/certificates").body;
    assert_eq!(listed["certificates"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["certificates"][0]["hostname"], HOST);

    let path = format!("/v1/apps/app/certificates/{HOST}");
    assert_eq!(emulator.post(&format!("{path}/check"), json!({})).body["status"], "Awaiting configuration");
    let issued = emulator.control("POST", &format!("/apps/app/certificates/{HOST}/issue"), None);
    assert_eq!(issued.status, 200, "{:?}", issued.body);
    assert_eq!(emulator.get(&path).body["status"], "Ready");
    assert_eq!(emulator.get(&path).body["configured"], true);
    assert_eq!(emulator.post(&format!("{path}/check"), json!({})).body["status"], "Ready");

    assert_eq!(emulator.delete(&path).status, 204);
    assert_eq!(emulator.get(&path).status, 404);
    assert_eq!(emulator.delete(&path).status, 404);
    assert_eq!(emulator.get("/v1/apps/app/certificates").body, json!({"certificates": []}));
}

#[test]
fn hostnames_are_checked_and_apps_must_exist() {
    let emulator = setup();
    for bad in ["localhost", "-shop.example.com", "shop..example.com", "shop_1.example.com", ""] {
        let refused = add(&emulator, "app", bad);
        assert_eq!(refused.status, 422, "{bad}: {:?}", refused.body);
        assert!(refused.error().contains("is not a valid hostname"), "{:?}", refused.body);
    }
    assert_eq!(add(&emulator, "app", "*.example.com").status, 201, "wildcards are fine");
    assert_eq!(add(&emulator, "nope", HOST).status, 404);
    assert_eq!(emulator.get("/v1/apps/nope/certificates").status, 404);
    assert_eq!(emulator.control("POST", &format!("/apps/app/certificates/{HOST}/issue"), None).status, 404);

    // The same hostname may sit on two apps (a migration re-adds it before
    // DNS moves); deleting an app takes its certificates with it.
    emulator.create_app("app-v2");
    assert_eq!(add(&emulator, "app-v2", HOST).status, 201);
    assert_eq!(emulator.delete("/v1/apps/app-v2").status, 202);
    emulator.create_app("app-v2");
    assert_eq!(emulator.get("/v1/apps/app-v2/certificates").body, json!({"certificates": []}));
}
