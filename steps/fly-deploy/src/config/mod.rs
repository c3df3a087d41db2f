//! fly.toml -> Machines API `MachineConfig`, per process group, built the
//! way flyctl builds it, so a machine deployed by ferry is the machine
//! flyctl would have deployed:
//!
//! - [`to_machine_config`] is flyctl's `appconfig.ToMachineConfig`: the
//!   machine's current config is cloned and only what fly.toml owns is
//!   overwritten ([`OWNED`]); everything else (`schedule`, `dns`,
//!   `standbys`, `containers`, `init.tty`, user metadata, a guest set by
//!   `fly scale` when fly.toml has no `[[vm]]`…) is kept.
//! - [`deploy`] is the deploy layer on top (`machines_launchinput.go`): the
//!   image, release metadata, the volume a machine keeps, when a machine
//!   must be replaced, and the release command's machine.
//!
//! The JSON shapes are fly-go's ([`wire`]). The oracle tests
//! (`tests/flyctl_oracle.rs`) hold flyctl's own test cases as data.

pub mod deploy;
pub mod merge;
pub mod wire;

use ferry_step_sdk::types::{AppSpec, CheckScope, File, FileSource, ProcessGroup, RestartPolicy, StepError};
use serde_json::{Map, Value, json};

pub use deploy::{Updated, launch_config, release_command_config, update_config};

/// Metadata keys flyctl writes and reads (fly-go `machine_types.go`), as
/// the host's client reads them.
pub use ferry_step_sdk::fly_wire::metadata as meta;

/// The release a deploy writes into every machine's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub id: String,
    pub version: u64,
}

/// The `MachineConfig` fields fly.toml owns: a deploy overwrites them (or
/// removes them when fly.toml no longer sets them). `guest` only when the
/// group has a `[[vm]]`; `metadata` only its fly keys; `init` only `cmd`,
/// `entrypoint`, `exec` and `swap_size_mb`.
pub const OWNED: [&str; 12] = ["env", "init", "metadata", "mounts", "services", "metrics", "checks", "statics", "files", "stop_config", "restart", "guest"];

