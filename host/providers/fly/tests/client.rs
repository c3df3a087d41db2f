//! Transport behaviour: auth schemes, configuration from the environment,
//! base URLs, retries, error messages and token hygiene.

mod common;

use std::collections::HashMap;

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
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/web"))
            .respond_with(ok(app_json())),
    );
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
        let app = FlyClient::new(config)
            .unwrap()
            .get_app("web")
            .unwrap()
            .unwrap();
        assert!(app.is_deployed());
    }
    let sent: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| header(r, "authorization").unwrap())
        .collect();
    let expected: Vec<String> = cases.iter().map(|(_, h)| (*h).to_owned()).collect();
    assert_eq!(sent, expected);
}

#[test]
fn environment_selects_token_and_base_urls_like_flyctl() {
    let vars = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name: &str| map.get(name).cloned()
    };
    assert!(Config::from_vars(vars(&[])).unwrap().is_none());
    assert!(
        Config::from_vars(vars(&[("FLY_API_TOKEN", "  ")]))
            .unwrap()
            .is_none()
    );

    let access = Config::from_vars(vars(&[("FLY_ACCESS_TOKEN", "fm2_access")]))
        .unwrap()
        .unwrap();
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
    assert_eq!(both.token, "fm2_api".into());
    assert_eq!(both.flaps_base, "http://127.0.0.1:4280");
    assert_eq!(both.api_base, "http://127.0.0.1:4281");
    assert_eq!(both.uiex_base, "http://127.0.0.1:4282/uiex");

    let bad = Config::from_vars(vars(&[
        ("FLY_API_TOKEN", "t"),
        ("FLY_FLAPS_BASE_URL", "not a url"),
    ]))
    .unwrap_err();
    assert!(matches!(bad, FlyError::Config(_)));
    assert!(bad.to_string().contains("FLY_FLAPS_BASE_URL"), "{bad}");
}

#[test]
fn flaps_base_override_keeps_its_path_prefix_and_adds_v1() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/fake/flaps/v1/apps/web"))
            .respond_with(ok(app_json())),
    );
    let mut config = fake.config();
    config.flaps_base = format!("{}/fake/flaps/", fake.server.uri());
    let app = FlyClient::new(config)
        .unwrap()
        .get_app("web")
        .unwrap()
        .unwrap();
    assert_eq!(app.organization.unwrap().slug, "acme");
}

#[test]
fn token_never_appears_in_debug_or_error_messages() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/web"))
            .respond_with(
                ResponseTemplate::new(401)
                    .insert_header("fly-request-id", "01REQ-401")
                    .set_body_json(json!({"error": format!("token {TOKEN} is not valid")})),
            ),
    );
    let client = fake.client();
    for debug in [
        format!("{client:?}"),
        format!("{:?}", fake.config()),
        format!("{:?}", client.config()),
    ] {
        assert!(
            !debug.contains(TOKEN) && !debug.contains("super-secret"),
            "{debug}"
        );
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
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/web"))
            .respond_with(Seq::new(vec![
                status(503, "upstream"),
                ResponseTemplate::new(429),
                ok(app_json()),
            ])),
    );
    let app = fake.client().get_app("web").unwrap().unwrap();
    assert_eq!(app.name, "web");
    assert_eq!(fake.requests().len(), 3);
}

#[test]
fn get_retries_are_bounded() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).respond_with(status(502, "bad gateway")));
    let error = fake.client().list_machines("web").unwrap_err();
    assert!(
        matches!(error, FlyError::Api { status: 502, .. }),
        "{error:?}"
    );
    assert_eq!(fake.requests().len(), 4, "attempts of the retry policy");
}

#[test]
fn mutations_are_not_retried_on_503() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).respond_with(status(503, "unavailable")));
    let client = fake.client();
    let app = CreateApp {
        name: "web".into(),
        org_slug: "acme".into(),
        ..CreateApp::default()
    };
    assert!(matches!(
        client.create_app(&app),
        Err(FlyError::Api { status: 503, .. })
    ));
    let input = LaunchInput {
        config: MachineConfig::new(),
        ..LaunchInput::default()
    };
    assert!(client.update_machine("web", "m1", &input, None).is_err());
    assert!(client.start_machine("web", "m1", None).is_err());
    assert_eq!(fake.requests().len(), 3, "one request per call");
    let body: serde_json::Value = serde_json::from_slice(&fake.requests()[0].body).unwrap();
    assert_eq!(body["name"], "web");
    assert_eq!(body["app_name"], "web");
    assert_eq!(fake.requests()[0].url.query(), Some("wait=true"));
}

