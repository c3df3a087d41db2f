//! `ferry migrate` against the Fly emulator: an app with a web group, a
//! worker group with a volume, a secret and a certificate moved to a new
//! app through create, prepare, data and finalize; and, separately,
//! aborted after data, leaving the source exactly as it started.

use serde_json::{Value, json};

use crate::support::fly::FlyWorld;

const APP: &str = "shop";
const NEW: &str = "shop-v2";
const IMAGE: &str = "registry.fly.io/shop:v1";
const HOST: &str = "shop.example.com";
const SECRET: &str = "s3cr3t-value-for-the-test";

const FLY_TOML: &str = r#"# the shop
app = "shop"
primary_region = "ams"

[processes]
  web = "serve"
  worker = "work"

[mounts]
  source = "shop_data"
  destination = "/data"
  processes = ["worker"]

[http_service]
  internal_port = 8080
  processes = ["web"]

  [[http_service.checks]]
    interval = "1s"
    timeout = "1s"
    path = "/healthz"
"#;

/// The source, deployed by ferry itself: two web machines, one worker
/// with its volume (holding some bytes), addresses, a secret, a certificate.
fn deployed() -> FlyWorld {
    let world = FlyWorld::start(APP, FLY_TOML);
    world.healthy(IMAGE, "v1");
    let (code, out, err) = world.deploy(&["--image", IMAGE]);
    assert_eq!(code, 0, "source deploy: {out}{err}");
    world.api("POST", &format!("/v1/apps/{APP}/secrets"), Some(json!({"values": {"SESSION_KEY": "old-value-on-fly"}})));
    world.api("POST", &format!("/v1/apps/{APP}/certificates/acme"), Some(json!({"hostname": HOST})));
    world.control_raw("POST", &format!("/_emulator/apps/{APP}/certificates/{HOST}/issue"), None);
    let volume = world.volumes(APP)[0]["id"].as_str().unwrap().to_string();
    world.control_raw("PUT", &format!("/_emulator/volumes/{volume}/content"), Some(b"orders.db contents".to_vec()));
    world
}

/// `ferry migrate ARGS --dir CHECKOUT`, with the secret's value given.
fn migrate(world: &FlyWorld, args: &[&str]) -> (i32, String) {
    let mut cmd = world.ferry();
    cmd.arg("migrate").args(args).arg("--dir").arg(world.checkout.path()).env("FERRY_SECRET_SESSION_KEY", SECRET);
    let (code, out, err) = crate::support::run(&mut cmd);
    eprintln!("=== migrate {args:?} -> {code}\n{out}{err}");
    assert!(!out.contains(SECRET) && !err.contains(SECRET), "a secret value was printed:\n{out}{err}");
    (code, format!("{out}{err}"))
}

/// The word after `label` in `out`, without quoting around it.
fn after<'a>(out: &'a str, label: &str) -> &'a str {
    let start = out.find(label).unwrap_or_else(|| panic!("no `{label}` in:\n{out}")) + label.len();
    out[start..].split_whitespace().next().unwrap().trim_matches('`')
}

/// How ferry prints the command for `phase` of migration `id`: the binary
/// as it was run, the checkout kept (`next: <ferry> migrate prepare --dir D --id I`).
fn next_command(world: &FlyWorld, phase: &str, id: &str) -> String {
    format!(" migrate {phase} --dir {} --id {id}", world.checkout.path().display())
}

fn create(world: &FlyWorld) -> String {
    let (code, out) = migrate(world, &["create", "--to", NEW]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("✔ every machine runs registry.fly.io/shop:v1"), "{out}");
    let id = after(&out, "migration id: ").to_string();
    assert!(out.contains(&next_command(world, "prepare", &id)), "{out}");
    id
}

/// Plans the phase, then applies exactly the reviewed plan.
fn phase(world: &FlyWorld, phase: &str, id: &str) -> String {
    let (code, plan) = migrate(world, &[phase, "--id", id]);
    assert_eq!(code, 0, "{phase} plan: {plan}");
    let hash = after(&plan, "--plan-hash ").to_string();
    let (code, out) = migrate(world, &[phase, "--id", id, "--apply", "--plan-hash", &hash]);
    assert_eq!(code, 0, "{phase} apply: {out}");
    assert!(out.contains(&format!("migration id: {id}")) && out.contains("next: "), "{out}");
    format!("{plan}{out}")
}

