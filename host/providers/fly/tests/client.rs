//! Transport behaviour: auth schemes, configuration from the environment,
//! base URLs, retries, error messages and token hygiene.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Fake, Seq, TOKEN, header, ok, status};
use ferry_fly::{Config, CreateApp, FlyClient, FlyError, LaunchInput, MachineConfig};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn app_json() -> serde_json::Value {
    json!({"id": "a1", "name": "web", "status": "deployed", "organization": {"slug": "acme", "name": "Acme"},
           "machine_count": 2, "volume_count": 0, "network": "default"})
}

#[test]
fn bearer_for_plain_tokens_and_flyv1_for_macaroons() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web")).respond_with(ok(app_json())));
    let cases = [
        ("plain-personal-token", "Bearer plain-personal-token"),
        ("fm2_macaroon", "FlyV1 fm2_macaroon"),
        ("fm1r_read", "FlyV1 fm1r_read"),
        ("fm1a_all", "FlyV1 fm1a_all"),
        ("fm1r_one,fm2_two", "FlyV1 fm1r_one,fm2_two"),
        ("FlyV1 fm2_already", "FlyV1 fm2_already"),
        (" fm2_pasted\n", "FlyV1 fm2_pasted"),
    ];
    for (token, _) in cases {
        let mut config = fake.config();
        config.token = token.into();
        let app = FlyClient::new(config).unwrap().get_app("web").unwrap().unwrap();
        assert!(app.is_deployed());
    }
    let sent: Vec<String> = fake.requests().iter().map(|r| header(r, "authorization").unwrap()).collect();
    let expected: Vec<String> = cases.iter().map(|(_, h)| (*h).to_owned()).collect();
    assert_eq!(sent, expected);
}

#[test]
fn environment_selects_token_and_base_urls_like_flyctl() {
    let vars = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name: &str| map.get(name).cloned()
    };
    assert!(Config::from_vars(vars(&[])).unwrap().is_none());
    assert!(Config::from_vars(vars(&[("FLY_API_TOKEN", "  ")])).unwrap().is_none());

    let access = Config::from_vars(vars(&[("FLY_ACCESS_TOKEN", "fm2_access")])).unwrap().unwrap();
    assert_eq!(access.token, "fm2_access".into());
    assert_eq!(access.flaps_base, "https://api.machines.dev");
    assert_eq!(access.api_base, "https://api.fly.io");
    assert_eq!(access.uiex_base, "https://api.fly.io");

    let both = Config::from_vars(vars(&[
        ("FLY_API_TOKEN", "fm2_api"),
        ("FLY_ACCESS_TOKEN", "fm2_access"),
        ("FLY_FLAPS_BASE_URL", "http://127.0.0.1:4280"),
        ("FLY_API_BASE_URL", "http://127.0.0.1:4281"),
        ("FLY_UIEX_BASE_URL", "http://127.0.0.1:4282/uiex"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(both.token, "fm2_access".into(), "flyctl reads FLY_ACCESS_TOKEN first");
    assert_eq!(both.flaps_base, "http://127.0.0.1:4280");
    assert_eq!(both.api_base, "http://127.0.0.1:4281");
    assert_eq!(both.uiex_base, "http://127.0.0.1:4282/uiex");

    let bad = Config::from_vars(vars(&[("FLY_API_TOKEN", "t"), ("FLY_FLAPS_BASE_URL", "not a url")])).unwrap_err();
    assert!(matches!(bad, FlyError::Config(_)));
    assert!(bad.to_string().contains("FLY_FLAPS_BASE_URL"), "{bad}");
}

#[test]
fn flaps_base_override_keeps_its_path_prefix_and_adds_v1() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/fake/flaps/v1/apps/web")).respond_with(ok(app_json())));
    let mut config = fake.config();
    config.flaps_base = format!("{}/fake/flaps/", fake.server.uri());
    let app = FlyClient::new(config).unwrap().get_app("web").unwrap().unwrap();
    assert_eq!(app.organization.unwrap().slug, "acme");
}

#[test]
fn token_never_appears_in_debug_or_error_messages() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web")).respond_with(
        ResponseTemplate::new(401).insert_header("fly-request-id", "01REQ-401").set_body_json(json!({"error": format!("token {TOKEN} is not valid")})),
    ));
    let client = fake.client();
    for debug in [format!("{client:?}"), format!("{:?}", fake.config()), format!("{:?}", client.config())] {
        assert!(!debug.contains(TOKEN) && !debug.contains("super-secret"), "{debug}");
    }
    let error = client.get_app("web").unwrap_err();
    assert!(matches!(error, FlyError::Unauthorized { .. }), "{error:?}");
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("super-secret"), "{text}");
    }
    let text = error.to_string();
    assert!(text.contains("GET /v1/apps/web"), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(text.contains("01REQ-401"), "{text}");
    assert!(text.contains("FLY_API_TOKEN"), "{text}");
    assert_eq!(error.request_id(), Some("01REQ-401"));
}

