//! Adopting machines made with `fly machine run`, and the fly.toml written
//! from one of them, on machine lists shaped like the Machines API's.

use ferry_migrate::{adopt, config_save};
use ferry_step_sdk::host::fly::MachineInfo;
use ferry_step_sdk::types::{CheckScope, FlyOp, Operation, StepError, Undo};
use serde_json::{Value, json};

const IMAGE: &str = "registry.fly.io/shop:deployment-01J";

fn config(image: &str, env: Value, volume: &str) -> Value {
    json!({
        "image": image,
        "env": env,
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 512},
        "mounts": [{"volume": volume, "name": "shop_data", "path": "/data"}],
        "services": [{
            "protocol": "tcp", "internal_port": 8080, "autostop": true, "autostart": true, "min_machines_running": 1,
            "ports": [{"port": 80, "handlers": ["http"], "force_https": true}, {"port": 443, "handlers": ["tls", "http"]}]
        }],
        "checks": {"alive": {"type": "http", "port": 8080, "path": "/healthz", "interval": "15s", "timeout": "2s"}},
        "metadata": {"owner": "team-a"}
    })
}

fn machine(id: &str, image: &str, config: Value, metadata: &[(&str, &str)]) -> MachineInfo {
    MachineInfo {
        id: id.into(),
        name: format!("shop-{id}"),
        state: "started".into(),
        region: "ams".into(),
        image: image.into(),
        process_group: metadata.iter().find(|(k, _)| *k == "fly_process_group").map(|(_, v)| v.to_string()),
        metadata: metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        config: config.to_string(),
        cordoned: false,
    }
}

fn twins() -> Vec<MachineInfo> {
    vec![machine("m1", IMAGE, config(IMAGE, json!({"MODE": "prod"}), "vol_1"), &[]), machine("m2", IMAGE, config(IMAGE, json!({"MODE": "prod"}), "vol_2"), &[])]
}

#[test]
fn machines_sharing_one_image_and_config_are_marked_v2_with_an_undo() {
    let plan = adopt::plan("shop", &twins(), None).unwrap();
    assert_eq!(plan.actions.len(), 1);
    let action = &plan.actions[0];
    let Operation::Fly(FlyOp::SetMetadata(set)) = &action.operation else { panic!("{:?}", action.operation) };
    assert_eq!((set.key.as_str(), set.value.as_deref()), ("fly_platform_version", Some("v2")));
    assert_eq!(set.machines.ids, ["m1", "m2"], "volume ids differ per machine and do not count");
    assert!(matches!(action.undo, Undo::RestorePrevious));
    assert_eq!(plan.model.as_deref(), Some("m1"));
}

#[test]
fn different_images_or_env_are_refused_naming_the_groups_and_the_difference() {
    let mut machines = twins();
    machines.push(machine("m3", "registry.fly.io/shop:old", config("registry.fly.io/shop:old", json!({"MODE": "debug"}), "vol_3"), &[]));
    let Err(StepError::PreconditionFailed(p)) = adopt::plan("shop", &machines, None) else { panic!("must refuse") };
    assert!(p.message.contains("2 different configurations"), "{}", p.message);
    assert!(p.message.contains("[m1, m2] image registry.fly.io/shop:deployment-01J"), "{}", p.message);
    assert!(p.message.contains("[m3] image registry.fly.io/shop:old"), "{}", p.message);
    assert!(p.message.contains("they differ in: env, image"), "{}", p.message);
    assert!(p.message.contains("`machines` parameter"), "{}", p.message);

    let chosen = adopt::plan("shop", &machines, Some(&["m1".into(), "m2".into()])).unwrap();
    let Operation::Fly(FlyOp::SetMetadata(set)) = &chosen.actions[0].operation else { panic!() };
    assert_eq!(set.machines.ids, ["m1", "m2"], "a selection of one config is adopted");
}

#[test]
fn platform_release_and_console_machines_are_left_alone() {
    let mut machines = twins();
    machines.push(machine("m4", "x", json!({"image": "x"}), &[("fly_process_group", "fly_app_release_command")]));
    machines.push(machine("m5", IMAGE, config(IMAGE, json!({}), "vol_5"), &[("fly_platform_version", "v2")]));
    let plan = adopt::plan("shop", &machines, None).unwrap();
    let Operation::Fly(FlyOp::SetMetadata(set)) = &plan.actions[0].operation else { panic!() };
    assert_eq!(set.machines.ids, ["m1", "m2"]);
    assert!(plan.findings.iter().any(|f| f.code == "already-v2" && f.message.contains("m5")));
    assert!(plan.findings.iter().any(|f| f.code == "joins-platform"), "joining managed machines is flagged");

    let none = adopt::plan("shop", &machines[3..], None).unwrap();
    assert!(none.actions.is_empty());
    assert!(none.findings.iter().any(|f| f.code == "nothing-to-adopt"));
    let Err(StepError::InvalidInput(p)) = adopt::plan("shop", &machines, Some(&["m4".into()])) else { panic!("a release machine is not adoptable") };
    assert!(p.message.contains("machine m4 is not a deployable machine"), "{}", p.message);
}

