//! fly.toml settings flyctl sends that ferry used to accept and then drop,
//! followed from the file through the inventory into the machine config,
//! and the deploy-layer rules around them (replacement, the release
//! command's size, the no-op rule against the API's echo).

use ferry_fly_deploy::config::{self, Release};
use ferry_fly_deploy::{Machine, Observed, Options, plan};
use ferry_inventory::{MemoryFiles, inventory};
use ferry_step_sdk::types::{AppSpec, FlyOp, Operation, Severity};
use serde_json::{Value, json};

const IMAGE: &str = "registry.fly.io/grpc:v2";

/// The inventory of a checkout whose first file is the config.
fn app(files: &[(&str, &str)]) -> AppSpec {
    let checkout = MemoryFiles(files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect());
    inventory(&checkout, Some(files[0].0)).unwrap_or_else(|e| panic!("{e:?}"))
}

fn launch(a: &AppSpec, group: &str) -> Value {
    let group = a.groups.iter().find(|g| g.name == group).unwrap();
    config::launch_config(a, group, IMAGE, &Release { id: "r".into(), version: 1 }).unwrap()
}

fn errors(a: &AppSpec) -> Vec<(&str, &str)> {
    a.warnings.iter().filter(|f| f.severity == Severity::Error).map(|f| (f.code.as_str(), f.message.as_str())).collect()
}

/// gRPC needs HTTP/2 to the app; PROXY protocol apps need the header; TLS
/// options choose ALPN. flyctl puts `http_options` on both of
/// `[http_service]`'s ports and `tls_options` on 443 only.
#[test]
fn port_options_reach_the_machine_as_fly_go_sends_them() {
    let a = app(&[(
        "fly.toml",
        r#"
app = "grpc"
primary_region = "ams"
[http_service]
  internal_port = 50051
  auto_stop_machines = "suspend"
  [http_service.http_options]
    h2_backend = true
    idle_timeout = 600
    [http_service.http_options.response]
      pristine = true
      [http_service.http_options.response.headers]
        X-Frame-Options = "DENY"
        Server = false
  [http_service.tls_options]
    alpn = ["h2", "http/1.1"]
    versions = ["TLSv1.2", "TLSv1.3"]
    default_self_signed = false
[[services]]
  protocol = "tcp"
  internal_port = 5432
  [[services.ports]]
    port = 5432
    handlers = ["proxy_proto"]
    [services.ports.proxy_proto_options]
      version = "v2"
"#,
    )]);
    assert!(errors(&a).is_empty(), "{:?}", errors(&a));
    let config = launch(&a, "app");
    let http = json!({"response": {"headers": {"Server": false, "X-Frame-Options": "DENY"}, "pristine": true}, "h2_backend": true, "idle_timeout": 600});
    assert_eq!(
        config["services"],
        json!([
            {
                "protocol": "tcp",
                "internal_port": 50051,
                "autostop": "suspend",
                "ports": [
                    {"port": 80, "handlers": ["http"], "http_options": http},
                    {"port": 443, "handlers": ["http", "tls"], "tls_options": {"alpn": ["h2", "http/1.1"], "versions": ["TLSv1.2", "TLSv1.3"], "default_self_signed": false}, "http_options": http},
                ],
                "force_instance_key": null,
            },
            {
                "protocol": "tcp",
                "internal_port": 5432,
                "ports": [{"port": 5432, "handlers": ["proxy_proto"], "proxy_proto_options": {"version": "v2"}}],
                "force_instance_key": null,
            },
        ])
    );
}