fn app_exists(world: &FlyWorld, app: &str) -> bool {
    world.status("GET", &format!("/v1/apps/{app}")) == 200
}

/// The source as a reviewer would compare it: machines (config, metadata,
/// state, region) and volumes, as the API returns them.
fn snapshot(world: &FlyWorld) -> Value {
    let machines: Vec<Value> = world
        .machines(APP)
        .iter()
        .map(|m| json!({"id": m["id"], "state": m["state"], "region": m["region"], "config": m["config"], "image": m["image_ref"]}))
        .collect();
    let volumes: Vec<Value> = world.volumes(APP)
        .iter()
        .map(|v| json!({"id": v["id"], "name": v["name"], "size_gb": v["size_gb"], "region": v["region"], "attached": v["attached_machine_id"], "state": v["state"]}))
        .collect();
    json!({"machines": machines, "volumes": volumes, "secrets": world.api("GET", &format!("/v1/apps/{APP}/secrets"), None)})
}

#[test]
fn create_prepare_data_finalize_moves_the_app_to_a_new_one() {
    let world = deployed();
    let id = create(&world);

    let out = phase(&world, "prepare", &id);
    assert!(out.contains("create app shop-v2 in org personal"), "{out}");
    assert!(app_exists(&world, NEW));
    let toml = std::fs::read_to_string(world.checkout.path().join("fly.toml")).unwrap();
    assert!(toml.starts_with("# the shop\napp = \"shop-v2\"\n"), "app renamed in place, comments kept:\n{toml}");
    let secrets = world.api("GET", &format!("/v1/apps/{NEW}/secrets"), None);
    assert_eq!(secrets["secrets"][0]["name"], "SESSION_KEY");
    let certs = world.api("GET", &format!("/v1/apps/{NEW}/certificates"), None);
    assert_eq!(certs["certificates"][0]["hostname"], HOST);
    assert!(world.machines(APP).iter().all(|m| m["state"] == "started"), "prepare leaves the source running");

    phase(&world, "data", &id);
    assert!(world.machines(APP).iter().all(|m| m["state"] == "stopped"), "data stops the source");
    let copied = world.volumes(NEW);
    assert_eq!(copied.len(), 1, "{copied:?}");
    let content = world.control_raw("GET", &format!("/_emulator/volumes/{}/content", copied[0]["id"].as_str().unwrap()), None);
    assert_eq!(content, b"orders.db contents", "the volume's bytes came over by snapshot");

    let out = phase(&world, "finalize", &id);
    assert!(out.contains("shop.example.com. A "), "the records to change are listed: {out}");
    let machines = world.machines(NEW);
    let group = |m: &Value| m["config"]["metadata"]["fly_process_group"].as_str().unwrap_or_default().to_string();
    let web: Vec<&Value> = machines.iter().filter(|m| group(m) == "web").collect();
    let worker: Vec<&Value> = machines.iter().filter(|m| group(m) == "worker").collect();
    assert_eq!((web.len(), worker.len()), (2, 1), "{machines:?}");
    assert!(machines.iter().all(|m| m["state"] == "started"));
    assert_eq!(worker[0]["config"]["restart"]["policy"], "always", "no services: restart always");
    assert_eq!(worker[0]["config"]["mounts"][0]["volume"], copied[0]["id"], "the worker mounts the copied volume");
    assert_eq!(world.versions(NEW), ["v1", "v1"]);
    assert!(app_exists(&world, APP), "the source is kept for a rollback");
    assert!(world.machines(APP).iter().all(|m| m["state"] == "stopped"));

    let (code, out) = migrate(&world, &["status", "--id", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("phases applied: prepare, data, finalize"), "{out}");
    assert!(out.contains(&next_command(&world, "decommission", &id)), "{out}");

    let (code, out) = migrate(&world, &["decommission", "--id", &id, "--apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("--approve"), "decommission waits for an approval: {out}");
    assert!(app_exists(&world, APP));
    let (code, out) = migrate(&world, &["decommission", "--id", &id, "--apply", "--approve"]);
    assert_eq!(code, 0, "{out}");
    assert!(!app_exists(&world, APP), "the source is deleted");
}

#[test]
fn abort_after_data_leaves_the_source_byte_for_byte_as_it_started() {
    let world = deployed();
    let before = snapshot(&world);
    let toml_before = std::fs::read_to_string(world.checkout.path().join("fly.toml")).unwrap();
    let id = create(&world);
    phase(&world, "prepare", &id);
    phase(&world, "data", &id);
    assert_ne!(snapshot(&world), before, "data changed the source (stopped it)");

    // A VM slow to boot: Fly answers the start while the machine is still
    // `starting`, and the abort must wait until it is `started` again.
    world.image(IMAGE, json!({"kind": "healthy", "body": "v1", "boot_delay_ms": 1500}));
    let (code, out) = migrate(&world, &["abort", "--id", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("migration {id} aborted")), "{out}");
    assert_eq!(serde_json::to_string_pretty(&snapshot(&world)).unwrap(), serde_json::to_string_pretty(&before).unwrap());
    assert_eq!(std::fs::read_to_string(world.checkout.path().join("fly.toml")).unwrap(), toml_before);
    assert!(!app_exists(&world, NEW), "the new app is deleted");
    assert_eq!(world.versions(APP), ["v1", "v1"], "the source serves again");

    let (code, out) = migrate(&world, &["prepare", "--id", &id]);
    assert_ne!(code, 0);
    assert!(out.contains("aborted"), "{out}");
}

#[test]
fn preflight_failures_stop_create_with_their_reasons() {
    let world = deployed();
    // No value for the secret.
    let mut cmd = world.ferry();
    cmd.args(["migrate", "create", "--to", NEW, "--dir"]).arg(world.checkout.path());
    let (code, out, err) = crate::support::run(&mut cmd);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("preflight check(s) failed") && format!("{out}{err}").contains("Set FERRY_SECRET_SESSION_KEY"), "{out}{err}");
    // The name is taken.
    world.api("POST", "/v1/apps", Some(json!({"app_name": "taken", "org_slug": "personal"})));
    let (code, out) = migrate(&world, &["create", "--to", "taken"]);
    assert_eq!(code, 1);
    assert!(out.contains("app taken exists already"), "{out}");
    // An unknown region.
    let (code, out) = migrate(&world, &["create", "--to", NEW, "--region", "mars"]);
    assert_eq!(code, 1);
    assert!(out.contains("unknown Fly region(s): mars"), "{out}");
    assert!(!app_exists(&world, NEW), "nothing was created");
    // Phases in order.
    let id = create(&world);
    let (code, out) = migrate(&world, &["finalize", "--id", &id]);
    assert_eq!(code, 1);
    assert!(out.contains("has not applied prepare yet: run `") && out.contains(&format!("{}` first", next_command(&world, "prepare", &id))), "{out}");
}

#[test]
fn a_finalize_killed_after_creating_machines_resumes_without_creating_them_again() {
    let world = deployed();
    let id = create(&world);
    phase(&world, "prepare", &id);
    phase(&world, "data", &id);
    let (code, plan) = migrate(&world, &["finalize", "--id", &id]);
    assert_eq!(code, 0, "{plan}");
    let hash = after(&plan, "--plan-hash ").to_string();
    let mut killed = world.ferry();
    killed
        .args(["migrate", "finalize", "--id", &id, "--apply", "--plan-hash", &hash, "--dir"])
        .arg(world.checkout.path())
        .env("FERRY_SECRET_SESSION_KEY", SECRET)
        .env("FERRY_TEST_KILL_AT", "create:web:executed");
    let (code, _, _) = crate::support::run(&mut killed);
    assert_ne!(code, 0, "the process was killed");
    assert_eq!(world.machines(NEW).len(), 2, "web was created before the kill, the worker not yet");
    let (code, out) = migrate(&world, &["finalize", "--id", &id, "--apply", "--plan-hash", &hash]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("resum") || out.contains("took over"), "{out}");
    assert_eq!(world.machines(NEW).len(), 3, "two web and one worker, none twice");
    // The secrets version prepare's set returned (in another process) is
    // sent with every machine create, also those of the resumed run: the
    // applier hands the journaled outputs of done actions to the executor.
    let creates: Vec<Value> = world.requests().into_iter().filter(|r| r["method"] == "POST" && r["path"] == format!("/v1/apps/{NEW}/machines")).collect();
    assert!(creates.len() >= 3, "{creates:?}");
    assert!(creates.iter().all(|r| r["body"]["min_secrets_version"].as_u64().is_some_and(|v| v >= 1)), "{creates:?}");
}