/// flyctl's `ToMachineConfig(group, current)`: `current` (the machine's
/// config, or none for a new machine) with `machine_config` merged in,
/// then every field fly.toml owns set from fly.toml. No image and no
/// release metadata yet: [`deploy`] adds them.
///
/// Fails as flyctl does when a top-level check has no port and the group
/// has no `[http_service]` to take one from.
pub fn to_machine_config(app: &AppSpec, group: &ProcessGroup, current: Option<&Value>) -> Result<Value, StepError> {
    let mut config = match current {
        Some(Value::Object(c)) => Value::Object(c.clone()),
        _ => json!({}),
    };
    if let Some(extra) = &app.machine.machine_config {
        let extra: Value = serde_json::from_str(extra).map_err(|e| crate::invalid(app, &format!("machine_config is not valid JSON: {e}")))?;
        merge::unmarshal_into(&mut config, &extra);
    }
    let Value::Object(c) = &mut config else { unreachable!("built as an object") };

    match group.metrics.first() {
        Some(m) => {
            let mut metrics = Map::new();
            if m.port != 0 {
                metrics.insert("port".into(), json!(m.port));
            }
            if !m.path.is_empty() {
                metrics.insert("path".into(), json!(m.path));
            }
            if m.https {
                metrics.insert("https".into(), json!(true));
            }
            c.insert("metrics".into(), Value::Object(metrics));
        }
        None => {
            c.remove("metrics");
        }
    }

    let init = c.entry("init").or_insert_with(|| json!({}));
    if !init.is_object() {
        *init = json!({});
    }
    set_init(init, app, group);

    let metadata = c.entry("metadata").or_insert_with(|| json!({}));
    if !metadata.is_object() {
        *metadata = json!({});
    }
    metadata[meta::PLATFORM_VERSION] = json!("v2");
    metadata[meta::PROCESS_GROUP] = json!(group.name);

    let services: Vec<Value> = group
        .services
        .iter()
        .map(|s| {
            let checks: Vec<_> = group.checks.iter().filter(|ch| ch.scope == CheckScope::Service && ch.port == Some(s.internal_port)).collect();
            wire::service(s, &checks)
        })
        .collect();
    set_or_remove(c, "services", (!services.is_empty()).then_some(Value::Array(services)));

    let checks = top_level_checks(app, group)?;
    set_or_remove(c, "checks", (!checks.is_empty()).then_some(Value::Object(checks)));

    c.insert("env".into(), Value::Object(env(app, &group.name)));

    let statics: Vec<Value> = app
        .statics
        .iter()
        .map(|s| {
            json!({
                "guest_path": s.guest_path,
                "url_prefix": s.url_prefix,
                "tigris_bucket": s.tigris_bucket.clone().unwrap_or_default(),
                "index_document": s.index_document.clone().unwrap_or_default(),
            })
        })
        .collect();
    set_or_remove(c, "statics", (!statics.is_empty()).then_some(Value::Array(statics)));

    let mounts: Vec<Value> = group.mount.iter().map(mount).collect();
    set_or_remove(c, "mounts", (!mounts.is_empty()).then_some(Value::Array(mounts)));

    set_or_remove(c, "stop_config", stop_config(app));

    let files = files(&app.files);
    set_or_remove(c, "files", (!files.is_empty()).then_some(Value::Array(files)));

    if let Some(vm) = &group.vm {
        c.insert("guest".into(), wire::guest(vm, app.machine.host_dedication_id.as_deref()));
    }

    let restart = group.restart.as_ref().map(|r| {
        // fly-go's MachineRestart spells never `no` (RestartPolicyNo).
        let policy = match r.policy {
            RestartPolicy::Never => "no",
            RestartPolicy::Always | RestartPolicy::OnFailure => r.policy.as_str(),
        };
        let mut restart = Map::new();
        restart.insert("policy".into(), json!(policy));
        if let Some(n) = r.retries.filter(|n| *n != 0) {
            restart.insert("max_retries".into(), json!(n));
        }
        Value::Object(restart)
    });
    set_or_remove(c, "restart", restart);

    Ok(Value::Object(wire::in_go_order(std::mem::take(c))))
}

fn set_or_remove(config: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        Some(v) => {
            config.insert(key.into(), v);
        }
        None => {
            config.remove(key);
        }
    }
}

/// `init`: `cmd` from `[processes]` (shell-split; empty means the image's
/// CMD), else `[experimental] cmd`; `entrypoint` and `exec` from
/// `[experimental]`; `swap_size_mb` from the top level. `tty` and
/// `kernel_args` are the machine's own and stay.
fn set_init(init: &mut Value, app: &AppSpec, group: &ProcessGroup) {
    let x = &app.experimental;
    let cmd = if group.command.trim().is_empty() { x.cmd.clone() } else { Some(split_command(&group.command)) };
    let init = init.as_object_mut().expect("an object");
    for (key, value) in [("entrypoint", x.entrypoint.clone()), ("exec", x.exec.clone()), ("cmd", cmd)] {
        set_or_remove(init, key, value.filter(|v| !v.is_empty()).map(|v| json!(v)));
    }
    set_or_remove(init, "swap_size_mb", app.machine.swap_size_mb.map(|n| json!(n)));
}

/// `[env]`, plus `FLY_PROCESS_GROUP`, plus `PRIMARY_REGION` when
/// `primary_region` is set (it then wins over an `[env]` one). The
/// machine's own env is not kept.
fn env(app: &AppSpec, group: &str) -> Map<String, Value> {
    let mut env: Vec<(String, Value)> = app.env.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    env.retain(|(k, _)| k != "FLY_PROCESS_GROUP" && !(k == "PRIMARY_REGION" && app.primary_region.is_some()));
    env.push(("FLY_PROCESS_GROUP".into(), json!(group)));
    if let Some(region) = &app.primary_region {
        env.push(("PRIMARY_REGION".into(), json!(region)));
    }
    env.sort_by(|a, b| a.0.cmp(&b.0));
    env.dedup_by(|later, earlier| later.0 == earlier.0);
    env.into_iter().collect()
}

