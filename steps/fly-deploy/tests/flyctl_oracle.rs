//! flyctl's own tests of the machine configs it builds, as data: each
//! directory of `tests/flyctl/` is one case of flyctl's
//! `internal/appconfig/machines_test.go` or
//! `internal/command/deploy/machines*_test.go` at flyctl `ad0172fac`
//! (fly.toml, the machine being updated, the exact `MachineConfig` and
//! `LaunchMachineInput` flyctl builds). `tests/flyctl/README.md` names the
//! Go test of each case and what ferry does with it.
//!
//! Each case runs ferry's counterpart of the Go function under test and
//! compares the whole JSON value, field for field, not only the fields the
//! Go test asserts. Before the comparison only these differences are set
//! aside, each a deliberate one documented in the README:
//!
//! - `metadata.fly_flyctl_version` (flyctl's build; ferry writes
//!   `ferry_version` instead, which is set aside on its side);
//! - check `headers`, which flyctl builds from a Go map in random order;
//! - a volume id flyctl took from its pool of unattached volumes for a new
//!   or replacing machine: ferry's host takes one when it creates the
//!   machine, so ferry's config names the volume but no id (asserted);
//! - a new machine's guest where flyctl's test stub passes none: real
//!   flyctl passes its shared-cpu-1x default, as ferry does (asserted).

use std::path::{Path, PathBuf};

use ferry_fly_deploy::Machine;
use ferry_fly_deploy::compare;
use ferry_fly_deploy::config::{self, Release, meta};
use ferry_step_sdk::types::{AppSpec, Severity, StepError};
use serde_json::{Value, json};

/// The image flyctl's deploy tests deploy (`stabMachineDeployment`).
const IMAGE: &str = "super/balloon";