#[test]
fn get_is_retried_on_503_then_succeeds() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web")).respond_with(Seq::new(vec![
        status(503, "upstream"),
        ResponseTemplate::new(429),
        ok(app_json()),
    ])));
    let app = fake.client().get_app("web").unwrap().unwrap();
    assert_eq!(app.name, "web");
    assert_eq!(fake.requests().len(), 3);
}

#[test]
fn get_retries_are_bounded() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).respond_with(status(502, "bad gateway")));
    let error = fake.client().list_machines("web").unwrap_err();
    assert!(matches!(error, FlyError::Api { status: 502, .. }), "{error:?}");
    assert_eq!(fake.requests().len(), 4, "attempts of the retry policy");
}

#[test]
fn mutations_are_retried_on_502_and_503_like_fly_go_but_not_on_500() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps")).respond_with(Seq::new(vec![
        status(503, "unavailable"),
        status(502, "bad gateway"),
        ok(app_json()),
    ])));
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines/m1/start")).respond_with(status(500, "boom")));
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines/m1")).respond_with(status(503, "unavailable")));
    let client = fake.client();
    let app = CreateApp { name: "web".into(), org_slug: "acme".into(), ..CreateApp::default() };
    client.create_app(&app).expect("503 then 502 then 200");
    let creates = fake.requests_to("POST", "/v1/apps");
    assert_eq!(creates.len(), 3, "rehttp replays the POST");
    let body: serde_json::Value = serde_json::from_slice(&creates[0].body).unwrap();
    assert_eq!(body, json!({"name": "web", "org_slug": "acme", "network": "", "app_role_id": ""}), "fly-go's body: every key, empty strings included");
    assert_eq!(creates[0].url.query(), Some("wait=true"));

    assert!(matches!(client.start_machine("web", "m1", None), Err(FlyError::Api { status: 500, .. })));
    assert_eq!(fake.requests_to("POST", "/m1/start").len(), 1, "a 500 may have applied: not replayed");
    let input = LaunchInput { config: MachineConfig::new(), ..LaunchInput::default() };
    assert!(matches!(client.update_machine("web", "m1", &input, None), Err(FlyError::Api { status: 503, .. })));
    assert_eq!(fake.requests_to("POST", "/machines/m1").len(), 4, "4 attempts, then the 503 is the answer");
}

#[test]
fn a_429_is_retried_on_every_method_after_retry_after() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines/m1/stop")).respond_with(Seq::new(vec![
        ResponseTemplate::new(429).insert_header("retry-after", "1").set_body_json(json!({"error": "rate limited"})),
        ResponseTemplate::new(200).set_body_json(json!({"ok": true})),
    ])));
    fake.mount(Mock::given(method("DELETE")).respond_with(status(429, "rate limited")));
    let mut config = fake.config();
    config.rate_limit_retry.max_delay = Duration::from_secs(2);
    let client = FlyClient::new(config).unwrap();
    let started = Instant::now();
    client.stop_machine("web", "m1", &Default::default(), None).expect("the 429 was not applied: repeated");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(950), "Retry-After: 1 honoured ({waited:?})");
    assert_eq!(fake.requests_to("POST", "/stop").len(), 2);

    let error = client.destroy_machine("web", "m1", true, None).unwrap_err();
    assert!(matches!(error, FlyError::Api { status: 429, .. }), "{error:?}");
    assert_eq!(fake.requests_to("DELETE", "/machines/m1").len(), 4, "bounded by rate_limit_retry.attempts");
}