/// Auto-extend goes on the mount (decimal GB, as flyctl parses it);
/// statics keep their Tigris bucket and index document; a check keeps its
/// TLS server name.
#[test]
fn mount_auto_extend_statics_and_check_tls_names_are_carried() {
    let a = app(&[(
        "fly.toml",
        r#"
app = "site"
primary_region = "ams"
[[mounts]]
  source = "data"
  destination = "/data"
  auto_extend_size_threshold = 80
  auto_extend_size_increment = "3GB"
  auto_extend_size_limit = "100"
[[statics]]
  guest_path = "/app/public"
  url_prefix = "/"
  tigris_bucket = "site-assets"
  index_document = "index.html"
[checks.tls]
  type = "http"
  port = 8443
  protocol = "https"
  method = "get"
  tls_server_name = "site.example"
"#,
    )]);
    assert!(errors(&a).is_empty(), "{:?}", errors(&a));
    let config = launch(&a, "app");
    assert_eq!(config["mounts"], json!([{"path": "/data", "name": "data", "extend_threshold_percent": 80, "add_size_gb": 3, "size_gb_limit": 100}]));
    assert_eq!(config["statics"], json!([{"guest_path": "/app/public", "url_prefix": "/", "tigris_bucket": "site-assets", "index_document": "index.html"}]));
    assert_eq!(config["checks"]["tls"], json!({"port": 8443, "type": "http", "method": "GET", "protocol": "https", "tls_server_name": "site.example"}));
}

/// A relative static without a bucket is one flyctl uploads to Tigris;
/// ferry cannot, and says so instead of dropping it. Bad auto-extend
/// values are flyctl's validation errors.
#[test]
fn what_ferry_cannot_carry_is_an_error_naming_it() {
    let a = app(&[(
        "fly.toml",
        r#"
app = "site"
[build.compose]
  file = "compose.yaml"
[[statics]]
  guest_path = "public"
  url_prefix = "/"
[[mounts]]
  source = "data"
  destination = "/data"
  auto_extend_size_threshold = 40
  auto_extend_size_increment = "500GB"
"#,
    )]);
    let errors = errors(&a);
    assert!(errors.iter().any(|(c, m)| *c == "not-carried" && m.contains("[build.compose]")), "{errors:?}");
    assert!(errors.iter().any(|(c, m)| *c == "not-carried" && m.contains("static `public`") && m.contains("Tigris")), "{errors:?}");
    assert!(errors.iter().any(|(c, m)| *c == "invalid-mount" && m.contains("between 1GB and 100GB")), "{errors:?}");
    assert!(errors.iter().any(|(c, m)| *c == "invalid-mount" && m.contains("between 50 and 99")), "{errors:?}");
}

/// `local_path` is read from the checkout (any bytes) and sent as base64
/// `raw_value`; `raw_value` is encoded as flyctl encodes it; a secret file
/// names its secret. Every file goes to every group and to the release
/// command machine, as with flyctl.
#[test]
fn files_carry_their_contents() {
    let a = app(&[
        (
            "deploy/fly.toml",
            r#"
app = "files"
primary_region = "ams"
[processes]
  web = "bin/web"
  worker = "bin/worker"
[deploy]
  release_command = "bin/migrate"
[[files]]
  guest_path = "/etc/app/config.yaml"
  local_path = "config/app.yaml"
  processes = ["web"]
[[files]]
  guest_path = "/etc/motd"
  raw_value = "hello world\n"
[[files]]
  guest_path = "/etc/app/key.pem"
  secret_name = "TLS_KEY"
"#,
        ),
        ("deploy/config/app.yaml", "port: 8080\n"),
    ]);
    let spec =
        inventory(&MemoryFiles(vec![("fly.toml".into(), "app = 'x'\n[[files]]\n  guest_path = '/x'\n  local_path = 'missing.txt'\n".into())]), None).unwrap();
    assert!(errors(&spec).iter().any(|(c, m)| *c == "file-source" && m.contains("missing.txt")), "{:?}", spec.warnings);
    let expected = json!([
        {"guest_path": "/etc/app/config.yaml", "raw_value": "cG9ydDogODA4MAo="},
        {"guest_path": "/etc/motd", "raw_value": "aGVsbG8gd29ybGQK"},
        {"guest_path": "/etc/app/key.pem", "secret_name": "TLS_KEY"},
    ]);
    assert_eq!(launch(&a, "web")["files"], expected);
    assert_eq!(launch(&a, "worker")["files"], expected, "flyctl ignores `processes` on files");
    assert!(a.warnings.iter().any(|f| f.code == "file-processes-ignored"));
    let release = config::release_command_config(&a, "bin/migrate", IMAGE, &Release { id: "r".into(), version: 1 }, &[]);
    assert_eq!(release["files"], expected);
}