/// Which flyctl function a case tests, so which of ferry's runs.
#[derive(Clone, Copy, Debug)]
enum Call {
    /// `Config.ToMachineConfig(group, src)` -> `config::to_machine_config`.
    ToMachineConfig(&'static str),
    /// `launchInputForLaunch` -> `config::launch_config`.
    Launch,
    /// `launchInputForUpdate` -> `config::update_config`.
    Update { replace: bool },
    /// `ToReleaseMachineConfig` -> `config::release_command_config`,
    /// without the deploy layer's image and release keys.
    ReleaseMachineConfig,
    /// `launchInputForReleaseCommand` -> `config::release_command_config`.
    ReleaseLaunch,
}

/// What ferry does with a case.
#[derive(Clone, Copy, Debug)]
enum Ferry {
    /// Runs it; the result must equal flyctl's.
    Runs(Call),
    /// Runs it, and flyctl's answer is wrong for ferry on purpose; the
    /// closure asserts what ferry does instead.
    Differs(Call, fn(&Case, &Outcome)),
    /// Tests something ferry has no counterpart of; the closure asserts
    /// what ferry does instead (e.g. the finding it reports).
    Elsewhere(fn(&AppSpec)),
}

/// ferry's result for a case.
#[derive(Debug)]
struct Outcome {
    result: Result<Value, StepError>,
    replace: Option<String>,
}

fn cases() -> Vec<(&'static str, Ferry)> {
    use Call::*;
    use Ferry::*;
    vec![
        ("to-machine-config-fresh", Runs(ToMachineConfig(""))),
        ("to-machine-config-update", Runs(ToMachineConfig(""))),
        ("experimental", Runs(ToMachineConfig(""))),
        ("experimental-processes-override", Runs(ToMachineConfig(""))),
        ("nullify-managed-fields", Runs(ToMachineConfig(""))),
        ("release-machine-config", Runs(ReleaseMachineConfig)),
        ("test-machine-config", Elsewhere(machine_checks_are_reported)),
        ("test-machine-config-kill-info", Elsewhere(machine_checks_are_reported)),
        ("test-machine-config-kill-info-orig-machine", Elsewhere(machine_checks_are_reported)),
        ("test-machine-config-kill-info-no-image-orig-machine", Elsewhere(machine_checks_are_reported)),
        ("test-machine-config-no-image-orig-machine", Elsewhere(machine_checks_are_reported)),
        ("test-machine-config-from-tomachine", Elsewhere(machine_checks_are_reported)),
        ("console-machine-config", Elsewhere(|_| {})),
        ("default-v2-flytoml", Runs(ToMachineConfig(""))),
        ("default-v2-flytoml-no-http-service", Runs(ToMachineConfig(""))),
        ("compute--app", Runs(ToMachineConfig("app"))),
        ("compute--worker", Runs(ToMachineConfig("worker"))),
        ("compute--whisper", Runs(ToMachineConfig("whisper"))),
        ("compute--isolated", Runs(ToMachineConfig("isolated"))),
        ("compute-none--app", Runs(ToMachineConfig("app"))),
        ("compute-none--woo", Runs(ToMachineConfig("woo"))),
        ("compute-none--bar", Runs(ToMachineConfig("bar"))),
        ("hostdedicationid--back", Runs(ToMachineConfig("back"))),
        ("hostdedicationid--front", Runs(ToMachineConfig("front"))),
        ("hostdedicationid--other", Runs(ToMachineConfig("other"))),
        ("mounts--default", Runs(ToMachineConfig(""))),
        ("mounts--app", Runs(ToMachineConfig("app"))),
        ("mounts--back", Runs(ToMachineConfig("back"))),
        ("mounts--hola", Runs(ToMachineConfig("hola"))),
        ("process-groups--app", Runs(ToMachineConfig("app"))),
        ("process-groups--vpn", Runs(ToMachineConfig("vpn"))),
        ("process-groups--foo", Runs(ToMachineConfig("foo"))),
        ("services", Runs(ToMachineConfig(""))),
        ("launchinput-basic-launch", Runs(Launch)),
        ("launchinput-basic-restart", Elsewhere(|_| {})),
        ("launchinput-basic-update", Runs(Update { replace: false })),
        ("launchinput-unreachable", Differs(Update { replace: true }, not_replaced_for_host_status)),
        ("launchinput-unreachable-volume", Differs(Update { replace: false }, not_refused_for_host_status)),
        ("launchinput-unreachable-volume-renamed", Runs(Update { replace: true })),
        ("launchinput-unreachable-hdid", Runs(Update { replace: true })),
        ("launchinput-mounts--launch", Runs(Launch)),
        ("launchinput-mounts--update-same", Runs(Update { replace: false })),
        ("launchinput-mounts--update-unnamed", Runs(Update { replace: false })),
        ("launchinput-mounts--update-name-mismatch", Runs(Update { replace: true })),
        ("launchinput-mounts--update-path-changed", Runs(Update { replace: false })),
        ("launchinput-mounts--update-mounts-removed", Runs(Update { replace: true })),
        ("launchinput-mounts-autoresize--launch", Runs(Launch)),
        ("launchinput-mounts-autoresize--update-same", Runs(Update { replace: false })),
        ("launchinput-mounts-autoresize--update-unnamed", Runs(Update { replace: false })),
        ("launchinput-mounts-autoresize--update-name-mismatch", Runs(Update { replace: true })),
        ("launchinput-mounts-autoresize--update-path-changed", Runs(Update { replace: false })),
        ("launchinput-mounts-autoresize--update-mounts-removed", Runs(Update { replace: true })),
        ("launchinput-keep-unmanaged-fields", Runs(Update { replace: false })),
        ("launchinput-keep-unmanaged-fields-restart", Elsewhere(|_| {})),
        ("launchinput-clear-standbys-with-services", Runs(Update { replace: false })),
        ("launchinput-launch-files", Runs(Launch)),
        ("launchinput-update-files", Runs(Update { replace: false })),
        ("resolve-updated-machine-config-basic", Runs(Launch)),
        ("resolve-release-command--app-launch", Runs(Launch)),
        ("resolve-release-command--release-machine", Runs(ReleaseLaunch)),
        ("resolve-release-command--release-machine-with-orig", Runs(ReleaseLaunch)),
        ("resolve-mounts--launch", Runs(Launch)),
        ("resolve-mounts--update", Runs(Update { replace: false })),
        ("resolve-restart-only", Elsewhere(|_| {})),
        ("resolve-restart-only-process-group", Elsewhere(|_| {})),
    ]
}

/// Every case of flyctl's tests, field for field.
#[test]
fn ferry_builds_the_configs_flyctl_builds() {
    let dirs = case_dirs();
    let listed: Vec<&str> = cases().iter().map(|(name, _)| *name).collect();
    let unlisted: Vec<&String> = dirs.iter().filter(|d| !listed.contains(&d.as_str())).collect();
    assert!(unlisted.is_empty(), "cases with no entry in cases(): {unlisted:?}");
    assert_eq!(listed.len(), dirs.len(), "a case listed twice, or listed without its directory");

    let mut failures = Vec::new();
    let (mut same, mut differs, mut elsewhere) = (0, 0, 0);
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for (name, ferry) in cases() {
        let case = Case::load(name);
        let outcome = std::panic::catch_unwind(|| match ferry {
            Ferry::Runs(call) => {
                let outcome = case.run(call);
                case.check(call, &outcome);
            }
            Ferry::Differs(call, assert) => assert(&case, &case.run(call)),
            Ferry::Elsewhere(assert) => assert(&case.app()),
        });
        match (outcome, ferry) {
            (Err(panic), _) => failures.push(format!("{name}: {}", panic_text(&panic))),
            (Ok(()), Ferry::Runs(_)) => same += 1,
            (Ok(()), Ferry::Differs(..)) => differs += 1,
            (Ok(()), Ferry::Elsewhere(_)) => elsewhere += 1,
        }
    }
    std::panic::set_hook(quiet);
    eprintln!(
        "flyctl oracle: {same} of {} cases give flyctl's config; {differs} differ on purpose, {elsewhere} test what ferry does elsewhere or not at all (tests/flyctl/README.md)",
        dirs.len()
    );
    assert!(failures.is_empty(), "{} case(s) differ from flyctl:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// A test machine for `machine_checks` is not something ferry makes: the
/// inventory says so instead.
fn machine_checks_are_reported(app: &AppSpec) {
    let finding = app.warnings.iter().find(|f| f.code == "machine-checks-not-run").expect("a machine-checks-not-run finding");
    assert_eq!(finding.severity, Severity::Warning);
    assert!(finding.message.contains("does not run them"), "{}", finding.message);
}

/// flyctl replaces a machine whose host is unreachable; ferry's machine
/// list carries no host status, so it updates it, with flyctl's config.
fn not_replaced_for_host_status(case: &Case, o: &Outcome) {
    assert!(o.replace.is_none(), "{:?}", o.replace);
    case.check(Call::Update { replace: false }, o);
}

/// flyctl refuses to replace an unreachable machine whose volume is on
/// the dead host; ferry sees no host status and plans an update.
fn not_refused_for_host_status(_: &Case, o: &Outcome) {
    let config = o.result.as_ref().expect("an update");
    assert_eq!(config["mounts"][0]["volume"], "vol_attached", "the volume stays");
    assert!(o.replace.is_none());
}

/// One case directory.
struct Case {
    name: &'static str,
    dir: PathBuf,
}

impl Case {
    fn load(name: &'static str) -> Case {
        Case { name, dir: root().join(name) }
    }

    fn text(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(file)).ok()
    }

    fn json(&self, file: &str) -> Option<Value> {
        self.text(file).map(|t| serde_json::from_str(&t).unwrap_or_else(|e| panic!("{}/{file}: {e}", self.name)))
    }

    fn app(&self) -> AppSpec {
        let toml = self.text("fly.toml").expect("fly.toml");
        ferry_inventory::inventory(&ferry_inventory::MemoryFiles::fly_toml(toml), None).unwrap_or_else(|e| panic!("fly.toml: {e:?}"))
    }

    /// The machine the case updates, as the Machines API lists it (fly-go's
    /// `GetConfig`: `incomplete_config` when the host is not ok).
    fn machine(&self) -> Option<Machine> {
        let m = self.json("current-machine.json")?;
        let config = m.get("config").or(m.get("incomplete_config")).cloned().unwrap_or(json!({}));
        let metadata = config["metadata"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default();
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Some(Machine {
            id: text("id"),
            name: text("name"),
            state: text("state"),
            region: text("region"),
            image: config["image"].as_str().unwrap_or_default().into(),
            metadata,
            config,
        })
    }

    /// `md.releaseId`/`md.releaseVersion` of the deploy tests ("" and 0 when
    /// the test sets none), read back from what flyctl wrote.
    fn release(&self) -> Release {
        let expected = self.json("expected.json").unwrap_or(json!({}));
        let text = |k: &str| expected["metadata"][k].as_str().unwrap_or_default().to_string();
        Release { id: text(meta::RELEASE_ID), version: text(meta::RELEASE_VERSION).parse().unwrap_or(0) }
    }

    fn group<'a>(&self, app: &'a AppSpec, name: &str) -> &'a ferry_step_sdk::types::ProcessGroup {
        let name = if name.is_empty() { app.groups.first().map(|g| g.name.as_str()).unwrap_or("app") } else { name };
        app.groups.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("no group {name}"))
    }

