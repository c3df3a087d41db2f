//! fly.toml -> Machines API `MachineConfig`, per process group: what
//! flyctl's `appconfig.ToMachineConfig` builds, so a machine deployed by
//! ferry looks to flyctl and the dashboard like one deployed by flyctl.

use ferry_step_sdk::types::{AppSpec, Check, CheckScope, FileSource, ProcessGroup, Service};
use serde_json::{Map, Value, json};

use crate::options::go_duration;

/// Metadata keys flyctl writes and reads (fly-go `machine_types.go`).
pub mod meta {
    pub const PLATFORM_VERSION: &str = "fly_platform_version";
    pub const PROCESS_GROUP: &str = "fly_process_group";
    pub const LEGACY_PROCESS_GROUP: &str = "process_group";
    pub const RELEASE_ID: &str = "fly_release_id";
    pub const RELEASE_VERSION: &str = "fly_release_version";
    pub const FLYCTL_VERSION: &str = "fly_flyctl_version";
    pub const CANARY: &str = "fly_canary";
    pub const BLUEGREEN_TAG: &str = "fly_bluegreen_deployment_tag";
    /// ferry's idempotency key for creates (the host's provider writes it too).
    pub const LAUNCH_ID: &str = "ferry_launch_id";
    pub const FERRY_VERSION: &str = "ferry_version";
    /// The release-command machine's group.
    pub const RELEASE_COMMAND_GROUP: &str = "fly_app_release_command";
    pub const CONSOLE_GROUP: &str = "fly_app_console";
}

/// Keys that say *which* release a machine runs, not *what* it runs: two
/// configs that differ only here describe the same machine.
const RELEASE_KEYS: &[&str] =
    &[meta::RELEASE_ID, meta::RELEASE_VERSION, meta::FLYCTL_VERSION, meta::LAUNCH_ID, meta::FERRY_VERSION];

/// The release a deploy writes into every machine's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub id: String,
    pub version: u64,
}

/// The config every machine of `group` gets. `current` is the config of
/// the machine being updated, if any: it keeps the machine's volume and,
/// when fly.toml sets no `[[vm]]`, its size (flyctl keeps `fly scale`
/// changes the same way).
pub fn machine_config(app: &AppSpec, group: &ProcessGroup, image: &str, release: &Release, current: Option<&Value>) -> Value {
    let mut config = Map::new();
    config.insert("image".into(), json!(image));
    config.insert("env".into(), Value::Object(env(app, &group.name)));
    if let Some(init) = init(app, group) {
        config.insert("init".into(), init);
    }
    config.insert("guest".into(), guest(group, current));
    config.insert("metadata".into(), Value::Object(metadata(&group.name, release, current)));
    let services: Vec<Value> = group.services.iter().map(|s| service(s, &group.checks)).collect();
    if !services.is_empty() {
        config.insert("services".into(), Value::Array(services));
    }
    let checks = machine_checks(app, &group.checks);
    if !checks.is_empty() {
        config.insert("checks".into(), Value::Object(checks));
    }
    if let Some(m) = &group.mount {
        let mut mount = json!({"path": m.destination, "name": m.source});
        if let Some(volume) = current_volume(current, &m.source) {
            mount["volume"] = json!(volume);
        }
        config.insert("mounts".into(), json!([mount]));
    }
    if let Some(r) = &group.restart {
        let mut restart = json!({"policy": r.policy});
        if let Some(n) = r.retries {
            restart["max_retries"] = json!(n);
        }
        config.insert("restart".into(), restart);
    }
    if let Some(stop) = stop_config(app) {
        config.insert("stop_config".into(), stop);
    }
    let files: Vec<Value> = group.files.iter().map(file).collect();
    if !files.is_empty() {
        config.insert("files".into(), Value::Array(files));
    }
    if let Some(m) = group.metrics.first() {
        config.insert("metrics".into(), json!({"port": m.port, "path": m.path, "https": m.https}));
    }
    let statics: Vec<Value> = app
        .statics
        .iter()
        .map(|s| json!({"guest_path": s.guest_path, "url_prefix": s.url_prefix}))
        .collect();
    if !statics.is_empty() {
        config.insert("statics".into(), Value::Array(statics));
    }
    Value::Object(config)
}

/// The release command's temporary machine (flyctl's
/// `ToReleaseMachineConfig`): the new image, the app's env, no services,
/// no volume, never restarted, destroyed once it exits.
pub fn release_command_config(app: &AppSpec, command: &str, image: &str, release: &Release) -> Value {
    let mut env = env(app, meta::RELEASE_COMMAND_GROUP);
    env.insert("RELEASE_COMMAND".into(), json!("1"));
    let mut metadata = Map::new();
    metadata.insert(meta::PLATFORM_VERSION.into(), json!("v2"));
    metadata.insert(meta::PROCESS_GROUP.into(), json!(meta::RELEASE_COMMAND_GROUP));
    metadata.insert(meta::RELEASE_ID.into(), json!(release.id));
    metadata.insert(meta::RELEASE_VERSION.into(), json!(release.version.to_string()));
    json!({
        "image": image,
        "env": env,
        "init": {"cmd": split_command(command)},
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
        "metadata": metadata,
        "restart": {"policy": "no"},
        "auto_destroy": true,
        "dns": {"skip_registration": true},
    })
}

