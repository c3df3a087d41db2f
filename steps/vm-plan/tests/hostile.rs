//! Hostile app-specs, made by hand so parse-config's own checks are not in
//! the way: the VM planner refuses every value that would reach the host
//! outside its grammar, naming the config key (never echoing a value that
//! could be a secret), before any action is planned.

use ferry_inventory::MemoryFiles;
use ferry_step_sdk::host::vm::VmTargetInfo;
use ferry_step_sdk::types::{AppSpec, Mount, StepError, VmBuild};
use ferry_vm_plan::app::VmApp;
use ferry_vm_plan::deploy::{self, ImageFrom, Options};
use ferry_vm_plan::nginx::Tls;

const SHOP: &str = r#"
app = "shop"
[env]
  GREETING = "hi"
[mounts]
  source = "shop_data"
  destination = "/data"
[http_service]
  internal_port = 8080
"#;

fn spec() -> AppSpec {
    ferry_inventory::inventory(&MemoryFiles::fly_toml(SHOP), None).unwrap_or_else(|e| panic!("{e:?}"))
}

/// The refusal's key and message; panics when the app was accepted.
fn refused(spec: &AppSpec) -> (String, String) {
    match VmApp::new(spec, "/srv") {
        Ok(app) => panic!("accepted: {app:?}"),
        Err(StepError::InvalidInput(problem)) => {
            let at = problem.location.expect("the refusal names where");
            assert_eq!(at.file, "fly.toml");
            (at.key.unwrap_or_default(), problem.message)
        }
        Err(other) => panic!("{other:?}"),
    }
}

#[test]
fn the_audits_app_name_never_becomes_an_nginx_site_or_a_container() {
    let mut hostile = spec();
    hostile.app = Some("shop;}\nserver { listen 80; root /; autoindex on; }\n#".into());
    let (key, message) = refused(&hostile);
    assert_eq!(key, "app");
    assert!(message.contains(r#""shop;}\nserver"#) && !message.contains('\n'), "named, escaped: {message}");
    for name in ["-shop", "../../etc", "Shop", ""] {
        hostile.app = Some(name.into());
        assert_eq!(refused(&hostile).0, "app", "{name:?}");
    }
}

#[test]
fn a_climbing_mount_source_never_becomes_a_bind_mount_of_the_hosts_root() {
    for source in ["../../../../", "..", "../../../etc", "a/../../..", "/"] {
        let mut hostile = spec();
        hostile.mounts[0].source = source.into();
        let (key, message) = refused(&hostile);
        assert_eq!(key, "mounts.source", "{source}: {message}");
    }
    let mut hostile = spec();
    hostile.mounts.push(Mount {
        source: "x".into(),
        destination: "/data:/etc".into(),
        initial_size: None,
        auto_extend_size_threshold: None,
        auto_extend_size_increment_gb: None,
        auto_extend_size_limit_gb: None,
        processes: Vec::new(),
        snapshot_retention: None,
        scheduled_snapshots: None,
    });
    assert_eq!(refused(&hostile).0, "mounts.destination");
}

#[test]
fn an_env_value_with_a_line_break_cannot_add_a_variable() {
    let mut hostile = spec();
    hostile.env = vec![("GREETING".into(), "hi\nDATABASE_URL=postgres://attacker.example/steal".into())];
    let (key, message) = refused(&hostile);
    assert_eq!(key, "env.GREETING");
    assert!(message.contains("line break") && !message.contains("attacker"), "names the key, not the value: {message}");
    hostile.env = vec![("GREETING".into(), "a\rb".into())];
    assert_eq!(refused(&hostile).0, "env.GREETING");
    hostile.env = vec![("A=B".into(), "1".into())];
    assert_eq!(refused(&hostile).0, "env.A=B");
    hostile.env = Vec::new();
    hostile.secrets = vec!["SESSION_KEY\nX".into()];
    let (key, message) = refused(&hostile);
    assert_eq!(key, "secrets");
    assert!(message.contains(r#""SESSION_KEY\nX""#), "{message}");
}

#[test]
fn process_group_names_that_are_not_container_name_parts_are_refused() {
    let mut hostile = spec();
    hostile.processes = vec![ferry_step_sdk::types::Process { name: "--privileged".into(), command: String::new() }];
    assert_eq!(refused(&hostile).0, "processes.--privileged");
}

#[test]
fn a_target_root_that_is_not_a_plain_path_is_refused() {
    for root in ["srv", "/srv/../etc", "/srv;}", "/srv dir"] {
        assert!(VmApp::new(&spec(), root).is_err(), "{root}");
    }
    let target = |root: &str, sites: &str| VmTargetInfo {
        name: "prod".into(),
        root: root.into(),
        nginx_sites: sites.into(),
        lock_ttl_ms: 1,
        lock_path: format!("{root}/.ferry.lock"),
        keep: 1,
        postgres_image: None,
        acme: None,
        address: None,
        ssh_key_env: "FERRY_SECRET_SSH_KEY".into(),
        known_hosts_env: "FERRY_SECRET_KNOWN_HOSTS".into(),
    };
    assert!(deploy::check_target(&target("/srv", "/etc/nginx/conf.d")).is_ok());
    let error = deploy::check_target(&target("/srv", "/etc/nginx/conf.d;}")).unwrap_err();
    assert!(error.starts_with("[targets.vm.prod] nginx_sites"), "{error}");
}

#[test]
fn hostnames_and_tls_paths_written_into_nginx_are_checked() {
    let options = |hostnames: &[&str], tls: Option<(&str, &str)>| Options {
        image: ImageFrom::Build(VmBuild { dir: ".".into(), dockerfile: None, target: None, args: Vec::new(), ignorefile: None }),
        hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
        wait_timeout_ms: 1,
        tls: tls.map(|(certificate, key)| Tls { certificate: certificate.into(), key: key.into() }),
    };
    assert!(
        options(&["shop.example.com", "*.example.com"], Some(("/etc/letsencrypt/live/shop/fullchain.pem", "/etc/letsencrypt/live/shop/privkey.pem")))
            .check()
            .is_ok()
    );
    let error = options(&["shop.example.com;\n}\nserver { listen 80; root /; }"], None).check().unwrap_err();
    assert!(error.starts_with("hostname ") && !error.contains('\n'), "{error}");
    for (certificate, key) in [("cert.pem", "/k"), ("/etc/ssl/a;}", "/k"), ("/c", "/etc/ssl/k key"), ("/c", "/etc/../shadow"), ("/c", "/$KEY")] {
        assert!(options(&[], Some((certificate, key))).check().is_err(), "{certificate} {key}");
    }
}
