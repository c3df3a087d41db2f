//! `fly deploy`'s flags, as deploy step parameters, on real fly.toml files
//! and machine lists shaped like the Machines API's: each does to the
//! machines what flyctl does (or what ferry documents instead).

use ferry_fly_deploy::options::{NO_LIMIT_MS, SMOKE_CHECK_MS};
use ferry_fly_deploy::{Machine, Observed, Options, flag_files, plan};
use ferry_step_sdk::types::{Action, AppSpec, FlyMachines, FlyOp, IpKind, Operation, StepError};
use serde_json::{Value, json};

const IMAGE_V1: &str = "registry.fly.io/shop:v1";
const IMAGE_V2: &str = "registry.fly.io/shop:v2";

/// A web group with an HTTP service, a worker group, a release command,
/// and a file from fly.toml.
const SHOP: &str = r#"
app = "shop"
primary_region = "ams"
[env]
  LOG_LEVEL = "info"
[processes]
  web = "bin/web"
  worker = "bin/worker"
[deploy]
  release_command = "bin/migrate"
[[files]]
  guest_path = "/etc/shop/banner.txt"
  raw_value = "hello"
[http_service]
  internal_port = 8080
  processes = ["web"]
  [[http_service.checks]]
    interval = "1s"
    timeout = "1s"
    path = "/healthz"
"#;

fn app(toml: &str) -> AppSpec {
    ferry_inventory::inventory(&ferry_inventory::MemoryFiles::fly_toml(toml), None).expect("fly.toml parses")
}

fn options(app: &AppSpec, params: &[(&str, &str)]) -> Result<Options, StepError> {
    let mut all = vec![("image".to_string(), IMAGE_V2.to_string())];
    all.extend(params.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Options::from_params(app, &all)
}

/// Machines a deploy of `image` left, one per (id, group, region), with
/// `guest` as their size.
fn running(app: &AppSpec, image: &str, machines: &[(&str, &str, &str)], guest: Value) -> Observed {
    let o = Options::from_params(app, &[("image".into(), image.into())]).unwrap();
    let release = ferry_fly_deploy::release(app, &Observed::default(), image);
    let mut out = Observed::default();
    for (id, group, region) in machines {
        let spec = app.groups.iter().find(|g| g.name == *group).unwrap();
        let mut config = ferry_fly_deploy::config::launch_config(app, spec, &o.image, &release).unwrap();
        config["guest"] = guest.clone();
        let metadata = config["metadata"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
        out.machines.push(Machine {
            id: (*id).into(),
            name: (*id).into(),
            state: "started".into(),
            region: (*region).into(),
            image: image.into(),
            metadata,
            config,
        });
    }
    out
}

fn shared_1x() -> Value {
    json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256})
}

/// Every machine (id or launch id, config) the plan creates or updates.
fn machine_configs(actions: &[Action]) -> Vec<(String, Value)> {
    actions
        .iter()
        .filter_map(|a| match &a.operation {
            Operation::Fly(FlyOp::CreateMachines(b)) | Operation::Fly(FlyOp::UpdateMachines(b)) => Some(b),
            _ => None,
        })
        .flat_map(|b: &FlyMachines| b.machines.iter())
        .map(|m| (m.id.clone().or(m.launch_id.clone()).unwrap(), serde_json::from_str(&m.config).unwrap()))
        .collect()
}