/// Whether two configs run the same thing: equal once the release keys are
/// set aside and empty values are treated as absent (flyctl's
/// `compareConfigs`).
pub fn same_machine(a: &Value, b: &Value) -> bool {
    normalize(a) == normalize(b)
}

fn normalize(config: &Value) -> Value {
    let mut config = prune(config.clone());
    if let Some(metadata) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in RELEASE_KEYS {
            metadata.remove(*key);
        }
    }
    prune(config)
}

/// Drops nulls, empty arrays and empty objects, recursively.
fn prune(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter().map(|(k, v)| (k, prune(v))).filter(|(_, v)| !is_empty(v)).collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(prune).collect()),
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn env(app: &AppSpec, group: &str) -> Map<String, Value> {
    let mut env: Map<String, Value> = app.env.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    env.insert("FLY_PROCESS_GROUP".into(), json!(group));
    if let Some(region) = &app.primary_region {
        env.insert("PRIMARY_REGION".into(), json!(region));
    }
    env
}

fn init(app: &AppSpec, group: &ProcessGroup) -> Option<Value> {
    let mut init = Map::new();
    let x = &app.experimental;
    if !group.command.trim().is_empty() {
        init.insert("cmd".into(), json!(split_command(&group.command)));
    } else if let Some(cmd) = &x.cmd {
        init.insert("cmd".into(), json!(cmd));
    }
    if let Some(entrypoint) = &x.entrypoint {
        init.insert("entrypoint".into(), json!(entrypoint));
    }
    if let Some(exec) = &x.exec {
        init.insert("exec".into(), json!(exec));
    }
    if let Some(swap) = app.machine.swap_size_mb {
        init.insert("swap_size_mb".into(), json!(swap));
    }
    (!init.is_empty()).then_some(Value::Object(init))
}

/// A command line as the argv flyctl sends (shell-style quoting).
pub fn split_command(command: &str) -> Vec<String> {
    shlex::split(command).unwrap_or_else(|| command.split_whitespace().map(str::to_string).collect())
}

fn guest(group: &ProcessGroup, current: Option<&Value>) -> Value {
    if let Some(vm) = &group.vm {
        let mut guest = json!({
            "cpu_kind": vm.cpu_kind.as_deref().unwrap_or("shared"),
            "cpus": vm.cpus.unwrap_or(1),
            "memory_mb": vm.memory_mb.unwrap_or(256),
        });
        if let Some(gpus) = vm.gpus {
            guest["gpus"] = json!(gpus);
        }
        if let Some(kind) = &vm.gpu_kind {
            guest["gpu_kind"] = json!(kind);
        }
        return guest;
    }
    current
        .and_then(|c| c.get("guest"))
        .cloned()
        .unwrap_or_else(|| json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}))
}