#[test]
fn creates_and_updates_may_take_longer_than_an_ordinary_request() {
    let fake = Fake::start();
    let slow = ResponseTemplate::new(200).set_body_json(common::machine("m1", "started")).set_delay(Duration::from_millis(1500));
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/web/machines/m1")).respond_with(slow.clone()));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/machines/m1")).respond_with(slow));
    let mut config = fake.config();
    config.request_timeout = Duration::from_secs(1);
    config.launch_timeout = Duration::from_secs(5);
    let client = FlyClient::new(config).unwrap();
    let input = LaunchInput { config: MachineConfig::new(), ..LaunchInput::default() };
    let updated = client.update_machine("web", "m1", &input, None).expect("an update pulling an image is not cut at 30 s");
    assert_eq!(updated.id, "m1");
    let error = client.get_machine("web", "m1").unwrap_err();
    assert!(error.to_string().contains("no response within"), "{error}");
}

#[test]
fn errors_name_method_path_status_and_api_text() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST")).and(path("/v1/apps/web/machines/m1")).respond_with(
            ResponseTemplate::new(422)
                .insert_header("fly-request-id", "01REQ-422")
                .set_body_json(json!({"error": "no capacity in ams", "status": "insufficient_capacity"})),
        ),
    );
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/volumes")).respond_with(status(403, "unauthorized")));
    let client = fake.client();
    let input = LaunchInput { config: MachineConfig::new(), ..LaunchInput::default() };
    let error = client.update_machine("web", "m1", &input, None).unwrap_err();
    match &error {
        FlyError::Api { status, code, message, .. } => {
            assert_eq!(*status, 422);
            assert_eq!(code.as_deref(), Some("insufficient_capacity"));
            assert_eq!(message, "no capacity in ams");
        }
        other => panic!("{other:?}"),
    }
    let text = error.to_string();
    for part in ["POST /v1/apps/web/machines/m1", format!("on {}", fake.server.uri()).as_str(), "422", "no capacity in ams", "01REQ-422"] {
        assert!(text.contains(part), "{text} lacks {part}");
    }
    let forbidden = client.list_volumes("web").unwrap_err();
    assert!(matches!(forbidden, FlyError::Forbidden { .. }));
    assert!(forbidden.to_string().contains("deploy token scoped to another app"), "{forbidden}");
    assert_eq!(forbidden.status(), Some(403));
}

#[test]
fn missing_app_is_none_and_missing_machine_is_not_found() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).respond_with(status(404, "app not found")));
    let client = fake.client();
    assert!(client.get_app("ghost").unwrap().is_none());
    let error = client.get_machine("ghost", "m1").unwrap_err();
    assert!(matches!(error, FlyError::NotFound { .. }), "{error:?}");
    assert!(error.to_string().contains("app not found"));
    assert_eq!(fake.requests().len(), 2, "404s are not retried for machines not created here");
}

#[test]
fn connection_failures_are_transport_errors() {
    let mut config = Config::new(TOKEN);
    // A port nothing listens on (reserved discard port on loopback).
    config.flaps_base = "http://127.0.0.1:9".into();
    config.retry.base_delay = std::time::Duration::from_millis(1);
    let error = FlyClient::new(config).unwrap().list_machines("web").unwrap_err();
    match &error {
        FlyError::Transport { maybe_sent, message, .. } => {
            assert!(!maybe_sent, "a refused connection sent nothing");
            assert!(message.contains("cannot connect"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("GET /v1/apps/web/machines"), "{error}");
}

#[test]
fn certificates_are_listed_added_by_acme_and_gone_is_fine() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/shop/certificates")).respond_with(ok(json!({"certificates": null}))));
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/shop-v2/certificates"))
            .respond_with(ok(json!({"certificates": [{"hostname": "shop.example.com", "status": "active", "created_at": "2026-01-01T00:00:00Z"}]}))),
    );
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/shop/certificates/shop.example.com")).respond_with(status(404, "certificate not found")));
    fake.mount(
        Mock::given(method("POST")).and(path("/v1/apps/shop/certificates/acme")).respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"hostname": "shop.example.com", "configured": false, "acme_requested": true, "status": "pending_validation"})),
        ),
    );
    fake.mount(Mock::given(method("DELETE")).respond_with(status(404, "certificate not found")));
    let client = fake.client();

    assert_eq!(client.list_certificates("shop").unwrap(), [], "a null list is empty");
    let listed = client.list_certificates("shop-v2").unwrap();
    assert_eq!((listed[0].hostname.as_str(), listed[0].status.as_str()), ("shop.example.com", "active"));
    assert!(listed[0].is_active());
    assert_eq!(client.get_certificate("shop", "shop.example.com").unwrap(), None);
    let added = client.add_certificate("shop", "shop.example.com").unwrap();
    assert!(added.acme_requested && !added.configured, "{added:?}");
    let sent: serde_json::Value = serde_json::from_slice(&fake.requests_to("POST", "/certificates/acme")[0].body).unwrap();
    assert_eq!(sent, json!({"hostname": "shop.example.com"}));
    client.delete_certificate("shop", "shop.example.com").expect("a 404 on delete means it is gone already");
}