/// Top-level `[checks]` of the group; a check without `port` takes the
/// group's `[http_service]` internal port, and without one the deploy
/// fails, as flyctl's does.
fn top_level_checks(app: &AppSpec, group: &ProcessGroup) -> Result<Map<String, Value>, StepError> {
    let http_port = group.services.iter().find(|s| s.http_service).map(|s| s.internal_port);
    let mut checks = Map::new();
    for c in group.checks.iter().filter(|c| c.scope == CheckScope::Machine) {
        let mut check = c.clone();
        if check.port.is_none() {
            check.port = Some(http_port.ok_or_else(|| {
                crate::invalid(
                    app,
                    &format!("Check '{}' for process group '{}' has no port set and the group has no http_service to take it from", c.name, group.name),
                )
            })?);
        }
        checks.insert(c.name.clone(), wire::check(&check, true));
    }
    Ok(checks)
}

fn mount(m: &ferry_step_sdk::types::Mount) -> Value {
    let mut mount = Map::new();
    mount.insert("path".into(), json!(m.destination));
    mount.insert("name".into(), json!(m.source));
    for (key, n) in [
        ("extend_threshold_percent", m.auto_extend_size_threshold),
        ("add_size_gb", m.auto_extend_size_increment_gb),
        ("size_gb_limit", m.auto_extend_size_limit_gb),
    ] {
        if let Some(n) = n.filter(|n| *n != 0) {
            mount.insert(key.into(), json!(n));
        }
    }
    Value::Object(mount)
}

/// `stop_config`: only when `kill_signal` or `kill_timeout` is set, with
/// only what is set (flyctl writes no default).
fn stop_config(app: &AppSpec) -> Option<Value> {
    let m = &app.machine;
    if m.kill_signal.is_none() && m.kill_timeout_ms.is_none() {
        return None;
    }
    let mut stop = Map::new();
    if let Some(ms) = m.kill_timeout_ms {
        stop.insert("timeout".into(), json!(wire::go_duration(ms)));
    }
    if let Some(signal) = &m.kill_signal {
        stop.insert("signal".into(), json!(signal));
    }
    Some(Value::Object(stop))
}

/// Every `[[files]]` entry, for every group (flyctl ignores `processes` on
/// files: its `MergedFiles` are built before flattening), merged by guest
/// path as `fly.MergeFiles` does: a later entry replaces an earlier one in
/// its place. `raw_value` is base64-encoded here, as flyctl encodes it.
pub fn files(entries: &[File]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for f in entries {
        let file = match &f.source {
            FileSource::SecretName(name) => json!({"guest_path": f.guest_path, "secret_name": name}),
            FileSource::RawValue(raw) => json!({"guest_path": f.guest_path, "raw_value": base64(raw.as_bytes())}),
            FileSource::LocalPath(local) => json!({"guest_path": f.guest_path, "raw_value": local.base64}),
        };
        match out.iter().position(|o| o["guest_path"] == file["guest_path"]) {
            Some(i) => out[i] = file,
            None => out.push(file),
        }
    }
    out
}

/// A command line as the argv flyctl sends (shell-style quoting).
pub fn split_command(command: &str) -> Vec<String> {
    shlex::split(command).unwrap_or_else(|| command.split_whitespace().map(str::to_string).collect())
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(split_command("bin/rails db:migrate"), ["bin/rails", "db:migrate"]);
        assert_eq!(split_command("sh -c 'a && b'"), ["sh", "-c", "a && b"]);
    }

    #[test]
    fn files_merge_by_guest_path_and_encode_raw_values() {
        let file = |path: &str, source| File { guest_path: path.into(), source, processes: vec![] };
        let merged = files(&[
            file("/a", FileSource::RawValue("hello world\n".into())),
            file("/b", FileSource::SecretName("B".into())),
            file("/a", FileSource::RawValue("bye\n".into())),
        ]);
        assert_eq!(merged, [json!({"guest_path": "/a", "raw_value": "YnllCg=="}), json!({"guest_path": "/b", "secret_name": "B"})]);
        assert_eq!(base64(b"hello world\n"), "aGVsbG8gd29ybGQK");
    }
}