fn metadata(group: &str, release: &Release, current: Option<&Value>) -> Map<String, Value> {
    // Keys someone else set on the machine (`fly machine update --metadata`)
    // survive a deploy, as they do with flyctl.
    let mut metadata: Map<String, Value> = current
        .and_then(|c| c.get("metadata"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for key in [meta::LAUNCH_ID, meta::CANARY, meta::BLUEGREEN_TAG, meta::LEGACY_PROCESS_GROUP] {
        metadata.remove(key);
    }
    metadata.insert(meta::PLATFORM_VERSION.into(), json!("v2"));
    metadata.insert(meta::PROCESS_GROUP.into(), json!(group));
    metadata.insert(meta::RELEASE_ID.into(), json!(release.id));
    metadata.insert(meta::RELEASE_VERSION.into(), json!(release.version.to_string()));
    metadata.insert(meta::FERRY_VERSION.into(), json!(env!("CARGO_PKG_VERSION")));
    metadata
}

fn service(s: &Service, checks: &[Check]) -> Value {
    let ports: Vec<Value> = s
        .ports
        .iter()
        .map(|p| {
            let mut port = Map::new();
            if let Some(n) = p.port {
                port.insert("port".into(), json!(n));
            }
            if let Some(n) = p.start_port {
                port.insert("start_port".into(), json!(n));
            }
            if let Some(n) = p.end_port {
                port.insert("end_port".into(), json!(n));
            }
            if !p.handlers.is_empty() {
                port.insert("handlers".into(), json!(p.handlers));
            }
            if p.force_https {
                port.insert("force_https".into(), json!(true));
            }
            Value::Object(port)
        })
        .collect();
    let mut service = json!({"protocol": s.protocol, "internal_port": s.internal_port, "ports": ports});
    if let Some(stop) = &s.auto_stop_machines {
        service["autostop"] = json!(stop);
    }
    if let Some(start) = s.auto_start_machines {
        service["autostart"] = json!(start);
    }
    if let Some(min) = s.min_machines_running {
        service["min_machines_running"] = json!(min);
    }
    if let Some(c) = &s.concurrency {
        let mut concurrency = json!({"type": c.kind});
        if let Some(n) = c.soft_limit {
            concurrency["soft_limit"] = json!(n);
        }
        if let Some(n) = c.hard_limit {
            concurrency["hard_limit"] = json!(n);
        }
        service["concurrency"] = concurrency;
    }
    let own: Vec<Value> = checks
        .iter()
        .filter(|c| c.scope == CheckScope::Service && c.port == Some(s.internal_port))
        .map(|c| check(c, false))
        .collect();
    if !own.is_empty() {
        service["checks"] = Value::Array(own);
    }
    service
}

fn machine_checks(app: &AppSpec, checks: &[Check]) -> Map<String, Value> {
    let default_port = app.services.iter().find(|s| s.http_service).or(app.services.first()).map(|s| s.internal_port);
    checks
        .iter()
        .filter(|c| c.scope == CheckScope::Machine)
        .map(|c| {
            let mut value = check(c, true);
            if value.get("port").is_none()
                && let Some(port) = default_port
            {
                value["port"] = json!(port);
            }
            (c.name.clone(), value)
        })
        .collect()
}

fn check(c: &Check, with_port: bool) -> Value {
    let mut check = json!({"type": c.kind});
    if with_port && let Some(port) = c.port {
        check["port"] = json!(port);
    }
    let durations = [("interval", c.interval_ms), ("timeout", c.timeout_ms), ("grace_period", c.grace_period_ms)];
    for (key, ms) in durations {
        if let Some(ms) = ms {
            check[key] = json!(go_duration(ms));
        }
    }
    for (key, value) in [("method", &c.method), ("path", &c.path), ("protocol", &c.protocol)] {
        if let Some(v) = value {
            check[key] = json!(v);
        }
    }
    if let Some(skip) = c.tls_skip_verify {
        check["tls_skip_verify"] = json!(skip);
    }
    if !c.headers.is_empty() {
        let headers: Vec<Value> = c.headers.iter().map(|(k, v)| json!({"name": k, "values": [v]})).collect();
        check["headers"] = Value::Array(headers);
    }
    check
}

fn stop_config(app: &AppSpec) -> Option<Value> {
    let m = &app.machine;
    if m.kill_signal.is_none() && m.kill_timeout_ms.is_none() {
        return None;
    }
    let mut stop = Map::new();
    if let Some(signal) = &m.kill_signal {
        stop.insert("signal".into(), json!(signal));
    }
    if let Some(ms) = m.kill_timeout_ms {
        stop.insert("timeout".into(), json!(go_duration(ms)));
    }
    Some(Value::Object(stop))
}

fn file(f: &ferry_step_sdk::types::File) -> Value {
    match &f.source {
        FileSource::SecretName(name) => json!({"guest_path": f.guest_path, "secret_name": name}),
        FileSource::RawValue(raw) => json!({"guest_path": f.guest_path, "raw_value": base64(raw.as_bytes())}),
        // The host reads a checkout file at apply time; the plan names it.
        FileSource::LocalPath(path) => json!({"guest_path": f.guest_path, "local_path": path}),
    }
}

/// The id of the volume named `name` that the machine mounts now.
fn current_volume(current: Option<&Value>, name: &str) -> Option<String> {
    let mounts = current?.get("mounts")?.as_array()?;
    let m = mounts.iter().find(|m| m.get("name").and_then(Value::as_str).is_none_or(|n| n == name))?;
    m.get("volume").and_then(Value::as_str).map(str::to_string)
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn same_machine_ignores_release_keys_and_empty_values() {
        let a = json!({"image": "x:1", "metadata": {"fly_release_id": "a", "fly_process_group": "app"}, "files": []});
        let b = json!({"image": "x:1", "metadata": {"fly_release_id": "b", "fly_process_group": "app", "ferry_launch_id": "k"}});
        assert!(same_machine(&a, &b));
        let c = json!({"image": "x:2", "metadata": {"fly_process_group": "app"}});
        assert!(!same_machine(&a, &c));
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(split_command("bin/rails db:migrate"), ["bin/rails", "db:migrate"]);
        assert_eq!(split_command("sh -c 'a && b'"), ["sh", "-c", "a && b"]);
    }
}