    fn run(&self, call: Call) -> Outcome {
        let app = self.app();
        let release = self.release();
        let image = self.image();
        let image = image.as_str();
        let plain = |result| Outcome { result, replace: None };
        match call {
            Call::ToMachineConfig(group) => plain(config::to_machine_config(&app, self.group(&app, group), self.json("current.json").as_ref())),
            Call::Launch => plain(config::launch_config(&app, self.group(&app, ""), image, &release)),
            Call::Update { .. } => {
                let machine = self.machine().expect("current-machine.json");
                let group = machine.group(&app.groups[0].name).to_string();
                match config::update_config(&app, self.group(&app, &group), image, &release, &machine) {
                    Ok(u) => Outcome { result: Ok(u.config), replace: u.replace },
                    Err(e) => plain(Err(e)),
                }
            }
            Call::ReleaseMachineConfig | Call::ReleaseLaunch => {
                let command = app.deploy.release_command.clone().expect("a release_command");
                plain(Ok(config::release_command_config(&app, &command, image, &release, &[])))
            }
        }
    }

    /// ferry's outcome against flyctl's files.
    fn check(&self, call: Call, outcome: &Outcome) {
        if let Some(error) = self.text("expected-error.txt") {
            match &outcome.result {
                Err(StepError::InvalidInput(p) | StepError::PreconditionFailed(p)) => assert_eq!(p.message, error.trim()),
                other => panic!("flyctl fails with {error:?}; ferry: {other:?}"),
            }
            return;
        }
        let mut ours = outcome.result.as_ref().unwrap_or_else(|e| panic!("flyctl builds a config; ferry fails: {e:?}")).clone();
        if let Call::Update { replace } = call {
            assert_eq!(outcome.replace.is_some(), replace, "replacement: {:?}", outcome.replace);
        }
        if let Call::ReleaseMachineConfig = call {
            // ToReleaseMachineConfig stops before the deploy layer.
            ours.as_object_mut().unwrap().remove("image");
            for key in [meta::RELEASE_ID, meta::RELEASE_VERSION] {
                ours["metadata"].as_object_mut().unwrap().remove(key);
            }
        }
        let theirs = self.json("expected.json").expect("expected.json");
        assert_same(&self.set_aside(call, theirs, &ours), &normal(ours.clone()));
        if let Some(input) = self.json("expected-launch-input.json") {
            assert_same(&self.set_aside(call, input["config"].clone(), &ours), &normal(ours));
            self.check_launch_input(call, &input);
        }
    }

