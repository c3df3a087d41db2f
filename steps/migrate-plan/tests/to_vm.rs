//! The data phase of a move off Fly to a server, on app and host states
//! shaped like the `fly` and `vm` imports' answers: what is copied, in
//! which order around the freeze, and what is refused before anything runs.

use ferry_migrate::migration::{App, Options};
use ferry_migrate::to_vm::{Host, phases};
use ferry_step_sdk::host::fly::{MachineInfo, VolumeInfo};
use ferry_step_sdk::host::vm::{HostFacts, VmTargetInfo};
use ferry_step_sdk::types::{AppSpec, FlyOp, Operation, StepError, VmOp, VolumePass};
use serde_json::json;

/// Two groups, each with its own volume.
const SHOP: &str = r#"
app = "shop"
primary_region = "ams"
[processes]
  web = "bin/web"
  worker = "bin/worker"
[[mounts]]
  source = "shop_uploads"
  destination = "/uploads"
  processes = ["web"]
[[mounts]]
  source = "shop_data"
  destination = "/data"
  processes = ["worker"]
[http_service]
  internal_port = 8080
  processes = ["web"]
"#;

fn app(secrets: &[&str]) -> AppSpec {
    let mut spec = ferry_inventory::inventory(&ferry_inventory::MemoryFiles::fly_toml(SHOP), None).unwrap_or_else(|e| panic!("{e:?}"));
    spec.secrets = secrets.iter().map(|s| s.to_string()).collect();
    spec
}

fn machine(id: &str, group: &str) -> MachineInfo {
    MachineInfo {
        id: id.into(),
        name: format!("shop-{id}"),
        state: "started".into(),
        region: "ams".into(),
        image: "registry.fly.io/shop:deployment-1".into(),
        process_group: Some(group.into()),
        metadata: vec![("fly_platform_version".into(), "v2".into()), ("fly_process_group".into(), group.into())],
        config: json!({}).to_string(),
        cordoned: false,
    }
}

fn volume(id: &str, name: &str, machine: &str) -> VolumeInfo {
    VolumeInfo { id: id.into(), name: name.into(), region: "ams".into(), size_gb: 1, attached_machine: Some(machine.into()) }
}

fn source(volumes: Vec<VolumeInfo>) -> App {
    App { machines: vec![machine("w1", "web"), machine("k1", "worker")], volumes, secrets: vec!["DATABASE_URL".into()], ips: vec![], certificates: vec![] }
}

fn host() -> Host {
    Host {
        target: VmTargetInfo {
            name: "prod".into(),
            root: "/srv".into(),
            nginx_sites: "/etc/nginx/conf.d".into(),
            lock_ttl_ms: 120_000,
            lock_path: "/srv/.ferry.lock".into(),
            keep: 3,
            postgres_image: Some("postgres:16".into()),
            acme: None,
            address: Some("203.0.113.7".into()),
            ssh_key_env: "FERRY_SECRET_SSH_KEY".into(),
            known_hosts_env: "FERRY_SECRET_KNOWN_HOSTS".into(),
        },
        facts: Ok(HostFacts {
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            arch: "x86_64".into(),
            docker: Some("24.0.7".into()),
            free_disk_mb: Some(40_000),
            listening_ports: vec![22, 80, 443, 5432],
            nginx: true,
            certbot: true,
        }),
        containers: Vec::new(),
        releases: Vec::new(),
        certificate: None,
    }
}