fn snap(id: &str, status: &str, created_at: &str) -> serde_json::Value {
    json!({"id": id, "size": 1073741824u64, "digest": "ab", "status": status, "retention_days": 5, "created_at": created_at})
}

#[test]
fn the_snapshot_a_call_takes_is_found_among_new_ones_and_waited_for() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/shop/volumes/vol_1/snapshots")).respond_with(ResponseTemplate::new(200)));
    let old = snap("vs_old", "created", "2026-01-01T00:00:00Z");
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/shop/volumes/vol_1/snapshots")).respond_with(Seq::new(vec![
        ok(json!([old])),
        // Pending without an id yet, as flyctl's "(pending)" shows.
        ok(json!([old, snap("", "waiting", "")])),
        ok(json!([snap("vs_new", "running", "2026-02-01T00:00:00.5Z"), old])),
        // The old one last: `.last()` of the list would restore a day-old copy.
        ok(json!([snap("vs_new", "created", "2026-02-01T00:00:00.5Z"), old])),
    ])));
    let wait = ferry_fly::SnapshotWait { timeout: Duration::from_secs(5), poll_interval: Duration::from_millis(10) };
    let taken = fake.client().snapshot_volume("shop", "vol_1", &wait).unwrap();
    assert_eq!((taken.id.as_str(), taken.status.as_str()), ("vs_new", "created"));
    assert_eq!(fake.requests_to("POST", "/snapshots").len(), 1, "a snapshot is taken once");
    assert_eq!(fake.requests_to("GET", "/snapshots").len(), 4, "listed before, then until created");
}

#[test]
fn a_snapshot_that_never_completes_times_out_naming_the_volume() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/shop/volumes/vol_1/snapshots")).respond_with(ResponseTemplate::new(201)));
    let old = snap("vs_old", "created", "2026-01-01T00:00:00Z");
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/shop/volumes/vol_1/snapshots"))
            .respond_with(Seq::new(vec![ok(json!([old])), ok(json!([old, snap("vs_new", "running", "2026-02-01T00:00:00Z")]))])),
    );
    let wait = ferry_fly::SnapshotWait { timeout: Duration::from_millis(300), poll_interval: Duration::from_millis(20) };
    let error = fake.client().snapshot_volume("shop", "vol_1", &wait).unwrap_err();
    let text = error.to_string();
    assert!(text.contains("volume vol_1 of app shop"), "{text}");
    assert!(text.contains("vs_new") && text.contains("running"), "what was seen last: {text}");
}

#[test]
fn flaps_gets_macaroons_as_flyv1_and_the_release_api_gets_every_token_as_bearer() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web")).respond_with(ok(app_json())));
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/api/v1/releases"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"release": {"id": "rel_1", "version": 3}}))),
    );
    let mut config = fake.config();
    // A pasted deploy token with a user token after it, and a scheme twice.
    config.token = "bearer FlyV1 fo1_user,fm2_deploy".into();
    let client = FlyClient::new(config).unwrap();
    client.get_app("web").unwrap();
    let release = ferry_fly::CreateRelease { app_name: "web".into(), image: "i".into(), strategy: "ROLLING".into(), ..Default::default() };
    assert_eq!(client.create_release(&release).unwrap().version, 3);
    let flaps = &fake.requests_to("GET", "/v1/apps/web")[0];
    assert_eq!(header(flaps, "authorization").as_deref(), Some("FlyV1 fm2_deploy"), "fly-go FlapsHeader: macaroons only");
    let uiex = &fake.requests_to("POST", "/api/v1/releases")[0];
    assert_eq!(header(uiex, "authorization").as_deref(), Some("Bearer fm2_deploy,fo1_user"), "flyctl's uiex client: Bearer, macaroons first, then the rest");
}

#[test]
fn an_error_names_the_host_that_did_not_answer() {
    let mut config = Config::new(TOKEN);
    config.flaps_base = "http://127.0.0.1:9".into();
    config.retry.base_delay = Duration::from_millis(1);
    let error = FlyClient::new(config).unwrap().get_app("web").unwrap_err();
    let text = error.to_string();
    assert!(text.contains("GET /v1/apps/web on http://127.0.0.1:9"), "{text}");
}