#[test]
fn the_saved_fly_toml_parses_back_to_the_machine_it_came_from() {
    let env = json!({"MODE": "prod", "WEIRD KEY": "a \"quoted\"\nvalue"});
    let toml = config_save::fly_toml("shop", "m1", "ams", &config(IMAGE, env, "vol_1").to_string()).unwrap();
    let app = ferry_inventory::inventory(&ferry_inventory::MemoryFiles::fly_toml(toml.clone()), None).unwrap_or_else(|e| panic!("{e:?}\n{toml}"));
    assert_eq!(app.app.as_deref(), Some("shop"));
    assert_eq!(app.primary_region.as_deref(), Some("ams"));
    assert_eq!(app.build.image.as_deref(), Some(IMAGE));
    let env: Vec<(&str, &str)> = app.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert!(env.contains(&("MODE", "prod")) && env.contains(&("WEIRD KEY", "a \"quoted\"\nvalue")), "{env:?}");
    assert_eq!((app.mounts[0].source.as_str(), app.mounts[0].destination.as_str()), ("shop_data", "/data"));
    let service = &app.services[0];
    assert_eq!(service.internal_port, 8080);
    let ports: Vec<u16> = service.ports.iter().filter_map(|p| p.port).collect();
    assert_eq!(ports, [80, 443], "{toml}");
    let checks: Vec<_> = app.checks.iter().filter(|c| matches!(c.scope, CheckScope::Service) && c.port == Some(8080)).collect();
    assert_eq!(checks.len(), 1, "the machine's check on 8080 comes along: {toml}");
    assert_eq!((checks[0].path.as_deref(), checks[0].interval_ms), (Some("/healthz"), Some(15_000)));
    assert!(toml.contains("memory_mb = 512"), "{toml}");
}

#[test]
fn a_config_that_is_not_json_names_the_machine() {
    assert_eq!(config_save::fly_toml("shop", "m9", "ams", "{oops").unwrap_err().split(':').next(), Some("machine m9"));
}

/// `fly config save` writes the machines' command under `[processes]`; ferry
/// keys it by the machine's process group, and every word comes back from
/// the deploy's command split exactly as the machine ran it.
#[test]
fn the_saved_fly_toml_keeps_the_machines_command_under_their_process_group() {
    let argv = ["sh", "-c", "echo 'hi' && exec bin/server --port $PORT", "", "two words", "it's", "plain"];
    let mut with_cmd = config(IMAGE, json!({"MODE": "prod"}), "vol_1");
    with_cmd["init"] = json!({"cmd": argv});
    with_cmd["metadata"] = json!({"fly_process_group": "web"});
    let toml = config_save::fly_toml("shop", "m1", "ams", &with_cmd.to_string()).unwrap();
    assert!(toml.contains("[processes]\n  web = "), "{toml}");
    let app = ferry_inventory::inventory(&ferry_inventory::MemoryFiles::fly_toml(toml.clone()), None).unwrap_or_else(|e| panic!("{e:?}\n{toml}"));
    let groups: Vec<&str> = app.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(groups, ["web"], "{toml}");
    assert_eq!(ferry_fly_deploy::config::split_command(&app.groups[0].command), argv, "{toml}");
    assert_eq!(app.groups[0].services.len(), 1, "the services reach the group: {toml}");

    // No group in the metadata: flyctl's default group; no command: no [processes].
    let mut ungrouped = config(IMAGE, json!({}), "vol_1");
    ungrouped["init"] = json!({"cmd": ["bin/worker"]});
    let toml = config_save::fly_toml("shop", "m1", "ams", &ungrouped.to_string()).unwrap();
    assert!(toml.contains("[processes]\n  app = \"bin/worker\"\n"), "{toml}");
    let toml = config_save::fly_toml("shop", "m1", "ams", &config(IMAGE, json!({}), "vol_1").to_string()).unwrap();
    assert!(!toml.contains("[processes]"), "{toml}");
}

#[test]
fn words_are_quoted_as_flyctl_quotes_them() {
    use config_save::quote_posix_word as quote;
    assert_eq!(quote("bin/server"), "bin/server");
    assert_eq!(quote("two words"), "\"two words\"");
    assert_eq!(quote("$PORT"), "'$PORT'");
    assert_eq!(quote("a;b"), "'a;b'");
    assert_eq!(quote("it's"), r"'it'\''s'");
    assert_eq!(quote(""), "''");
}