/// The docs' own example (`raw_value = "aGVsbG8gd29ybGQK"`) is encoded
/// again by flyctl and ferry: warned. An entry without contents is refused.
#[test]
fn a_base64_raw_value_is_warned_and_an_empty_file_refused() {
    let a = app(&[("fly.toml", "app = 'x'\n[[files]]\n  guest_path = '/a'\n  raw_value = 'aGVsbG8gd29ybGQK'\n[[files]]\n  guest_path = '/b'\n")]);
    let warning = a.warnings.iter().find(|f| f.code == "raw-value-encoded").expect("a warning");
    assert!(warning.message.contains("base64 text"), "{}", warning.message);
    assert!(errors(&a).iter().any(|(c, m)| *c == "file-source" && m.contains("`/b` sets none")), "{:?}", a.warnings);
    assert_eq!(launch(&a, "app")["files"], json!([{"guest_path": "/a", "raw_value": "YUdWc2JHOGdkMjl5YkdRSw=="}]));
}

/// `machine_config` merges under fly.toml's settings; its container that
/// runs the app gets the deployed image; its local files are read.
#[test]
fn machine_config_merges_and_its_app_container_runs_the_image() {
    let a = app(&[
        (
            "fly.toml",
            r#"
app = "pilot"
primary_region = "ams"
machine_config = "machine.json"
[env]
  MODE = "prod"
"#,
        ),
        (
            "machine.json",
            r#"{"containers": [{"name": "sidecar", "image": "nginx:1"}, {"name": "app", "files": [{"guest_path": "/srv/conf", "local_path": "conf.txt"}]}], "dns": {"nameservers": ["1.1.1.1"]}, "env": {"IGNORED": "fly.toml's env wins"}}"#,
        ),
        ("conf.txt", "x"),
    ]);
    assert!(errors(&a).is_empty(), "{:?}", errors(&a));
    let config = launch(&a, "app");
    assert_eq!(config["containers"][1]["image"], IMAGE);
    assert_eq!(config["containers"][0]["image"], "nginx:1");
    assert_eq!(config["containers"][1]["files"], json!([{"guest_path": "/srv/conf", "raw_value": "eA=="}]));
    assert_eq!(config["dns"], json!({"nameservers": ["1.1.1.1"]}));
    assert_eq!(config["env"], json!({"FLY_PROCESS_GROUP": "app", "MODE": "prod", "PRIMARY_REGION": "ams"}));
}

fn machine(id: &str, group: &str, config: Value) -> Machine {
    Machine {
        id: id.into(),
        name: id.into(),
        state: "started".into(),
        region: "ams".into(),
        image: config["image"].as_str().unwrap_or_default().into(),
        metadata: vec![("fly_platform_version".into(), "v2".into()), ("fly_process_group".into(), group.into())],
        config,
    }
}

fn ids(actions: &[ferry_step_sdk::types::Action]) -> Vec<&str> {
    actions.iter().map(|a| a.id.as_str()).collect()
}

/// A machine whose volume must change is destroyed and created again (one
/// machine at a time), not updated into an API error.
#[test]
fn a_machine_whose_volume_changes_is_replaced() {
    let a = app(&[("fly.toml", "app = 'db'\nprimary_region = 'ams'\n[[mounts]]\n  source = 'pgdata'\n  destination = '/data'\n")]);
    let mut current = launch(&a, "app");
    current["mounts"] = json!([{"path": "/data", "name": "data", "volume": "vol_old"}]);
    current["image"] = json!("registry.fly.io/grpc:v1");
    let observed = Observed { machines: vec![machine("m1", "app", current)], ..Default::default() };
    let options = Options::from_params(&a, &[("image".into(), IMAGE.into())]).unwrap();
    let p = plan(&a, &observed, &options).unwrap();
    assert_eq!(ids(&p.actions), ["release:create", "replace:m1:destroy", "replace:m1:create", "release:complete"]);
    assert!(p.actions[1].detail.as_deref().unwrap().contains("mounts volume `data` but fly.toml says `pgdata`"));
    let Operation::Fly(FlyOp::CreateMachines(created)) = &p.actions[2].operation else { panic!() };
    let config: Value = serde_json::from_str(&created.machines[0].config).unwrap();
    assert_eq!(config["mounts"], json!([{"path": "/data", "name": "pgdata"}]), "the host takes an unattached pgdata volume");
}