    /// flyctl's config with the deliberate differences set aside.
    fn set_aside(&self, call: Call, mut theirs: Value, ours: &Value) -> Value {
        let pool: Vec<String> =
            self.json("volumes.json").map(|v| v.as_array().unwrap().iter().filter_map(|v| v["id"].as_str().map(str::to_string)).collect()).unwrap_or_default();
        match call {
            Call::Update { replace: true } => from_the_pool(&mut theirs, ours, &pool),
            Call::Launch => {
                from_the_pool(&mut theirs, ours, &pool);
                default_guest(&mut theirs, ours);
            }
            Call::Update { replace: false } | Call::ToMachineConfig(_) | Call::ReleaseMachineConfig | Call::ReleaseLaunch => {}
        }
        normal(theirs)
    }

    /// The image the Go test deploys (`md.img`).
    fn image(&self) -> String {
        self.json("expected.json").and_then(|e| e["image"].as_str().map(str::to_string)).unwrap_or_else(|| IMAGE.into())
    }

    /// The `LaunchMachineInput` fields ferry's plan carries beside the
    /// config: the region and whether the machine is left stopped (the
    /// rollout's rules, `rollout.rs`); `skip_secrets` is always false.
    fn check_launch_input(&self, call: Call, input: &Value) {
        let app = self.app();
        assert_eq!(input["skip_secrets"], json!(false));
        let (region, skip_launch) = match call {
            Call::Launch => (app.primary_region.clone().unwrap_or_default(), false),
            Call::Update { .. } => {
                let m = self.machine().unwrap();
                (m.region.clone(), !m.is_warm())
            }
            // The release command's region and stopped launch are the
            // host's (ferry's action names the primary region, else a
            // machine's; see the README).
            Call::ReleaseLaunch => return,
            Call::ToMachineConfig(_) | Call::ReleaseMachineConfig => unreachable!("no launch input"),
        };
        assert_eq!(input["region"].as_str().unwrap_or_default(), region, "region");
        assert_eq!(input["skip_launch"].as_bool().unwrap_or(false), skip_launch, "skip_launch");
    }
}

/// flyctl took the mount's volume id from its pool; ferry names the
/// volume and leaves the id to the host's create.
fn from_the_pool(theirs: &mut Value, ours: &Value, pool: &[String]) {
    if let Some(id) = theirs.pointer("/mounts/0/volume").and_then(Value::as_str)
        && pool.iter().any(|p| p == id)
    {
        assert!(ours.pointer("/mounts/0/volume").is_none(), "ferry's new machine names no volume id: {ours}");
        theirs["mounts"][0].as_object_mut().unwrap().remove("volume");
    }
}

