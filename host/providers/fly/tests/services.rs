//! Secrets, logs, release records, volumes and IPs.

mod common;

use std::collections::BTreeMap;

use common::{Fake, Seq, ok, query, status};
use ferry_fly::{AllocateIp, CreateRelease, CreateVolumeRequest, FlyError, IpType, ReleaseStatus};
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{method, path, query_param};

#[test]
fn secrets_are_listed_by_name_and_digest_only() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/secrets")).respond_with(ok(json!({"secrets": [
        {"name": "DATABASE_URL", "digest": "d1", "value": "postgres://user:hunter2@db"},
        {"name": "API_KEY", "digest": "d2", "created_at": "2024-01-01T00:00:00Z"}
    ]}))));
    let secrets = fake.client().list_secrets("web").unwrap();
    let names: Vec<&str> = secrets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["DATABASE_URL", "API_KEY"]);
    assert_eq!(secrets[0].digest, "d1");
    let shown = format!("{secrets:?} {}", serde_json::to_string(&secrets).unwrap());
    assert!(!shown.contains("hunter2"), "{shown}");
    let request = &fake.requests()[0];
    assert_eq!(request.url.query(), None, "never asks for show_secrets");
}

#[test]
fn secrets_are_set_and_unset_in_one_call() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST")).and(path("/v1/apps/web/secrets")).respond_with(ok(json!({"secrets": [{"name": "NEW", "digest": "d"}], "version": 12}))),
    );
    let changes: BTreeMap<String, Option<String>> = [("NEW".to_owned(), Some("value".to_owned())), ("OLD".to_owned(), None)].into();
    let update = fake.client().update_secrets("web", &changes).unwrap();
    assert_eq!(update.version, 12);
    let body: Value = serde_json::from_slice(&fake.requests()[0].body).unwrap();
    assert_eq!(body, json!({"values": {"NEW": "value", "OLD": null}}));
}

fn log_page(lines: &[&str], next: &str) -> Value {
    let data: Vec<Value> = lines
        .iter()
        .map(|m| {
            json!({"id": m, "attributes": {"timestamp": "2024-01-01T00:00:00Z", "message": m, "level": "info",
                                                 "instance": "m1", "region": "ams"}})
        })
        .collect();
    json!({"data": data, "meta": {"next_token": next}})
}

#[test]
fn last_log_lines_pages_to_the_end_and_keeps_the_tail() {
    let fake = Fake::start();
    let logs = || Mock::given(method("GET")).and(path("/api/v1/apps/web/logs")).and(query_param("instance", "m1"));
    fake.mount(logs().and(query_param("next_token", "")).respond_with(ok(log_page(&["a", "b", "c"], "t1"))));
    fake.mount(logs().and(query_param("next_token", "t1")).respond_with(ok(log_page(&["d", "e"], "t2"))));
    fake.mount(logs().and(query_param("next_token", "t2")).respond_with(ok(log_page(&[], "t2"))));
    let lines = fake.client().last_log_lines("web", "m1", 3).unwrap();
    let messages: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages, ["c", "d", "e"]);
    assert_eq!(lines[0].instance, "m1");
    assert_eq!(lines[0].region, "ams");
    assert_eq!(fake.requests().len(), 3);
}

#[test]
fn logs_forbidden_for_deploy_tokens_is_reported_as_such() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).respond_with(status(403, "not authorized to read logs")));
    let error = fake.client().last_log_lines("web", "m1", 100).unwrap_err();
    assert!(matches!(error, FlyError::Forbidden { .. }), "{error:?}");
}