/// The release command runs on the default group's largest machine when
/// fly.toml sets no `release_command_vm` (a migration that fits the app
/// fits there), else shared-cpu-2x.
#[test]
fn the_release_command_machine_is_sized_like_flyctls() {
    let a =
        app(&[("fly.toml", "app = 'shop'\nprimary_region = 'ams'\n[processes]\n  app = 'web'\n  worker = 'jobs'\n[deploy]\n  release_command = 'migrate'\n")]);
    let big = json!({"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096});
    let mut m = vec![
        machine("a1", "app", json!({"guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 1024}})),
        machine("a2", "app", json!({"guest": big})),
        machine("w1", "worker", json!({"guest": {"cpu_kind": "performance", "cpus": 8, "memory_mb": 16384}})),
    ];
    let r = Release { id: "r".into(), version: 1 };
    let refs: Vec<&Machine> = m.iter().collect();
    assert_eq!(config::release_command_config(&a, "migrate", IMAGE, &r, &refs)["guest"], big, "the worker is not the default group");
    assert_eq!(config::release_command_config(&a, "migrate", IMAGE, &r, &[])["guest"], json!({"cpu_kind": "shared", "cpus": 2, "memory_mb": 512}));
    m.truncate(0);
    let sized = app(&[(
        "fly.toml",
        "app = 'shop'\nhost_dedication_id = 'h1'\n[deploy]\n  release_command = 'migrate'\n  [deploy.release_command_vm]\n    size = 'performance-1x'\n    memory = '4gb'\n",
    )]);
    assert_eq!(
        config::release_command_config(&sized, "migrate", IMAGE, &r, &[])["guest"],
        json!({"cpu_kind": "performance", "cpus": 1, "memory_mb": 4096, "host_dedication_id": "h1"})
    );
}

/// A second deploy of the same image and fly.toml plans nothing, against
/// machines whose configs come back the way the Machines API echoes them
/// (autostop as a boolean, durations re-spelt, defaults filled in).
#[test]
fn a_second_deploy_against_the_apis_echo_is_zero_actions() {
    let toml = r#"
app = "shop"
primary_region = "ams"
kill_timeout = 90
[http_service]
  internal_port = 8080
  auto_stop_machines = "stop"
  auto_start_machines = true
  min_machines_running = 0
  [[http_service.checks]]
    interval = "1m"
    timeout = "2s"
    path = "/healthz"
"#;
    let a = app(&[("fly.toml", toml)]);
    let options = Options::from_params(&a, &[("image".into(), IMAGE.into())]).unwrap();
    let first = plan(&a, &Observed::default(), &options).unwrap();
    let Some(Operation::Fly(FlyOp::CreateMachines(created))) =
        first.actions.iter().map(|a| &a.operation).find(|o| matches!(o, Operation::Fly(FlyOp::CreateMachines(_))))
    else {
        panic!("{:?}", ids(&first.actions))
    };
    let machines = created
        .machines
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut echo: Value = serde_json::from_str(&m.config).unwrap();
            echo["services"][0]["autostop"] = json!(true);
            echo["services"][0].as_object_mut().unwrap().remove("force_instance_key");
            echo["services"][0]["checks"][0]["interval"] = json!("60s");
            echo["stop_config"]["timeout"] = json!(90_000_000_000u64);
            echo["init"] = json!({"exec": null, "entrypoint": null, "cmd": null, "tty": false});
            echo["restart"] = json!({"policy": ""});
            echo["dns"] = json!({});
            echo["metadata"]["ferry_launch_id"] = json!(m.launch_id);
            machine(&format!("m{i}"), "app", echo)
        })
        .collect();
    let observed = Observed { machines, ..Default::default() };
    let second = plan(&a, &observed, &options).unwrap();
    assert!(second.actions.is_empty(), "{:?}", ids(&second.actions));
    assert!(second.findings.iter().any(|f| f.code == "up-to-date"));
    let changed = app(&[("fly.toml", &toml.replace("\"stop\"", "\"suspend\""))]);
    let third = plan(&changed, &observed, &options).unwrap();
    assert!(!third.actions.is_empty(), "suspend is a change");
}
