//! The deploy planner on real fly.toml files (read by the inventory) and
//! machine lists shaped like the Machines API's: which actions each
//! strategy proposes, in which order, with which undo.

use ferry_fly_deploy::{Machine, Observed, Options, Planned, Strategy};
use ferry_step_sdk::host::fly::{IpInfo, VolumeInfo};
use ferry_step_sdk::types::{Action, AppSpec, FlyOp, Operation, StepError, Undo};
use serde_json::{Value, json};

const WEB_AND_WORKER: &str = r#"
app = "shop"
primary_region = "ams"
[processes]
  web = "bin/web"
  worker = "bin/worker"
[deploy]
  release_command = "bin/migrate"
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

fn options(strategy: Strategy) -> Options {
    let mut o = Options::from_params(&app(WEB_AND_WORKER), &[("image".into(), "registry.fly.io/shop:v2".into())]).unwrap();
    o.strategy = strategy;
    o
}

/// Machines as `deploy` left them for `image`, in `state`.
fn machines(app: &AppSpec, image: &str, per_group: &[(&str, usize)], state: &str) -> Observed {
    let o = Options::from_params(app, &[("image".into(), image.into())]).unwrap();
    let release = ferry_fly_deploy::release(app, &Observed::default(), image);
    let mut out = Observed::default();
    for (group, n) in per_group {
        let spec = app.groups.iter().find(|g| g.name == *group).unwrap();
        for i in 0..*n {
            let config = ferry_fly_deploy::config::launch_config(app, spec, &o.image, &release).unwrap();
            out.machines.push(machine(&format!("{group}{i:02}"), state, config));
        }
    }
    out
}