#[test]
fn errors_name_method_path_status_and_api_text() {
    let fake = Fake::start();
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/v1/apps/web/machines/m1"))
            .respond_with(
                ResponseTemplate::new(422)
                    .insert_header("fly-request-id", "01REQ-422")
                    .set_body_json(
                        json!({"error": "no capacity in ams", "status": "insufficient_capacity"}),
                    ),
            ),
    );
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/web/volumes"))
            .respond_with(status(403, "unauthorized")),
    );
    let client = fake.client();
    let input = LaunchInput {
        config: MachineConfig::new(),
        ..LaunchInput::default()
    };
    let error = client
        .update_machine("web", "m1", &input, None)
        .unwrap_err();
    match &error {
        FlyError::Api {
            status,
            code,
            message,
            ..
        } => {
            assert_eq!(*status, 422);
            assert_eq!(code.as_deref(), Some("insufficient_capacity"));
            assert_eq!(message, "no capacity in ams");
        }
        other => panic!("{other:?}"),
    }
    let text = error.to_string();
    for part in [
        "POST /v1/apps/web/machines/m1",
        "422",
        "no capacity in ams",
        "01REQ-422",
    ] {
        assert!(text.contains(part), "{text} lacks {part}");
    }
    let forbidden = client.list_volumes("web").unwrap_err();
    assert!(matches!(forbidden, FlyError::Forbidden { .. }));
    assert!(
        forbidden
            .to_string()
            .contains("deploy token scoped to another app"),
        "{forbidden}"
    );
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
    assert_eq!(
        fake.requests().len(),
        2,
        "404s are not retried for machines not created here"
    );
}

#[test]
fn connection_failures_are_transport_errors() {
    let mut config = Config::new(TOKEN);
    // A port nothing listens on (reserved discard port on loopback).
    config.flaps_base = "http://127.0.0.1:9".into();
    config.retry.base_delay = std::time::Duration::from_millis(1);
    let error = FlyClient::new(config)
        .unwrap()
        .list_machines("web")
        .unwrap_err();
    match &error {
        FlyError::Transport {
            maybe_sent,
            message,
            ..
        } => {
            assert!(!maybe_sent, "a refused connection sent nothing");
            assert!(message.contains("cannot connect"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        error.to_string().contains("GET /v1/apps/web/machines"),
        "{error}"
    );
}

#[test]
fn certificates_are_listed_added_by_acme_and_gone_is_fine() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/shop/certificates")).respond_with(ok(json!({"certificates": null}))));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/shop-v2/certificates")).respond_with(ok(json!({"certificates": [{"hostname": "shop.example.com", "status": "Ready", "created_at": "2026-01-01T00:00:00Z"}]}))));
    fake.mount(Mock::given(method("GET")).and(path("/v1/apps/shop/certificates/shop.example.com")).respond_with(status(404, "certificate not found")));
    fake.mount(
        Mock::given(method("POST"))
            .and(path("/v1/apps/shop/certificates/acme"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"hostname": "shop.example.com", "configured": false, "acme_requested": true, "status": "Awaiting configuration"}))),
    );
    fake.mount(Mock::given(method("DELETE")).respond_with(status(404, "certificate not found")));
    let client = fake.client();

    assert_eq!(client.list_certificates("shop").unwrap(), [], "a null list is empty");
    let listed = client.list_certificates("shop-v2").unwrap();
    assert_eq!((listed[0].hostname.as_str(), listed[0].status.as_str()), ("shop.example.com", "Ready"));
    assert_eq!(client.get_certificate("shop", "shop.example.com").unwrap(), None);
    let added = client.add_certificate("shop", "shop.example.com").unwrap();
    assert!(added.acme_requested && !added.configured, "{added:?}");
    let sent: serde_json::Value = serde_json::from_slice(&fake.requests_to("POST", "/certificates/acme")[0].body).unwrap();
    assert_eq!(sent, json!({"hostname": "shop.example.com"}));
    client.delete_certificate("shop", "shop.example.com").expect("a 404 on delete means it is gone already");
}

#[test]
fn a_snapshot_is_taken_then_found_in_the_list() {
    let fake = Fake::start();
    fake.mount(Mock::given(method("POST")).and(path("/v1/apps/shop/volumes/vol_1/snapshots")).respond_with(ResponseTemplate::new(200)));
    fake.mount(
        Mock::given(method("GET"))
            .and(path("/v1/apps/shop/volumes/vol_1/snapshots"))
            .respond_with(ok(json!([{"id": "vs_1", "size": 1073741824u64, "digest": "ab", "status": "created", "retention_days": 5, "created_at": "2026-01-01T00:00:00Z"}]))),
    );
    let client = fake.client();
    client.create_snapshot("shop", "vol_1").expect("an empty 200 is success");
    let snapshots = client.list_snapshots("shop", "vol_1").unwrap();
    assert_eq!(snapshots.len(), 1);
    assert_eq!((snapshots[0].id.as_str(), snapshots[0].size, snapshots[0].status.as_str()), ("vs_1", 1 << 30, "created"));
    assert_eq!(fake.requests_to("POST", "/snapshots").len(), 1, "a snapshot is taken once");
}