/// flyctl's test stub launches with no guest; real flyctl passes its
/// shared-cpu-1x default, which ferry sends.
fn default_guest(theirs: &mut Value, ours: &Value) {
    if theirs.get("guest").is_none() {
        assert_eq!(ours["guest"], json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}));
        theirs["guest"] = ours["guest"].clone();
    }
}

/// The deliberate differences set aside (see the module docs).
fn normal(mut config: Value) -> Value {
    if let Some(m) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove(meta::FLYCTL_VERSION);
        m.remove(meta::FERRY_VERSION);
    }
    sort_headers(&mut config);
    config
}

fn sort_headers(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "headers"
                    && let Value::Array(items) = child
                {
                    items.sort_by_key(|h| h.to_string());
                }
                sort_headers(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_headers),
        _ => {}
    }
}

fn assert_same(theirs: &Value, ours: &Value) {
    if theirs != ours {
        panic!(
            "flyctl:\n{}\nferry:\n{}\ndiffering fields: {}",
            serde_json::to_string_pretty(theirs).unwrap(),
            serde_json::to_string_pretty(ours).unwrap(),
            diff("", theirs, ours).join(", ")
        );
    }
}

fn diff(at: &str, a: &Value, b: &Value) -> Vec<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().flat_map(|k| diff(&format!("{at}/{k}"), x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null))).collect()
        }
        _ if a == b => Vec::new(),
        _ => vec![if at.is_empty() { "/".into() } else { at.to_string() }],
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flyctl")
}

fn case_dirs() -> Vec<String> {
    let mut dirs: Vec<String> =
        std::fs::read_dir(root()).unwrap().filter_map(|e| e.ok()).filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    dirs.sort();
    dirs
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

/// A second deploy of the same image and fly.toml, against machines whose
/// configs come back the way the API echoes them, changes nothing.
#[test]
fn an_unchanged_app_is_up_to_date_against_the_apis_echo() {
    let case = Case::load("to-machine-config-fresh");
    let app = case.app();
    let release = Release { id: "r1".into(), version: 1 };
    let sent = config::launch_config(&app, &app.groups[0], IMAGE, &release).unwrap();
    let echoed = api_echo(&sent);
    assert_ne!(sent, echoed, "the echo differs from what was sent");
    let machine = Machine {
        id: "m1".into(),
        name: "m1".into(),
        state: "started".into(),
        region: "mia".into(),
        image: IMAGE.into(),
        metadata: vec![(meta::PLATFORM_VERSION.into(), "v2".into()), (meta::PROCESS_GROUP.into(), "app".into())],
        config: echoed.clone(),
    };
    let next = Release { id: "r2".into(), version: 2 };
    let updated = config::update_config(&app, &app.groups[0], IMAGE, &next, &machine).unwrap();
    assert!(updated.replace.is_none());
    assert!(compare::up_to_date(&updated.config, &echoed), "{}\nvs\n{}", updated.config, echoed);
    let other_image = config::update_config(&app, &app.groups[0], "super/balloon:2", &next, &machine).unwrap();
    assert!(!compare::up_to_date(&other_image.config, &echoed), "a new image is a change");
}

/// What the Machines API returns for a config it was sent, as fly-go and
/// Fly's documented responses show it: autostop as a boolean, durations
/// re-spelt, empty fields filled in (`restart.policy ""`, `init` with
/// nulls, `dns: {}`), `force_instance_key` dropped.
fn api_echo(sent: &Value) -> Value {
    let mut echo = sent.clone();
    if let Some(services) = echo.get_mut("services").and_then(Value::as_array_mut) {
        for s in services {
            s.as_object_mut().unwrap().remove("force_instance_key");
            s["autostop"] = json!(false);
        }
    }
    if let Some(checks) = echo.get_mut("checks").and_then(Value::as_object_mut) {
        for check in checks.values_mut() {
            if check.get("interval").is_some() {
                check["interval"] = json!(10_000_000_000u64);
            }
        }
    }
    echo["stop_config"]["timeout"] = json!("0m10s");
    echo["init"] = json!({"exec": null, "entrypoint": null, "cmd": null, "tty": false, "swap_size_mb": 512});
    echo["restart"]["max_retries"] = json!(0);
    echo["statics"][0]["tigris_bucket"] = echo["statics"][0]["tigris_bucket"].clone();
    echo["auto_destroy"] = json!(false);
    echo["metadata"][meta::LAUNCH_ID] = json!("launch-1");
    echo
}