fn options() -> Options {
    let params: Vec<(String, String)> = [("id", "mig-1"), ("to", "vm:prod")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Options::from_params(Some(&app(&[])), &params).unwrap()
}

/// Each action as `operation name: what`.
fn steps(ops: impl IntoIterator<Item = Operation>) -> Vec<String> {
    ops.into_iter()
        .map(|op| match op {
            Operation::Vm(VmOp::Lock(_)) => "lock".into(),
            Operation::Vm(VmOp::Unlock(_)) => "unlock".into(),
            Operation::Vm(VmOp::Mkdir(p)) => format!("mkdir {}", p.paths.join(" ")),
            Operation::Vm(VmOp::FlyVolume(v)) => {
                format!("{} {} -> {}", if v.pass == VolumePass::Bulk { "bulk" } else { "final" }, v.volume, v.path)
            }
            Operation::Fly(FlyOp::StopMachines(r)) => format!("stop {}", r.ids.join(" ")),
            Operation::Vm(VmOp::FlyPostgres(p)) => format!("postgres {} {} -> {}", p.app, p.container, p.dir),
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn each_volume_is_copied_while_fly_serves_and_again_after_the_freeze_then_the_database() {
    let volumes = vec![volume("vol_u", "shop_uploads", "w1"), volume("vol_d", "shop_data", "k1")];
    let planned = phases::data(&app(&["DATABASE_URL"]), &source(volumes), &host(), &options()).unwrap();
    assert_eq!(
        steps(planned.actions.into_iter().map(|a| a.operation)),
        [
            "lock",
            "mkdir /srv/shop/volumes/shop_data /srv/shop/volumes/shop_uploads /srv/shop/postgres/import",
            "bulk vol_d -> /srv/shop/volumes/shop_data",
            "bulk vol_u -> /srv/shop/volumes/shop_uploads",
            "stop w1 k1",
            "final vol_d -> /srv/shop/volumes/shop_data",
            "final vol_u -> /srv/shop/volumes/shop_uploads",
            "postgres shop shop-postgres -> /srv/shop/postgres/import",
            "unlock",
        ]
    );
}

#[test]
fn a_database_the_app_keeps_is_not_copied_and_no_data_is_nothing_to_do() {
    let mut keeps = options();
    keeps.provided_secrets = vec!["DATABASE_URL".into()];
    let planned = phases::data(&app(&["DATABASE_URL"]), &source(vec![volume("vol_d", "shop_data", "k1")]), &host(), &keeps).unwrap();
    assert!(!steps(planned.actions.into_iter().map(|a| a.operation)).iter().any(|s| s.starts_with("postgres")));

    let nothing = phases::data(&app(&[]), &source(Vec::new()), &host(), &options()).unwrap();
    assert!(nothing.actions.is_empty());
    assert!(nothing.findings.iter().any(|f| f.code == "no-data" && f.message.contains("nothing to copy")), "{:?}", nothing.findings);
}

#[test]
fn volumes_the_host_cannot_keep_apart_or_name_are_refused_before_anything_runs() {
    let refused = |volumes| match phases::data(&app(&[]), &source(volumes), &host(), &options()) {
        Err(StepError::PreconditionFailed(p)) => p.message,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let twins = refused(vec![volume("vol_1", "shop_data", "w1"), volume("vol_2", "shop_data", "k1")]);
    assert!(twins.contains("volumes vol_1 and vol_2 of shop are both named shop_data") && twins.contains("/srv/shop/volumes/shop_data"), "{twins}");
    let hostile = refused(vec![volume("vol_1", "../../etc", "k1")]);
    assert!(hostile.contains("volume vol_1 of shop") && hostile.contains("not a volume name"), "{hostile}");
}

#[test]
fn decommission_archives_each_volume_behind_an_approval_then_deletes_the_apps_for_good() {
    let volumes = vec![volume("vol_u", "shop_uploads", "w1"), volume("vol_d", "shop_data", "k1")];
    let mut named = options();
    named.postgres_app = Some("shop-db".into());
    let planned = phases::decommission(&app(&["DATABASE_URL"]), &source(volumes.clone()), &host(), &named).unwrap();
    let approval = match &planned.actions[0].operation {
        Operation::Control(ferry_step_sdk::types::ControlOp::Approval(text)) => text.clone(),
        other => panic!("the approval comes first, not {other:?}"),
    };
    assert!(
        approval.contains("delete Fly app shop with its 2 machine(s), 2 volume(s)")
            && approval.contains("and Fly Postgres app shop-db")
            && approval
                .contains("what they held stays on prod in /srv/shop/archive/shop_data, /srv/shop/archive/shop_uploads, /srv/shop/postgres/import/source.sql"),
        "{approval}"
    );
    let rest: Vec<Operation> = planned.actions[1..].iter().map(|a| a.operation.clone()).collect();
    let (fly, vm): (Vec<Operation>, Vec<Operation>) = rest.into_iter().partition(|op| matches!(op, Operation::Fly(_)));
    assert_eq!(
        steps(vm),
        [
            "lock",
            "mkdir /srv/shop/archive/shop_data /srv/shop/archive/shop_uploads",
            "final vol_d -> /srv/shop/archive/shop_data",
            "final vol_u -> /srv/shop/archive/shop_uploads",
            "unlock",
        ]
    );
    let deleted: Vec<String> = fly
        .into_iter()
        .map(|op| match op {
            Operation::Fly(FlyOp::DestroyApp(name)) => name,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(deleted, ["shop", "shop-db"]);
    let last_copy = planned.actions.iter().rposition(|a| matches!(a.operation, Operation::Vm(_))).unwrap();
    let first_delete = planned.actions.iter().position(|a| matches!(a.operation, Operation::Fly(_))).unwrap();
    assert!(first_delete > last_copy, "the apps go after the archive, never before");
    assert!(planned.actions.iter().filter(|a| matches!(a.operation, Operation::Fly(_))).all(|a| a.risk == ferry_step_sdk::types::Risk::Irreversible));

    let unnamed = phases::decommission(&app(&["DATABASE_URL"]), &source(volumes), &host(), &options()).unwrap();
    assert!(unnamed.findings.iter().any(|f| f.code == "postgres-app" && f.message.contains("the Fly Postgres app stays")), "{:?}", unnamed.findings);
}

#[test]
fn an_abort_deletes_only_a_database_and_image_its_prepare_made() {
    let removals = |host: &Host| -> Vec<String> {
        let planned = phases::prepare(&app(&["DATABASE_URL"]), &source(Vec::new()), host, None, &options(), &[], None).unwrap();
        planned
            .actions
            .iter()
            .filter_map(|a| match &a.undo {
                ferry_step_sdk::types::Undo::Run(Operation::Vm(VmOp::RemovePaths(p))) => Some(format!("paths {}", p.paths.join(" "))),
                ferry_step_sdk::types::Undo::Run(Operation::Vm(VmOp::RemoveImages(i))) => Some(format!("images {} but {:?}", i.repository, i.keep)),
                _ => None,
            })
            .collect()
    };
    assert_eq!(removals(&host()), ["paths /srv/shop/postgres/data /srv/shop/postgres/password", "images ferry-shop but []"]);

    let mut ran_before = host();
    ran_before.containers.push(ferry_step_sdk::host::vm::ContainerState {
        name: "shop-postgres".into(),
        image: "postgres:16".into(),
        state: "running".into(),
        labels: vec![("ferry.app".into(), "shop".into()), ("ferry.role".into(), "postgres".into())],
    });
    ran_before.releases = vec![json!({"number": 1, "image": "ferry-shop:release-1", "port": 20001, "source": "built"}).to_string()];
    assert_eq!(removals(&ran_before), ["images ferry-shop but [\"ferry-shop:release-1\"]"], "the database the host had stays, and so does its release");
}
