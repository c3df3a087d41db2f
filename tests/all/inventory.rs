//! parse-config through the real component, on every real-world file in
//! tests/corpus and every targeted case in tests/fixtures/inventory, with
//! snapshots of the app-specs (insta) and the findings each case must raise.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_model::{AppSpec, StepError};
use ferry_runtime::capabilities::fly::{CertificateInfo, FlyReader, IpInfo, MachineInfo, QueryError, VolumeInfo};
use ferry_runtime::{HostContext, LoadedStep, Runtime};

use crate::support::{checkout, ferry, repo, run};

/// parse-config, from the shared runtime.
struct ParseConfig {
    rt: &'static Runtime,
    step: &'static LoadedStep,
}

impl ParseConfig {
    fn new() -> Self {
        ParseConfig { rt: crate::support::runtime(), step: crate::support::parse_config() }
    }

    fn run(&self, host: &HostContext, params: &[(&str, &str)]) -> Result<AppSpec, StepError> {
        let request = crate::support::request(params);
        let plan = self.rt.plan(self.step, host, &request).expect("parse-config never traps")?;
        Ok(plan.app.expect("parse-config returns an app-spec"))
    }

    fn dir(&self, dir: &Path) -> Result<AppSpec, StepError> {
        self.run(&HostContext::for_checkout(dir), &[])
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

fn name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().replace('.', "_")
}

#[test]
fn every_corpus_app_loads_and_matches_its_snapshot() {
    let pc = ParseConfig::new();
    let corpus = repo().join("tests/corpus");
    let dirs: Vec<PathBuf> = subdirs(&corpus.join("fly")).into_iter().chain(subdirs(&corpus.join("heroku"))).collect();
    assert_eq!(dirs.len(), 55, "45 fly.toml apps and 10 Heroku apps");
    for dir in dirs {
        let app = pc.dir(&dir).unwrap_or_else(|e| panic!("{} does not load: {e}", dir.display()));
        assert!(!app.groups.is_empty(), "{}: every app has a process group", dir.display());
        insta::assert_json_snapshot!(format!("corpus__{}", name(&dir)), app);
    }
}

#[derive(serde::Deserialize)]
struct Cases {
    cases: std::collections::BTreeMap<String, Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    about: String,
    #[serde(default)]
    findings: Vec<String>,
    #[serde(default)]
    absent: Vec<String>,
    error: Option<String>,
    error_line: Option<u32>,
}

#[test]
fn every_fixture_case_raises_what_it_is_about() {
    let pc = ParseConfig::new();
    let root = repo().join("tests/fixtures/inventory");
    let cases: Cases = toml::from_str(&std::fs::read_to_string(root.join("cases.toml")).unwrap()).unwrap();
    let dirs = subdirs(&root);
    assert!(dirs.len() >= 40, "at least 40 fixture cases, found {}", dirs.len());
    for dir in &dirs {
        let case_name = dir.file_name().unwrap().to_string_lossy().to_string();
        let case = cases.cases.get(&case_name).unwrap_or_else(|| panic!("{case_name} has no entry in cases.toml"));
        let about = format!("{case_name} ({})", case.about);
        match (pc.dir(dir), &case.error) {
            (Ok(app), None) => {
                let codes: Vec<&str> = app.warnings.iter().map(|f| f.code.as_str()).collect();
                for code in &case.findings {
                    assert!(codes.contains(&code.as_str()), "{about}: expected finding `{code}`, got {codes:?}");
                }
                for code in &case.absent {
                    assert!(!codes.contains(&code.as_str()), "{about}: unexpected finding `{code}`");
                }
                insta::assert_json_snapshot!(format!("fixture__{}", name(dir)), app);
            }
            (Err(e), Some(expected)) => {
                let problem = e.problem();
                assert!(problem.message.contains(expected.as_str()), "{about}: error `{}` lacks `{expected}`", problem.message);
                if let Some(line) = case.error_line {
                    assert_eq!(problem.location.as_ref().and_then(|l| l.line), Some(line), "{about}: error line");
                }
                insta::assert_json_snapshot!(format!("fixture__{}", name(dir)), e);
            }
            (Ok(_), Some(expected)) => panic!("{about}: expected the error `{expected}`, but it loaded"),
            (Err(e), None) => panic!("{about}: expected it to load, got: {e}"),
        }
    }
    let unused: Vec<&String> = cases.cases.keys().filter(|k| !dirs.iter().any(|d| d.ends_with(k))).collect();
    assert!(unused.is_empty(), "cases.toml names cases without a directory: {unused:?}");
}

#[test]
fn a_config_over_one_mebibyte_is_refused() {
    let pc = ParseConfig::new();
    let big = format!("app = \"big\"\n{}", "# padding\n".repeat(110_000));
    let co = checkout(&[("fly.toml", &big)]);
    let err = pc.dir(co.path()).unwrap_err();
    assert!(err.problem().message.contains("larger than the 1048576-byte limit"), "{err}");
}

#[test]
fn the_config_param_picks_another_file() {
    let pc = ParseConfig::new();
    let co = checkout(&[("fly.toml", "app = 'staging'\n"), ("fly.production.toml", "app = 'production'\n")]);
    let host = HostContext::for_checkout(co.path());
    assert_eq!(pc.run(&host, &[]).unwrap().app.as_deref(), Some("staging"));
    assert_eq!(pc.run(&host, &[("config", "fly.production.toml")]).unwrap().app.as_deref(), Some("production"));
    let err = pc.run(&host, &[("config", "fly.staging.toml")]).unwrap_err();
    assert_eq!(err.problem().message, "fly.staging.toml not found in the checkout");
}

/// Stands in for the Fly provider (which has its own tests against the Fly
/// API emulator): what the API would report for an app spread over regions.
struct SpreadApp;

impl FlyReader for SpreadApp {
    fn list_machines(&self, app: &str) -> Result<Vec<MachineInfo>, QueryError> {
        assert_eq!(app, "shop");
        let m = |id: &str, region: &str, image: &str| MachineInfo {
            id: id.into(),
            name: id.into(),
            state: "started".into(),
            region: region.into(),
            image: image.into(),
            process_group: Some("app".into()),
            metadata: vec![],
            config: "{}".into(),
            cordoned: false,
        };
        Ok(vec![m("1", "ams", "shop:v1"), m("2", "iad", "shop:v1"), m("3", "iad", "shop:v2")])
    }
    fn list_volumes(&self, _: &str) -> Result<Vec<VolumeInfo>, QueryError> {
        Ok(vec![VolumeInfo { id: "v1".into(), name: "data".into(), region: "syd".into(), size_gb: 3, attached_machine: Some("1".into()) }])
    }
    fn list_secret_names(&self, _: &str) -> Result<Vec<String>, QueryError> {
        Ok(vec!["SECRET_KEY_BASE".into(), "DATABASE_URL".into()])
    }
    fn list_ips(&self, _: &str) -> Result<Vec<IpInfo>, QueryError> {
        Ok(vec![])
    }
    fn list_certificates(&self, _: &str) -> Result<Vec<CertificateInfo>, QueryError> {
        Ok(vec![])
    }
}

#[test]
fn live_state_adds_regions_images_volumes_and_secret_names() {
    let pc = ParseConfig::new();
    let co = checkout(&[("fly.toml", "app = 'shop'\n[[files]]\nguest_path = '/etc/key'\nsecret_name = 'TLS_KEY'\n"), ("Dockerfile", "FROM alpine\n")]);
    let host = HostContext { fly: Arc::new(SpreadApp), ..HostContext::for_checkout(co.path()) };
    let app = pc.run(&host, &[]).unwrap();
    let live = app.live.as_ref().unwrap();
    assert_eq!(live.regions, ["ams", "iad", "syd"]);
    assert_eq!(live.machines, 3);
    assert_eq!(live.images, ["shop:v1", "shop:v2"]);
    assert_eq!(live.volumes[0].name, "data");
    assert_eq!(app.secrets, ["DATABASE_URL", "SECRET_KEY_BASE", "TLS_KEY"], "names from Fly and from [[files]]");
    let multi = app.warnings.iter().find(|f| f.code == "multi-region").unwrap();
    assert!(multi.message.starts_with("the app runs in 3 regions (ams, iad, syd)"), "{}", multi.message);
    assert!(app.warnings.iter().any(|f| f.code == "mixed-images"));
    assert!(pc.run(&host, &[("live", "false")]).unwrap().live.is_none(), "live=false skips the API");
}

#[test]
fn inventory_json_has_the_fields_scripts_rely_on() {
    let cache = tempfile::tempdir().unwrap();
    let dir = repo().join("tests/corpus/fly/djangocon__djangoconus-automation");
    let (code, stdout, stderr) = run(ferry(cache.path()).args(["-q", "inventory", "--format", "json", "--dir"]).arg(&dir));
    assert_eq!(code, 0, "{stderr}");
    let app: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for field in [
        "app",
        "primary_region",
        "processes",
        "services",
        "checks",
        "mounts",
        "env",
        "secrets",
        "vm",
        "deploy",
        "build",
        "kind",
        "recommended_target",
        "warnings",
    ] {
        assert!(app.get(field).is_some(), "missing `{field}`");
    }
    assert!(app["processes"].is_object(), "processes is name -> command");
    let svc = &app["services"][0];
    for field in ["internal_port", "protocol", "ports", "processes"] {
        assert!(svc.get(field).is_some(), "services[0] lacks `{field}`");
    }
    assert!(svc["ports"][0].get("port").is_some() && svc["ports"][0].get("handlers").is_some());
    for field in ["strategy", "release_command", "max_unavailable"] {
        assert!(app["deploy"].get(field).is_some(), "deploy lacks `{field}`");
    }
    for field in ["image", "dockerfile"] {
        assert!(app["build"].get(field).is_some(), "build lacks `{field}`");
    }
    assert_eq!(app["kind"], "multi-service");
    assert_eq!(app["recommended_target"], "kubernetes");
}

#[test]
fn inventory_exits_1_on_a_config_flyctl_would_refuse() {
    let cache = tempfile::tempdir().unwrap();
    let co =
        checkout(&[("fly.toml", "app = 'x'\n[deploy]\nstrategy = 'canary'\n[[mounts]]\nsource = 'd'\ndestination = '/d'\n"), ("Dockerfile", "FROM alpine\n")]);
    let (code, stdout, stderr) = run(ferry(cache.path()).args(["-q", "inventory", "--dir"]).arg(co.path()));
    assert_eq!(code, 1);
    assert!(stdout.contains("error[canary-with-mounts]"), "the inventory is still printed: {stdout}");
    assert!(stderr.contains("error: fly.toml is not valid: fly.toml:3:12 (deploy.strategy): the canary strategy cannot be used with [mounts]"), "{stderr}");
}