fn machine(id: &str, state: &str, config: Value) -> Machine {
    let metadata = config["metadata"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    Machine { id: id.into(), name: id.into(), state: state.into(), region: "ams".into(), image: config["image"].as_str().unwrap().into(), metadata, config }
}

/// The deploy's plan without its release record's two actions, after
/// checking they open and close it (a plan that changes nothing has none).
fn plan(app: &AppSpec, observed: &Observed, options: &Options) -> Result<Planned, StepError> {
    let mut planned = ferry_fly_deploy::plan(app, observed, options)?;
    if !planned.actions.is_empty() {
        assert_eq!(planned.actions.first().map(|a| a.id.as_str()), Some("release:create"));
        assert_eq!(planned.actions.last().map(|a| a.id.as_str()), Some("release:complete"));
        planned.actions.remove(0);
        planned.actions.pop();
    }
    Ok(planned)
}

fn ids(actions: &[Action]) -> Vec<&str> {
    actions.iter().map(|a| a.id.as_str()).collect()
}

fn batch_sizes(actions: &[Action]) -> Vec<usize> {
    actions
        .iter()
        .filter_map(|a| match &a.operation {
            Operation::Fly(FlyOp::UpdateMachines(b)) => Some(b.machines.len()),
            _ => None,
        })
        .collect()
}

#[test]
fn first_deploy_creates_each_group_with_the_ha_rule_and_addresses() {
    let a = app(WEB_AND_WORKER);
    let p = plan(&a, &Observed::default(), &options(Strategy::Rolling)).unwrap();
    assert_eq!(ids(&p.actions), ["release-command", "ip:v6", "ip:shared_v4", "create:web", "create:worker"]);
    let Operation::Fly(FlyOp::CreateMachines(web)) = &p.actions[3].operation else { panic!() };
    assert_eq!(web.machines.len(), 2, "a group with services gets two machines");
    let Operation::Fly(FlyOp::CreateMachines(worker)) = &p.actions[4].operation else { panic!() };
    assert_eq!(worker.machines.len(), 1);
    let config: Value = serde_json::from_str(&web.machines[0].config).unwrap();
    assert_eq!(config["image"], "registry.fly.io/shop:v2");
    assert_eq!(config["metadata"]["fly_platform_version"], "v2");
    assert_eq!(config["metadata"]["fly_process_group"], "web");
    // flyctl's "no release" values: the host writes the id and version the
    // release API assigns when the deploy runs.
    assert_eq!(config["metadata"]["fly_release_id"], "");
    assert_eq!(config["metadata"]["fly_release_version"], "0");
    assert_eq!(config["init"]["cmd"], json!(["bin/web"]));
    assert_eq!(config["env"]["FLY_PROCESS_GROUP"], "web");
    assert_eq!(config["services"][0]["internal_port"], 8080);
    assert_eq!(config["services"][0]["checks"][0]["path"], "/healthz");
    assert!(web.machines.iter().all(|m| m.launch_id.is_some()), "creates are idempotent by launch id");
    assert!(matches!(p.actions[3].undo, Undo::RestorePrevious));
    assert!(matches!(p.actions[0].undo, Undo::None(_)), "a release command cannot be undone");
}

#[test]
fn an_unchanged_app_plans_nothing() {
    let a = app(WEB_AND_WORKER);
    let observed = machines(&a, "registry.fly.io/shop:v2", &[("web", 2), ("worker", 1)], "started");
    let p = plan(&a, &observed, &options(Strategy::Rolling)).unwrap();
    assert!(p.actions.is_empty(), "{:?}", ids(&p.actions));
    assert!(p.findings.iter().any(|f| f.code == "up-to-date"));
}

#[test]
fn rolling_runs_a_spearhead_then_pools_of_max_unavailable_side_by_side() {
    let a = app(WEB_AND_WORKER);
    let observed = machines(&a, "registry.fly.io/shop:v1", &[("web", 10), ("worker", 4)], "started");
    let p = plan(&a, &observed, &options(Strategy::Rolling)).unwrap();
    assert_eq!(p.actions[0].id, "release-command");
    // web: 1 + ceil(10 x 0.33)=4 per pool over 9 -> 1, 4, 4, 1; worker: 1 + pools of 2 over 3 -> 1, 2, 1.
    assert_eq!(batch_sizes(&p.actions), [2, 6, 5, 1]);
    assert!(p.actions[1].summary.contains("spearhead"), "{}", p.actions[1].summary);
    let detail = p.actions[1].detail.as_deref().unwrap();
    assert!(detail.contains("image registry.fly.io/shop:v1 -> registry.fly.io/shop:v2"), "{detail}");
    let Operation::Fly(FlyOp::UpdateMachines(b)) = &p.actions[1].operation else { panic!() };
    assert!(b.wait.health && b.wait.timeout_ms == 300_000);
    let config: Value = serde_json::from_str(&b.machines[0].config).unwrap();
    assert_eq!(config["metadata"]["fly_release_version"], "0", "the API numbers the release, not the plan");
}

#[test]
fn stopped_machines_update_together_and_stay_stopped() {
    let a = app(WEB_AND_WORKER);
    let mut observed = machines(&a, "registry.fly.io/shop:v1", &[("web", 3)], "started");
    observed.machines[2].state = "stopped".into();
    let p = plan(&a, &observed, &options(Strategy::Rolling)).unwrap();
    assert_eq!(ids(&p.actions), ["release-command", "create:worker", "update:stopped:0", "update:0", "update:1"]);
    let Operation::Fly(FlyOp::UpdateMachines(cold)) = &p.actions[2].operation else { panic!() };
    assert_eq!((cold.machines.len(), cold.machines[0].skip_launch), (1, true));
}

#[test]
fn immediate_updates_everything_in_one_action_without_waiting() {
    let a = app(WEB_AND_WORKER);
    let observed = machines(&a, "registry.fly.io/shop:v1", &[("web", 3), ("worker", 2)], "started");
    let p = plan(&a, &observed, &options(Strategy::Immediate)).unwrap();
    assert_eq!(ids(&p.actions), ["release-command", "update:all"]);
    let Operation::Fly(FlyOp::UpdateMachines(b)) = &p.actions[1].operation else { panic!() };
    assert_eq!((b.machines.len(), b.wait.health), (5, false));
}

#[test]
fn canary_adds_a_machine_per_group_before_the_rolling_update() {
    let a = app(WEB_AND_WORKER);
    let observed = machines(&a, "registry.fly.io/shop:v1", &[("web", 2), ("worker", 1)], "started");
    let p = plan(&a, &observed, &options(Strategy::Canary)).unwrap();
    assert_eq!(&ids(&p.actions)[..3], ["release-command", "canary:create", "canary:destroy"]);
    let Operation::Fly(FlyOp::CreateMachines(c)) = &p.actions[1].operation else { panic!() };
    assert_eq!(c.machines.len(), 2);
    assert!(c.machines.iter().all(|m| m.skip_service_registration));
    let config: Value = serde_json::from_str(&c.machines[0].config).unwrap();
    assert_eq!(config["metadata"]["fly_canary"], "true");
    let Operation::Fly(FlyOp::DestroyMachines(d)) = &p.actions[2].operation else { panic!() };
    assert_eq!(d.launch_ids.len(), 2, "the canaries are named by launch id");
    assert!(p.actions[3..].iter().all(|a| a.id.starts_with("update:")));
}

#[test]
fn canary_with_a_volume_is_refused() {
    let toml = format!("{WEB_AND_WORKER}\n[[mounts]]\n  source = 'data'\n  destination = '/data'\n  processes = ['worker']\n");
    let a = app(&toml);
    let observed = machines(&a, "registry.fly.io/shop:v1", &[("web", 1), ("worker", 1)], "started");
    let err = plan(&a, &observed, &options(Strategy::Canary)).unwrap_err();
    let StepError::PreconditionFailed(p) = err else { panic!("{err:?}") };
    assert!(p.message.contains("canary strategy cannot be used with volumes"), "{}", p.message);
}

#[test]
fn bluegreen_brings_greens_in_before_blues_leave() {
    let a = app(WEB_AND_WORKER);
    let observed = machines(&a, "registry.fly.io/shop:v1", &[("web", 2)], "started");
    let mut o = options(Strategy::Bluegreen);
    o.groups = vec!["web".into()];
    let p = plan(&a, &observed, &o).unwrap();
    assert_eq!(
        ids(&p.actions),
        [
            "release-command",
            "bluegreen:create-greens",
            "bluegreen:greens-in",
            "bluegreen:mark-blues",
            "bluegreen:drain-1",
            "bluegreen:blues-out",
            "bluegreen:drain-2",
            "bluegreen:destroy-blues"
        ]
    );
    let Operation::Fly(FlyOp::CreateMachines(g)) = &p.actions[1].operation else { panic!() };
    assert!(g.machines.iter().all(|m| m.skip_service_registration && m.launch_id.as_deref().unwrap().contains("-green-web0")));
    assert!(matches!(&p.actions[2].undo, Undo::Run(Operation::Fly(FlyOp::Cordon(_)))), "greens-in is undone by cordoning them");
    assert!(matches!(&p.actions[5].undo, Undo::Run(Operation::Fly(FlyOp::Uncordon(_)))), "blues-out is undone by uncordoning them");
    assert!(matches!(&p.actions[7].undo, Undo::RestorePrevious), "destroyed blues are recreated on rollback");
}

#[test]
fn bluegreen_needs_a_health_check() {
    let toml = "app = 'shop'\nprimary_region = 'ams'\n[http_service]\n  internal_port = 8080\n";
    let a = app(toml);
    let observed = machines(&a, "registry.fly.io/shop:v1", &[("app", 2)], "started");
    let err = plan(&a, &observed, &options(Strategy::Bluegreen)).unwrap_err();
    assert!(format!("{err:?}").contains("needs at least one health check"), "{err:?}");
}

#[test]
fn a_group_gone_from_fly_toml_loses_its_machines() {
    let a = app(WEB_AND_WORKER);
    let mut observed = machines(&a, "registry.fly.io/shop:v2", &[("web", 2), ("worker", 1)], "started");
    let mut old = observed.machines[2].clone();
    old.id = "cron00".into();
    old.metadata.iter_mut().filter(|(k, _)| k == "fly_process_group").for_each(|(_, v)| *v = "cron".into());
    observed.machines.push(old);
    let p = plan(&a, &observed, &options(Strategy::Rolling)).unwrap();
    assert_eq!(ids(&p.actions), ["release-command", "destroy:removed-groups"]);
    let Operation::Fly(FlyOp::DestroyMachines(d)) = &p.actions[1].operation else { panic!() };
    assert_eq!(d.ids, ["cron00"]);
}

#[test]
fn machines_without_platform_metadata_are_left_alone_and_reported() {
    let a = app(WEB_AND_WORKER);
    let mut observed = machines(&a, "registry.fly.io/shop:v2", &[("web", 2), ("worker", 1)], "started");
    let mut manual = observed.machines[0].clone();
    manual.id = "byhand".into();
    manual.metadata.clear();
    observed.machines.push(manual);
    let p = plan(&a, &observed, &options(Strategy::Rolling)).unwrap();
    assert!(p.actions.is_empty());
    let f = p.findings.iter().find(|f| f.code == "unmanaged-machines").unwrap();
    assert!(f.message.contains("byhand"), "{}", f.message);
}

#[test]
fn a_new_group_with_a_volume_gets_one_machine_and_its_volume() {
    let toml = format!("{WEB_AND_WORKER}\n[[mounts]]\n  source = 'data'\n  destination = '/data'\n  initial_size = '3gb'\n  processes = ['worker']\n");
    let a = app(&toml);
    let mut observed = Observed::default();
    observed.ips.push(IpInfo { address: "2001:db8::1".into(), kind: "v6".into(), region: "global".into() });
    observed.volumes.push(VolumeInfo { id: "vol_1".into(), name: "other".into(), region: "ams".into(), size_gb: 1, attached_machine: None });
    let p = plan(&a, &observed, &options(Strategy::Rolling)).unwrap();
    assert_eq!(ids(&p.actions), ["release-command", "create:web", "volume:data:ams:0", "create:worker"], "addresses exist already");
    let Operation::Fly(FlyOp::CreateVolume(v)) = &p.actions[2].operation else { panic!() };
    assert_eq!((v.name.as_str(), v.size_gb), ("data", 3));
    // flyctl's placement hints: the mounting machine's guest and image.
    let guest: Value = serde_json::from_str(v.compute.as_deref().expect("the worker's guest")).unwrap();
    assert!(guest["memory_mb"].is_u64(), "{guest}");
    assert_eq!(v.compute_image.as_deref(), Some("registry.fly.io/shop:v2"));
    assert_eq!((v.snapshot_retention, v.auto_backup), (None, None), "Fly's defaults when fly.toml says nothing");
    let Operation::Fly(FlyOp::CreateMachines(w)) = &p.actions[3].operation else { panic!() };
    let config: Value = serde_json::from_str(&w.machines[0].config).unwrap();
    assert_eq!(config["mounts"], json!([{"path": "/data", "name": "data"}]), "the host picks the volume at apply time");
}

/// flyctl's `deploy_first.go` sends the mount's `snapshot_retention` and
/// `scheduled_snapshots` (as `auto_backup_enabled`) with the volume it creates.
#[test]
fn a_new_volume_keeps_the_mounts_snapshot_settings() {
    let toml = format!(
        "{WEB_AND_WORKER}\n[[mounts]]\n  source = 'data'\n  destination = '/data'\n  processes = ['worker']\n  snapshot_retention = 14\n  scheduled_snapshots = false\n"
    );
    let p = plan(&app(&toml), &Observed::default(), &options(Strategy::Rolling)).unwrap();
    let volume = p.actions.iter().find_map(|a| match &a.operation {
        Operation::Fly(FlyOp::CreateVolume(v)) => Some(v),
        _ => None,
    });
    let v = volume.expect("a volume for the worker");
    assert_eq!((v.snapshot_retention, v.auto_backup), (Some(14), Some(false)));
}

#[test]
fn an_update_keeps_the_machines_volume_and_size() {
    let toml = format!("{WEB_AND_WORKER}\n[[mounts]]\n  source = 'data'\n  destination = '/data'\n  processes = ['worker']\n");
    let a = app(&toml);
    let mut observed = machines(&a, "registry.fly.io/shop:v1", &[("web", 1), ("worker", 1)], "started");
    let worker = &mut observed.machines[1];
    worker.config["mounts"] = json!([{"volume": "vol_9", "path": "/data", "name": "data"}]);
    worker.config["guest"] = json!({"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096});
    let p = plan(&a, &observed, &options(Strategy::Rolling)).unwrap();
    let update = p.actions.iter().find_map(|a| match &a.operation {
        Operation::Fly(FlyOp::UpdateMachines(b)) => b.machines.iter().find(|m| m.group == "worker").cloned(),
        _ => None,
    });
    let config: Value = serde_json::from_str(&update.unwrap().config).unwrap();
    assert_eq!(config["mounts"][0]["volume"], "vol_9");
    assert_eq!(config["guest"]["memory_mb"], 4096, "fly scale's size survives when fly.toml sets no [[vm]]");
}

#[test]
fn planning_twice_gives_the_same_plan() {
    let a = app(WEB_AND_WORKER);
    let observed = machines(&a, "registry.fly.io/shop:v1", &[("web", 4), ("worker", 2)], "started");
    let one = plan(&a, &observed, &options(Strategy::Rolling)).unwrap();
    let two = plan(&a, &observed, &options(Strategy::Rolling)).unwrap();
    assert_eq!(format!("{:?}", one.actions), format!("{:?}", two.actions));
    assert_eq!(one.release, two.release);
}

#[test]
fn options_come_from_flags_then_fly_toml_then_defaults() {
    let a = app("app = 'x'\n[build]\n  image = 'img:1'\n[deploy]\n  strategy = 'canary'\n  max_unavailable = 2\n");
    let o = Options::from_params(&a, &[]).unwrap();
    assert_eq!((o.image.as_str(), o.strategy, o.max_unavailable), ("img:1", Strategy::Canary, 2.0));
    let o = Options::from_params(&a, &[("strategy".into(), "immediate".into()), ("wait-timeout".into(), "90s".into())]).unwrap();
    assert_eq!((o.strategy, o.wait_timeout_ms), (Strategy::Immediate, 90_000));
    let err = Options::from_params(&app("app = 'x'\n"), &[]).unwrap_err();
    assert!(format!("{err:?}").contains("no image to deploy: pass --image"), "{err:?}");
    let err = Options::from_params(&a, &[("max-unavailable".into(), "0".into())]).unwrap_err();
    assert!(format!("{err:?}").contains("must be a number above 0"), "{err:?}");
}

#[test]
fn a_deploy_opens_and_closes_a_release_record_holding_no_api_assigned_value() {
    let a = app(WEB_AND_WORKER);
    let observed = machines(&a, "registry.fly.io/shop:v1", &[("web", 2), ("worker", 1)], "started");
    let p = ferry_fly_deploy::plan(&a, &observed, &options(Strategy::Bluegreen)).unwrap();
    let Operation::Fly(FlyOp::CreateRelease(r)) = &p.actions[0].operation else { panic!("{:?}", ids(&p.actions)) };
    assert_eq!((r.app.as_str(), r.image.as_str(), r.strategy), ("shop", "registry.fly.io/shop:v2", Strategy::Bluegreen));
    let definition: Value = serde_json::from_str(&r.definition).unwrap();
    assert_eq!(definition["app"], "shop");
    assert!(matches!(p.actions[0].undo, Undo::RestorePrevious), "undone, the release is marked failed");
    let Some(Operation::Fly(FlyOp::CompleteRelease(app))) = p.actions.last().map(|a| &a.operation) else { panic!() };
    assert_eq!(app, "shop");
    // The greens' blue/green tag is left for the host to fill with unix
    // seconds (flyctl's format), as are the release id and version.
    let greens = p.actions.iter().find(|a| a.id == "bluegreen:create-greens").unwrap();
    let Operation::Fly(FlyOp::CreateMachines(g)) = &greens.operation else { panic!() };
    let config: Value = serde_json::from_str(&g.machines[0].config).unwrap();
    assert_eq!(config["metadata"]["fly_bluegreen_deployment_tag"], "");
    assert_eq!(config["metadata"]["fly_release_id"], "");
    assert!(!format!("{:?}", p.actions).contains("fly_release_id\\\":\\\"ferry-"), "no synthetic release id");
}