#[test]
fn a_new_app_is_waited_for_through_404_and_401() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/new-app")).respond_with(Seq::new(vec![
        status(404, "app not found"),
        status(401, "unauthorized"),
        status(404, "app not found"),
        ok(app_json()),
    ])));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/broken")).respond_with(status(422, "nope")));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/never")).respond_with(status(404, "app not found")));
    let client = fake.client();
    client.wait_for_app("new-app").expect("404 and 401 mean not yet");
    assert_eq!(fake.requests_to("GET", "/v1/apps/new-app").len(), 4);
    assert!(matches!(client.wait_for_app("broken"), Err(FlyError::Api { status: 422, .. })));
    assert_eq!(fake.requests_to("GET", "/v1/apps/broken").len(), 1, "other errors end the wait at once");
    let started = Instant::now();
    assert!(matches!(client.wait_for_app("never"), Err(FlyError::NotFound { .. })));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(5), "bounded by app_wait: {waited:?}");
}

#[test]
fn a_403_on_an_app_name_means_another_org_has_it() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/taken-app")).respond_with(status(403, "unauthorized")));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/free-app")).respond_with(status(404, "app not found")));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/mine")).respond_with(ok(app_json())));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/badtoken")).respond_with(status(401, "invalid token")));
    let client = fake.client();
    assert_eq!(client.app_name("taken-app").unwrap(), ferry_fly::AppName::TakenElsewhere);
    assert_eq!(client.app_name("free-app").unwrap(), ferry_fly::AppName::Free);
    assert!(matches!(client.app_name("mine").unwrap(), ferry_fly::AppName::Visible(_)));
    assert!(matches!(client.app_name("badtoken"), Err(FlyError::Unauthorized { .. })), "401 says nothing about the name");
}

#[test]
fn certificates_follow_next_cursor_and_escape_wildcards() {
    let fake = Fake::start();
    let summary = |h: &str, s: &str| json!({"hostname": h, "status": s, "configured": true, "acme_requested": true});
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/shop/certificates"))
            .and(wiremock::matchers::query_param("cursor", "c2"))
            .respond_with(ok(json!({"certificates": [summary("*.example.com", "pending_validation")], "next_cursor": "", "total_count": 3}))),
    );
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/shop/certificates")).and(wiremock::matchers::query_param_is_missing("cursor")).respond_with(ok(
        json!({"certificates": [summary("a.example.com", "active"), summary("b.example.com", "pending_ownership")], "next_cursor": "c2", "total_count": 3}),
    )));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/shop/certificates/%2A.example.com")).respond_with(ok(json!({
        "hostname": "*.example.com", "status": "pending_validation", "configured": false, "acme_requested": true,
        "dns_requirements": {"a": [], "aaaa": [], "cname": "shop.fly.dev",
                             "acme_challenge": {"name": "_acme-challenge.example.com", "target": "example.com.x1y2.flydns.net"}}
    }))));
    let client = fake.client();
    let all = client.list_certificates("shop").unwrap();
    let hosts: Vec<(&str, bool)> = all.iter().map(|c| (c.hostname.as_str(), c.is_active())).collect();
    assert_eq!(hosts, [("a.example.com", true), ("b.example.com", false), ("*.example.com", false)], "both pages, `active` is issued");
    for list in fake.requests_to("GET", "/v1/apps/shop/certificates") {
        assert_eq!(common::query(&list, "limit").as_deref(), Some("50"));
    }
    let wildcard = client.get_certificate("shop", "*.example.com").unwrap().expect("found under %2A");
    assert!(!wildcard.is_active());
    let challenge = wildcard.acme_challenge().unwrap();
    assert_eq!((challenge.name.as_str(), challenge.target.as_str()), ("_acme-challenge.example.com", "example.com.x1y2.flydns.net"));
    assert_eq!(fake.requests_to("GET", "/%2A.example.com").len(), 1, "`*` goes out as %2A, as Go's url.PathEscape writes it");
}

#[test]
fn secrets_are_read_at_the_version_a_set_returned() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/web/secrets")).respond_with(ok(json!({"secrets": [{"name": "A", "digest": "d"}]}))));
    let client = fake.client();
    client.list_secrets_at("web", Some(7)).unwrap();
    client.list_secrets("web").unwrap();
    let lists = fake.requests_to("GET", "/secrets");
    assert_eq!(common::query(&lists[0], "version").as_deref(), Some("7"));
    assert_eq!(common::query(&lists[1], "version"), None);
}