#[test]
fn release_records_are_created_and_their_status_retried_on_5xx() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST")).and(path("/api/v1/releases")).respond_with(ok(json!({"release": {"id": "rel_1", "version": 7, "status": "pending"}}))),
    );
    fake.mount(
        Mock::given(method("PATCH"))
            .and(path("/api/v1/releases/rel_1"))
            .respond_with(Seq::new(vec![status(502, "bad gateway"), ok(json!({"id": "rel_1", "version": 7, "status": "complete"}))])),
    );
    let client = fake.client();
    let release = client
        .create_release(&CreateRelease {
            app_name: "web".into(),
            strategy: "ROLLING".into(),
            definition: json!({"app": "web"}),
            image: "registry.fly.io/web:1".into(),
            build_id: 0,
        })
        .unwrap();
    assert_eq!((release.id.as_str(), release.version), ("rel_1", 7));
    let done = client.update_release("rel_1", ReleaseStatus::Complete, None).unwrap();
    assert_eq!(done.status, "complete");
    let patches = fake.requests_to("PATCH", "/rel_1");
    assert_eq!(patches.len(), 2);
    assert_eq!(
        String::from_utf8_lossy(&patches[1].body),
        r#"{"metadata":null,"status":"complete"}"#,
        "flyctl's body: both keys, sorted, metadata null when none"
    );
    let create = String::from_utf8_lossy(&fake.requests_to("POST", "/releases")[0].body).into_owned();
    assert_eq!(
        create, r#"{"app_name":"web","build_id":0,"definition":{"app":"web"},"image":"registry.fly.io/web:1","strategy":"ROLLING"}"#,
        "flyctl's body, in its order, build_id 0 for a prebuilt image"
    );
}

#[test]
fn volumes_fork_extend_and_hide_destroyed() {
    let fake = Fake::start();
    let volume = |id: &str, state: &str| {
        json!({"id": id, "name": "data", "state": state, "size_gb": 1, "region": "ams",
                                                "zone": "z1", "encrypted": true, "attached_machine_id": null})
    };
    fake.mount(
        Mock::given(method("GET")).and(path("/v1/apps/web/volumes")).respond_with(ok(json!([volume("vol_1", "created"), volume("vol_2", "pending_destroy")]))),
    );
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/volumes")).respond_with(ok(volume("vol_3", "hydrating"))));
    fake.mount(
        Mock::given(method("PUT"))
            .and(path("/v1/apps/web/volumes/vol_1/extend"))
            .respond_with(ok(json!({"volume": volume("vol_1", "created"), "needs_restart": true}))),
    );
    let client = fake.client();
    let listed: Vec<String> = client.list_volumes("web").unwrap().into_iter().map(|v| v.id).collect();
    assert_eq!(listed, ["vol_1"]);
    let fork = CreateVolumeRequest {
        name: "data".into(),
        region: "ams".into(),
        source_volume_id: Some("vol_1".into()),
        require_unique_zone: Some(true),
        ..CreateVolumeRequest::default()
    };
    assert_eq!(client.create_volume("web", &fork).unwrap().id, "vol_3");
    assert!(client.extend_volume("web", "vol_1", 10).unwrap().needs_restart);
    let bodies: Vec<Value> = fake.requests().iter().filter(|r| r.method.as_str() != "GET").map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(bodies[0], json!({"name": "data", "region": "ams", "require_unique_zone": true, "source_volume_id": "vol_1"}));
    assert_eq!(bodies[1], json!({"size_gb": 10}));
}

#[test]
fn ips_are_listed_allocated_and_released() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/web/ip_assignments"))
            .respond_with(ok(json!({"ips": [{"ip": "2a09::1", "region": "global", "shared": false}]}))),
    );
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/v1/apps/web/ip_assignments"))
            .respond_with(ok(json!({"ip": "66.241.124.1", "region": "global", "shared": true}))),
    );
    fake.mount(Mock::given(method("DELETE")).respond_with(ok(json!({}))));
    let client = fake.client();
    assert_eq!(client.list_ips("web").unwrap()[0].ip, "2a09::1");
    let allocated = client.allocate_ip("web", &AllocateIp::new(IpType::SharedV4)).unwrap();
    assert!(allocated.shared);
    client.release_ip("web", "2a09::1").unwrap();
    let requests = fake.requests();
    assert_eq!(serde_json::from_slice::<Value>(&requests[1].body).unwrap(), json!({"type": "shared_v4"}));
    assert_eq!(requests[2].url.path(), "/v1/apps/web/ip_assignments/2a09::1");
    assert!(query(&requests[2], "anything").is_none());
}
