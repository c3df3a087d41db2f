//! parse-config through the real component: what the spine reads, and the
//! errors that name file, line, column and key.

use ferry_model::{AppKind, StepError, TargetKind};

use crate::support::{checkout, host, parse_config, request, runtime};

fn parse(files: &[(&str, &str)]) -> Result<ferry_model::AppSpec, StepError> {
    let co = checkout(files);
    runtime().plan(parse_config(), &host(co.path()), &request(&[])).unwrap().map(|p| p.app.expect("parse-config returns the app"))
}

#[test]
fn reads_the_spine_subset() {
    let app = parse(&[(
        "fly.toml",
        r#"
app = "shop"
primary_region = "fra"

[build]
image = "registry.fly.io/shop:v3"

[deploy]
strategy = "canary"
release_command = "bin/migrate"

[processes]
web = "bin/web"
worker = "bin/jobs --queue default"

[env]
PORT = 8080
DEBUG = false

[[services]]
internal_port = "9000"
protocol = "tcp"
processes = ["web"]
  [[services.ports]]
  port = 3_000
  handlers = ["http"]
  [[services.ports]]
  start_port = 10000
  end_port = 10010

[mounts]
source = "shop_data"
destination = "/data"
processes = ["worker"]
"#,
    )])
    .unwrap();
    assert_eq!(app.app.as_deref(), Some("shop"));
    assert_eq!(app.primary_region.as_deref(), Some("fra"));
    assert_eq!(app.build.image.as_deref(), Some("registry.fly.io/shop:v3"));
    assert_eq!(app.deploy.strategy.as_deref(), Some("canary"));
    assert_eq!(app.deploy.release_command.as_deref(), Some("bin/migrate"));
    let procs: Vec<(&str, &str)> = app.processes.iter().map(|p| (p.name.as_str(), p.command.as_str())).collect();
    assert_eq!(procs, [("web", "bin/web"), ("worker", "bin/jobs --queue default")]);
    assert_eq!(app.env, [("PORT".to_string(), "8080".to_string()), ("DEBUG".to_string(), "false".to_string())]);
    let svc = &app.services[0];
    assert_eq!(svc.internal_port, 9000, "a string port is read as flyctl casts it");
    assert_eq!(svc.ports[0].port, Some(3000), "3_000 is a TOML integer");
    assert_eq!((svc.ports[1].start_port, svc.ports[1].end_port), (Some(10000), Some(10010)));
    assert_eq!(svc.processes, ["web"]);
    assert_eq!(app.mounts.len(), 1, "[mounts] as a table is one mount");
    assert_eq!(app.mounts[0].destination, "/data");
    assert_eq!(app.kind, AppKind::MultiService);
    assert_eq!(app.recommended_target, TargetKind::Kubernetes);
}

#[test]
fn an_app_without_processes_has_the_default_group() {
    let app = parse(&[("fly.toml", "app = 'a'\n[http_service]\ninternal_port = 8080\n")]).unwrap();
    assert_eq!(app.processes.len(), 1);
    assert_eq!((app.processes[0].name.as_str(), app.processes[0].command.as_str()), ("app", ""));
    assert_eq!(app.kind, AppKind::SingleService);
    let ports: Vec<Option<u16>> = app.services[0].ports.iter().map(|p| p.port).collect();
    assert_eq!(ports, [Some(80), Some(443)]);
}

#[test]
fn invalid_toml_names_file_line_and_column() {
    let err = parse(&[("fly.toml", "app = \"a\"\n\n[http_service\ninternal_port = 8080\n")]).unwrap_err();
    let StepError::InvalidInput(p) = err else { panic!("{err:?}") };
    let at = p.location.unwrap();
    assert_eq!((at.file.as_str(), at.line, at.column), ("fly.toml", Some(3), Some(14)));
    assert!(p.message.starts_with("fly.toml is not valid TOML: "), "{}", p.message);
}

#[test]
fn a_wrong_type_names_the_key_path_and_the_expected_type() {
    // flyctl loads such a file and then refuses it in Validate: the rest is
    // still inventoried, and the error is a finding at the key.
    let app = parse(&[("fly.toml", "app = 'a'\n\n[[services]]\ninternal_port = 8080\n[[services.ports]]\nport = true\n")]).unwrap();
    let f = app.warnings.iter().find(|f| f.code == "invalid-config").expect("an invalid-config error");
    assert_eq!(f.severity, ferry_model::Severity::Error);
    assert_eq!(f.message, "`services[0].ports[0].port` must be a number, found a boolean; flyctl rejects this file");
    let at = f.location.as_ref().unwrap();
    assert_eq!((at.line, at.key.as_deref()), (Some(6), Some("services[0].ports[0].port")));
    assert_eq!(app.app.as_deref(), Some("a"));
}

#[test]
fn a_missing_config_is_a_clear_error() {
    let err = parse(&[("README.md", "hi")]).unwrap_err();
    assert_eq!(err.problem().message, "no fly.toml, fly.json, fly.yaml, fly.yml and no Heroku Procfile or app.json in the checkout");
}