fn updated_ids(actions: &[Action]) -> Vec<String> {
    let mut ids: Vec<String> = actions
        .iter()
        .filter_map(|a| match &a.operation {
            Operation::Fly(FlyOp::UpdateMachines(b)) => Some(b.machines.iter().filter_map(|m| m.id.clone()).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    ids.sort();
    ids
}

fn release_command(actions: &[Action]) -> (String, Value) {
    let rc = actions
        .iter()
        .find_map(|a| match &a.operation {
            Operation::Fly(FlyOp::ReleaseCommand(rc)) => Some(rc),
            _ => None,
        })
        .expect("a release command");
    (rc.region.clone(), serde_json::from_str(&rc.config).unwrap())
}

fn message(e: StepError) -> String {
    match e {
        StepError::InvalidInput(p) | StepError::PreconditionFailed(p) => p.message,
        other => panic!("{other:?}"),
    }
}

#[test]
fn regions_deploy_only_the_machines_there_and_leave_the_rest_as_they_are() {
    let a = app(SHOP);
    let observed = running(&a, IMAGE_V1, &[("w1", "web", "ams"), ("w2", "web", "ord"), ("k1", "worker", "ams")], shared_1x());

    let p = plan(&a, &observed, &options(&a, &[("regions", "ord")]).unwrap()).unwrap();
    assert_eq!(updated_ids(&p.actions), ["w2"], "only the ord machine changes");
    let note = p.findings.iter().find(|f| f.code == "machine-filter").expect("the filter is reported");
    assert_eq!(note.message, "--regions filter applied, deploying to 1/3 machines");
    assert!(
        p.findings.iter().any(|f| f.code == "machine-filter-group" && f.message.starts_with("process group `worker` has no machine")),
        "a group the filter empties is left alone, and said so: {:?}",
        p.findings
    );
    assert!(!p.actions.iter().any(|a| a.id == "create:worker"), "no new worker machines in primary_region (flyctl would create them)");

    let p = plan(&a, &observed, &options(&a, &[("exclude-regions", "ord")]).unwrap()).unwrap();
    assert_eq!(updated_ids(&p.actions), ["k1", "w1"]);

    let p = plan(&a, &observed, &options(&a, &[("only-machines", "w1,k1"), ("exclude-machines", "k1")]).unwrap()).unwrap();
    assert_eq!(updated_ids(&p.actions), ["w1"]);
    let note = p.findings.iter().find(|f| f.code == "machine-filter").unwrap();
    assert_eq!(note.message, "--only-machines/--exclude-machines filters applied, deploying to 1/3 machines");
}

#[test]
fn primary_region_moves_new_machines_the_release_command_and_primary_region_env() {
    let a = app(SHOP);
    let observed = running(&a, IMAGE_V1, &[("w1", "web", "ams"), ("w2", "web", "ams")], shared_1x());
    let p = plan(&a, &observed, &options(&a, &[("primary-region", "fra")]).unwrap()).unwrap();
    let (region, rc) = release_command(&p.actions);
    assert_eq!((region.as_str(), &rc["env"]["PRIMARY_REGION"]), ("fra", &json!("fra")));
    let Some(Operation::Fly(FlyOp::CreateMachines(worker))) = p.actions.iter().find(|a| a.id == "create:worker").map(|a| &a.operation) else {
        panic!("the worker group is new")
    };
    assert_eq!(worker.machines[0].region, "fra", "new machines go to the overriding region");
    for (id, config) in machine_configs(&p.actions) {
        assert_eq!(config["env"]["PRIMARY_REGION"], "fra", "PRIMARY_REGION on {id}, updated or new");
    }
    assert!(p.actions.iter().any(|a| matches!(a.operation, Operation::Fly(FlyOp::UpdateMachines(_)))), "existing machines are updated");
}

#[test]
fn env_flags_reach_every_machine_and_the_release_command_over_fly_toml() {
    let a = app(SHOP);
    let observed = running(&a, IMAGE_V1, &[("w1", "web", "ams")], shared_1x());
    let o = options(&a, &[("env", "LOG_LEVEL=debug\nFEATURE_X=on=1\nFLY_PROCESS_GROUP=nope")]).unwrap();
    let p = plan(&a, &observed, &o).unwrap();
    let configs = machine_configs(&p.actions);
    assert_eq!(configs.len(), 2, "the web machine updated, a worker created");
    for (id, config) in configs.iter().chain([&("release".to_string(), release_command(&p.actions).1)]) {
        assert_eq!(config["env"]["LOG_LEVEL"], "debug", "--env wins over [env] on {id}");
        assert_eq!(config["env"]["FEATURE_X"], "on=1", "split at the first `=` on {id}");
        assert_ne!(config["env"]["FLY_PROCESS_GROUP"], "nope", "the group is still written after the flags, as flyctl does ({id})");
    }
    let Err(e) = options(&a, &[("env", "JUST_A_NAME")]) else { panic!("a malformed --env must be refused") };
    assert_eq!(message(e), "env `JUST_A_NAME` must be in the format NAME=VALUE");
}

#[test]
fn vm_flags_size_only_the_machines_this_deploy_creates() {
    let a = app(SHOP);
    let big = json!({"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096});
    let observed = running(&a, IMAGE_V1, &[("w1", "web", "ams")], shared_1x());
    let o = options(&a, &[("vm-size", "performance-2x"), ("host-dedication-id", "dedic-1")]).unwrap();
    let p = plan(&a, &observed, &o).unwrap();
    let configs: std::collections::BTreeMap<String, Value> = machine_configs(&p.actions).into_iter().collect();
    assert_eq!(configs["w1"]["guest"], shared_1x(), "an existing machine keeps its size (flyctl never resizes on deploy)");
    let worker = configs.iter().find(|(k, _)| k.ends_with("-worker-0")).map(|(_, v)| v).expect("a new worker machine");
    assert_eq!(worker["guest"], json!({"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096, "host_dedication_id": "dedic-1"}));
    assert_eq!(release_command(&p.actions).1["guest"], configs["w1"]["guest"], "with web machines running, the release machine is not sized by the flags");

    let fresh = plan(&a, &Observed::default(), &o).unwrap();
    assert_eq!(release_command(&fresh.actions).1["guest"]["memory_mb"], 4096, "no web machine yet: the flags size the release machine");
    for (id, config) in machine_configs(&fresh.actions) {
        assert_eq!(config["guest"]["cpus"], 2, "{id}");
    }

    let sized = app(&format!("{SHOP}\n[[vm]]\n  size = \"shared-cpu-2x\"\n  processes = [\"worker\"]\n"));
    let p = plan(&sized, &running(&sized, IMAGE_V1, &[("w1", "web", "ams")], big), &options(&sized, &[("vm-memory", "8gb")]).unwrap()).unwrap();
    let worker = machine_configs(&p.actions).into_iter().find(|(k, _)| k.ends_with("-worker-0")).unwrap().1;
    assert_eq!(worker["guest"]["memory_mb"], 512, "a group with [[vm]] keeps fly.toml's size, as flyctl obeys [[vm]]");
}

#[test]
fn ha_false_creates_one_machine_for_a_new_group_with_services() {
    let a = app(SHOP);
    let count = |p: &ferry_fly_deploy::Planned, id: &str| match p.actions.iter().find(|a| a.id == id).map(|a| &a.operation) {
        Some(Operation::Fly(FlyOp::CreateMachines(b))) => b.machines.len(),
        _ => 0,
    };
    let p = plan(&a, &Observed::default(), &options(&a, &[]).unwrap()).unwrap();
    assert_eq!((count(&p, "create:web"), count(&p, "create:worker")), (2, 1), "flyctl's HA rule");
    let p = plan(&a, &Observed::default(), &options(&a, &[("ha", "false")]).unwrap()).unwrap();
    assert_eq!((count(&p, "create:web"), count(&p, "create:worker")), (1, 1));
}

#[test]
fn first_deploy_addresses_follow_no_public_ips_and_flycast() {
    let a = app(SHOP);
    let kinds = |params: &[(&str, &str)]| -> Vec<IpKind> {
        let p = plan(&a, &Observed::default(), &options(&a, params).unwrap()).unwrap();
        p.actions
            .iter()
            .filter_map(|x| match &x.operation {
                Operation::Fly(FlyOp::AllocateIp(ip)) => Some(ip.kind),
                _ => None,
            })
            .collect()
    };
    assert_eq!(kinds(&[]), [IpKind::V6, IpKind::SharedV4]);
    assert!(kinds(&[("no-public-ips", "true")]).is_empty());
    assert_eq!(kinds(&[("flycast", "true")]), [IpKind::PrivateV6]);
}

#[test]
fn retries_smoke_checks_and_no_limit_timeouts_reach_every_batch() {
    let a = app(SHOP);
    let observed = running(&a, IMAGE_V1, &[("w1", "web", "ams"), ("w2", "web", "ams")], shared_1x());
    let waits = |params: &[(&str, &str)]| {
        let p = plan(&a, &observed, &options(&a, params).unwrap()).unwrap();
        let rc_timeout = p.actions.iter().find_map(|x| match &x.operation {
            Operation::Fly(FlyOp::ReleaseCommand(rc)) => Some(rc.timeout_ms),
            _ => None,
        });
        let waits: Vec<_> = p
            .actions
            .iter()
            .filter_map(|x| match &x.operation {
                Operation::Fly(FlyOp::CreateMachines(b)) | Operation::Fly(FlyOp::UpdateMachines(b)) => Some(b.wait),
                _ => None,
            })
            .collect();
        (waits, rc_timeout)
    };
    let (defaults, rc) = waits(&[]);
    assert!(defaults.iter().all(|w| w.smoke_check_ms == SMOKE_CHECK_MS && w.retries == 0 && w.timeout_ms == 300_000), "{defaults:?}");
    assert_eq!(rc, Some(300_000));
    let (set, rc) = waits(&[("deploy-retries", "2"), ("smoke-checks", "false"), ("wait-timeout", "none"), ("release-command-timeout", "none")]);
    assert!(set.iter().all(|w| w.smoke_check_ms == 0 && w.retries == 2 && w.timeout_ms == NO_LIMIT_MS), "{set:?}");
    assert_eq!(rc, Some(NO_LIMIT_MS));
    let (immediate, _) = waits(&[("strategy", "immediate")]);
    assert!(immediate.iter().all(|w| !w.health && w.smoke_check_ms == 0), "immediate waits for nothing: {immediate:?}");
}

#[test]
fn flag_files_are_merged_over_fly_toml_files_on_every_machine_and_the_release_command() {
    let a = app(SHOP);
    let observed = running(&a, IMAGE_V1, &[("w1", "web", "ams")], shared_1x());
    let mut o = options(
        &a,
        &[
            ("file-local", "/etc/shop/app.conf=config/app.conf"),
            ("file-literal", "/etc/shop/banner.txt=hi from CI"),
            ("file-secret", "/etc/shop/key.pem=TLS_KEY"),
        ],
    )
    .unwrap();
    assert!(plan(&a, &observed, &o).is_err(), "a local file not read yet cannot be planned");
    flag_files::read_local(&mut o.files, |path| match path {
        "config/app.conf" => Ok(b"port = 8080\n".to_vec()),
        other => Err(format!("{other}: no such file in the checkout")),
    })
    .unwrap();
    let p = plan(&a, &observed, &o).unwrap();
    let expected = json!([
        {"guest_path": "/etc/shop/banner.txt", "raw_value": "aGkgZnJvbSBDSQ=="},
        {"guest_path": "/etc/shop/app.conf", "raw_value": "cG9ydCA9IDgwODAK"},
        {"guest_path": "/etc/shop/key.pem", "secret_name": "TLS_KEY"},
    ]);
    let configs = machine_configs(&p.actions);
    assert_eq!(configs.len(), 2);
    let web = &configs.iter().find(|(id, _)| id == "w1").unwrap().1;
    assert_eq!(web["files"], expected, "fly.toml's banner replaced in place, the others appended");
    // Which fly.toml files a group gets is config.rs's business; the flag
    // files reach every machine and the release command whatever it says.
    let by_path = |config: &Value| -> std::collections::BTreeMap<String, Value> {
        config["files"].as_array().unwrap().iter().map(|f| (f["guest_path"].as_str().unwrap().to_string(), f.clone())).collect()
    };
    for (id, config) in configs.iter().chain([&("release".to_string(), release_command(&p.actions).1)]) {
        assert_eq!(by_path(config), by_path(&json!({"files": expected})), "the flag files on {id}");
    }

    let o = options(&a, &[("file-literal", "/etc/shop/banner.txt=")]).unwrap();
    let p = plan(&a, &observed, &o).unwrap();
    assert!(machine_configs(&p.actions).iter().all(|(_, c)| c.get("files").is_none()), "an empty value deletes fly.toml's file");
}

#[test]
fn a_changed_flag_file_alone_is_a_deploy_and_the_same_one_is_not() {
    let a = app(SHOP);
    let params = [("file-literal", "/etc/motd=v1")];
    let first = plan(&a, &Observed::default(), &options(&a, &params).unwrap()).unwrap();
    let mut observed = Observed::default();
    for (id, config) in machine_configs(&first.actions) {
        let metadata = config["metadata"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
        observed.machines.push(Machine { name: id.clone(), id, state: "started".into(), region: "ams".into(), image: IMAGE_V2.into(), metadata, config });
    }
    let again = plan(&a, &observed, &options(&a, &params).unwrap()).unwrap();
    assert!(again.actions.is_empty(), "the same flags again: nothing to do ({:?})", again.actions.iter().map(|a| &a.id).collect::<Vec<_>>());
    let changed = plan(&a, &observed, &options(&a, &[("file-literal", "/etc/motd=v2")]).unwrap()).unwrap();
    assert_eq!(
        changed
            .actions
            .iter()
            .filter(|a| matches!(a.operation, Operation::Fly(FlyOp::UpdateMachines(_))))
            .map(|a| match &a.operation {
                Operation::Fly(FlyOp::UpdateMachines(b)) => b.machines.len(),
                _ => 0,
            })
            .sum::<usize>(),
        3,
        "every machine gets the new file"
    );
    // Release ids are the API's now; what names this deploy in launch ids is its key.
    let key = |literal: &str| ferry_fly_deploy::deploy_key(&a, IMAGE_V2, &options(&a, &[("file-literal", literal)]).unwrap().files);
    assert_ne!(key("/etc/motd=v1"), key("/etc/motd=v2"), "a new file is another deploy");
}

#[test]
fn update_only_creates_nothing_and_volume_initial_size_sizes_new_volumes() {
    let a = app(SHOP);
    let observed = running(&a, IMAGE_V1, &[("w1", "web", "ams")], shared_1x());
    let p = plan(&a, &observed, &options(&a, &[("update-only", "true")]).unwrap()).unwrap();
    assert!(!p.actions.iter().any(|x| matches!(x.operation, Operation::Fly(FlyOp::CreateMachines(_)))), "no machines for the new worker group");
    assert!(p.findings.iter().any(|f| f.code == "update-only" && f.message.contains("worker")));

    let with_volume = |initial: &str| app(&format!("{SHOP}\n[mounts]\n  source = \"data\"\n  destination = \"/data\"\n  processes = [\"worker\"]\n{initial}"));
    let size = |a: &AppSpec| {
        let p = plan(a, &observed, &options(a, &[("volume-initial-size", "20")]).unwrap()).unwrap();
        p.actions.iter().find_map(|x| match &x.operation {
            Operation::Fly(FlyOp::CreateVolume(v)) => Some(v.size_gb),
            _ => None,
        })
    };
    assert_eq!(size(&with_volume("")), Some(20), "the flag sizes a volume fly.toml does not size");
    assert_eq!(size(&with_volume("  initial_size = \"5gb\"\n")), Some(5), "[mounts].initial_size wins, as in flyctl");
}

#[test]
fn process_groups_must_name_a_group_and_a_typo_gets_a_suggestion() {
    let a = app(SHOP);
    let observed = running(&a, IMAGE_V1, &[("w1", "web", "ams"), ("o1", "web", "ams")], shared_1x());
    let e = plan(&a, &observed, &options(&a, &[("process-groups", "wrker")]).unwrap()).unwrap_err();
    assert_eq!(
        message(e),
        "process-groups: `wrker` is not a process group of fly.toml or of the app's machines (did you mean `worker`?); the groups are: web, worker"
    );
    let p = plan(&a, &observed, &options(&a, &[("process-groups", "worker")]).unwrap()).unwrap();
    assert!(p.actions.iter().any(|x| x.id == "create:worker"));
    let e = Options::from_params(&a, &[("image".into(), IMAGE_V2.into()), ("stratgy".into(), "canary".into())]).unwrap_err();
    assert!(message(e).starts_with("deploy has no parameter `stratgy` (did you mean `strategy`?)"));
}
