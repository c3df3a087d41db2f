//! `ferry plan/apply --phase adopt` against the Fly emulator: machines made
//! with `fly machine run` marked Apps V2 by metadata, undone by abort, and
//! refused when they run different configurations.

use serde_json::{Value, json};

use crate::support::fly::FlyWorld;
use crate::support::run;

const APP: &str = "shop";
const IMAGE: &str = "registry.fly.io/shop:v1";

/// An app with two machines made outside Apps V2 (no platform metadata).
fn unmanaged(second_env: Value) -> FlyWorld {
    let world = FlyWorld::start(APP, "app = \"shop\"\n");
    world.healthy(IMAGE, "v1");
    for env in [json!({"MODE": "prod"}), second_env] {
        let config = json!({"image": IMAGE, "env": env, "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}});
        world.api("POST", &format!("/v1/apps/{APP}/machines"), Some(json!({"region": "ams", "config": config})));
    }
    std::fs::write(world.checkout.path().join("ferry.toml"), "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"adopt\"\n").unwrap();
    world
}

fn ferry(world: &FlyWorld, args: &[&str]) -> (i32, String) {
    let mut cmd = world.ferry();
    cmd.args(args).arg("--dir").arg(world.checkout.path());
    let (code, out, err) = run(&mut cmd);
    (code, format!("{out}{err}"))
}

fn platform_versions(world: &FlyWorld) -> Vec<Option<String>> {
    world.machines(APP).iter().map(|m| m["config"]["metadata"]["fly_platform_version"].as_str().map(str::to_string)).collect()
}

#[test]
fn machines_with_one_config_are_adopted_and_abort_unmarks_them() {
    let world = unmanaged(json!({"MODE": "prod"}));
    let (code, plan) = ferry(&world, &["plan", "--phase", "adopt", "--format", "md"]);
    assert_eq!(code, 0, "{plan}");
    assert!(plan.contains("Mark 2 machines of shop as Apps V2 (fly_platform_version=v2)"), "{plan}");
    assert!(plan.contains("image = \"registry.fly.io/shop:v1\""), "the plan shows the saved fly.toml: {plan}");
    assert!(plan.contains("MODE = \"prod\""), "{plan}");

    let (code, out) = ferry(&world, &["apply", "--phase", "adopt", "--run", "adopt-1"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(platform_versions(&world), [Some("v2".to_string()), Some("v2".to_string())]);
    assert!(world.machines(APP).iter().all(|m| m["state"] == "started"), "adopting does not restart anything");

    let (code, out) = ferry(&world, &["abort", "--yes", "--run", "adopt-1"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(platform_versions(&world), [None, None], "abort removes the key it added");
}

#[test]
fn machines_that_differ_are_refused_with_how_they_differ() {
    let world = unmanaged(json!({"MODE": "debug"}));
    let (code, out) = ferry(&world, &["plan", "--phase", "adopt"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("shop's machines run 2 different configurations"), "{out}");
    assert!(out.contains("they differ in: env"), "{out}");
    assert!(out.contains("`machines` parameter"), "{out}");
    assert_eq!(platform_versions(&world), [None, None]);
}

#[test]
fn save_config_writes_the_derived_fly_toml_and_abort_puts_the_old_one_back() {
    let world = unmanaged(json!({"MODE": "prod"}));
    std::fs::write(
        world.checkout.path().join("ferry.toml"),
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"adopt\"\nparams = { save-config = \"fly.toml\" }\n",
    )
    .unwrap();
    let fly_toml = world.checkout.path().join("fly.toml");
    let before = std::fs::read_to_string(&fly_toml).unwrap();
    let (code, plan) = ferry(&world, &["plan", "--phase", "adopt"]);
    assert_eq!(code, 0, "{plan}");
    assert!(plan.contains("write fly.toml from machine"), "{plan}");

    let (code, out) = ferry(&world, &["apply", "--phase", "adopt", "--run", "adopt-2"]);
    assert_eq!(code, 0, "{out}");
    let saved = std::fs::read_to_string(&fly_toml).unwrap();
    assert!(saved.contains("image = \"registry.fly.io/shop:v1\"") && saved.contains("MODE = \"prod\""), "{saved}");
    let (code, out) = ferry(&world, &["inventory", "--format", "json"]);
    assert_eq!(code, 0, "the saved fly.toml parses: {out}");

    let (code, out) = ferry(&world, &["abort", "--yes", "--run", "adopt-2"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read_to_string(&fly_toml).unwrap(), before, "abort puts the file back");
    assert_eq!(platform_versions(&world), [None, None]);
}

/// `fly config save` writes the machines' command under `[processes]`, so a
/// deploy from the saved fly.toml keeps it: without it the machines would
/// be updated to run the image's own CMD.
#[test]
fn a_deploy_from_the_saved_fly_toml_keeps_the_machines_command() {
    let world = FlyWorld::start(APP, "app = \"shop\"\n");
    world.healthy(IMAGE, "v1").healthy("registry.fly.io/shop:v2", "v2");
    let cmd = json!(["bin/serve", "--greeting", "hello world", "$NOT_EXPANDED"]);
    for _ in 0..2 {
        let config = json!({"image": IMAGE, "init": {"cmd": cmd}, "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}});
        world.api("POST", &format!("/v1/apps/{APP}/machines"), Some(json!({"region": "ams", "config": config})));
    }
    std::fs::write(
        world.checkout.path().join("ferry.toml"),
        "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"adopt\"\nparams = { save-config = \"fly.toml\" }\n",
    )
    .unwrap();
    let (code, out) = ferry(&world, &["apply", "--phase", "adopt", "--run", "adopt-3"]);
    assert_eq!(code, 0, "{out}");
    let saved = std::fs::read_to_string(world.checkout.path().join("fly.toml")).unwrap();
    assert!(saved.contains("[processes]\n  app = \"bin/serve --greeting \\\"hello world\\\" '$NOT_EXPANDED'\""), "{saved}");

    std::fs::remove_file(world.checkout.path().join("ferry.toml")).unwrap();
    let (code, out, err) = world.deploy(&["--image", "registry.fly.io/shop:v2", "--skip-release-command", "--smoke-checks", "false"]);
    assert_eq!(code, 0, "{out}{err}");
    let machines = world.machines(APP);
    assert_eq!(machines.len(), 2, "updated in place, no new group: {machines:?}");
    for m in &machines {
        assert_eq!(m["config"]["image"], "registry.fly.io/shop:v2");
        assert_eq!(m["config"]["init"]["cmd"], cmd, "the command survives the deploy: {}", m["config"]);
    }
}
