//! The deploy layer over [`super::to_machine_config`]: what flyctl's
//! `launchInputForLaunch`, `launchInputForUpdate` and
//! `launchInputForReleaseCommand` add (`machines_launchinput.go`,
//! `machines_releasecommand.go`): the image, the release metadata, the
//! volume a machine keeps, whether a machine must be replaced instead of
//! updated, and the release command machine's size.

use ferry_step_sdk::types::{AppSpec, ProcessGroup, StepError};
use serde_json::{Map, Value, json};

use super::{Release, meta, wire};
use crate::observed::Machine;

/// The config of a new machine of `group`: its `[[vm]]` guest, else
/// shared-cpu-1x (flyctl's default without `--vm-*` flags), with the app's
/// `host_dedication_id` over it. Its mount names a volume but no id: the
/// host picks an unattached volume of that name when it creates the
/// machine.
pub fn launch_config(app: &AppSpec, group: &ProcessGroup, image: &str, release: &Release) -> Result<Value, StepError> {
    let mut config = super::to_machine_config(app, group, None)?;
    if config.get("guest").is_none() {
        config["guest"] = wire::default_guest();
    }
    config["image"] = json!(image);
    use_image(&mut config, image);
    set_release_data(&mut config, release);
    // flyctl reads the app's top-level id here, not the group's [[vm]]'s.
    if let Some(id) = &app.machine.host_dedication_id {
        config["guest"]["host_dedication_id"] = json!(id);
    }
    Ok(ordered(config))
}

/// What an existing machine gets, and whether it must be replaced.
#[derive(Clone, Debug, PartialEq)]
pub struct Updated {
    pub config: Value,
    /// Why the machine must be destroyed and created again instead of
    /// updated in place (a volume cannot be attached, detached or swapped
    /// on a machine, nor a machine moved to another dedicated host).
    pub replace: Option<String>,
}

/// flyctl's `launchInputForUpdate`: the machine's config with fly.toml's
/// settings, the new image and release; its mount reconciled with
/// fly.toml's `[mounts]`.
pub fn update_config(app: &AppSpec, group: &ProcessGroup, image: &str, release: &Release, machine: &Machine) -> Result<Updated, StepError> {
    let current = &machine.config;
    let mut config = super::to_machine_config(app, group, Some(current))?;
    config["image"] = json!(image);
    use_image(&mut config, image);
    set_release_data(&mut config, release);
    let mut replace = None;
    let old = current.get("mounts").and_then(Value::as_array).and_then(|m| m.first()).cloned();
    let new_mounts = config.get_mut("mounts").and_then(Value::as_array_mut);
    match (old, new_mounts) {
        (Some(_), None) => {
            replace = Some(format!("fly.toml no longer mounts a volume and machine {} has one: it is replaced by one without", machine.id));
        }
        (Some(old), Some(mounts)) => {
            let new = &mut mounts[0];
            let extend: Vec<(String, Value)> =
                ["extend_threshold_percent", "add_size_gb", "size_gb_limit"].iter().filter_map(|k| new.get(*k).map(|v| (k.to_string(), v.clone()))).collect();
            let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let (old_name, new_name) = (text(&old, "name"), text(new, "name"));
            if old_name.is_empty() {
                // The machine's volume name is unknown: keep its mount.
                *new = old.clone();
            } else if old_name != new_name {
                replace = Some(format!(
                    "machine {} mounts volume `{old_name}` but fly.toml says `{new_name}`: a volume cannot be swapped, so the machine is replaced by one on an unattached `{new_name}` volume",
                    machine.id
                ));
            } else if text(&old, "path") != text(new, "path") {
                if let Some(volume) = old.get("volume") {
                    new["volume"] = volume.clone();
                }
            } else {
                *new = old.clone();
            }
            // The auto-extend settings always come from fly.toml.
            if let Value::Object(m) = new {
                for key in ["extend_threshold_percent", "add_size_gb", "size_gb_limit"] {
                    m.remove(key);
                }
                m.extend(extend);
            }
        }
        (None, Some(mounts)) => {
            let name = mounts[0].get("name").and_then(Value::as_str).unwrap_or_default();
            replace = Some(format!("fly.toml mounts volume `{name}` and machine {} has none: a volume cannot be attached, so it is replaced", machine.id));
        }
        (None, None) => {}
    }
    // A standby that now serves traffic is a standby no longer.
    let serves = config.get("services").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    let stands_by = config.get("standbys").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    if serves && stands_by {
        config.as_object_mut().expect("an object").remove("standbys");
        if let Some(env) = config.get_mut("env").and_then(Value::as_object_mut) {
            env.remove("FLY_STANDBY_FOR");
        }
    }
    if let Some(id) = &app.machine.host_dedication_id {
        let theirs = current.pointer("/guest/host_dedication_id").and_then(Value::as_str).unwrap_or_default();
        if theirs != id {
            let mounted = |c: &Value| c.get("mounts").and_then(Value::as_array).is_some_and(|m| !m.is_empty());
            if mounted(current) && mounted(&config) {
                let volume = config.pointer("/mounts/0/volume").or(current.pointer("/mounts/0/volume")).and_then(Value::as_str).unwrap_or("?");
                return Err(crate::precondition(format!(
                    "machine {} cannot move to dedicated host `{id}` because volume {volume} is attached to it: fork the volume first with `fly volume fork --host-dedication-id {id} {volume}`",
                    machine.id
                )));
            }
            replace.get_or_insert_with(|| format!("machine {} moves to dedicated host `{id}`: it is replaced there", machine.id));
            if !config.get("guest").is_some_and(Value::is_object) {
                config["guest"] = json!({});
            }
            config["guest"]["host_dedication_id"] = json!(id);
        }
    }
    Ok(Updated { config: ordered(config), replace })
}

/// The release command's temporary machine (flyctl's
/// `ToReleaseMachineConfig` and `launchInputForReleaseCommand`): built
/// fresh, never from an earlier one: the image, the app's env with
/// `RELEASE_COMMAND=1`, `[experimental] entrypoint`, every file, the stop
/// settings; no services, checks, mounts, metrics, statics or
/// machine_config; never restarted, destroyed once it exits.
///
/// Its size: `[deploy.release_command_vm]`, else the guest of the
/// default group's machine with the most memory among `machines`, else
/// shared-cpu-2x; then the app's `host_dedication_id` over it.
pub fn release_command_config(app: &AppSpec, command: &str, image: &str, release: &Release, machines: &[&Machine]) -> Value {
    let mut env: Vec<(String, Value)> = app.env.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    // Set below, from the release and the app.
    env.retain(|(k, _)| match k.as_str() {
        "RELEASE_COMMAND" | "FLY_PROCESS_GROUP" => false,
        "PRIMARY_REGION" => app.primary_region.is_none(),
        _ => true,
    });
    env.push(("RELEASE_COMMAND".into(), json!("1")));
    env.push(("FLY_PROCESS_GROUP".into(), json!(meta::RELEASE_COMMAND_GROUP)));
    if let Some(region) = &app.primary_region {
        env.push(("PRIMARY_REGION".into(), json!(region)));
    }
    let mut init = Map::new();
    if let Some(entrypoint) = app.experimental.entrypoint.as_ref().filter(|e| !e.is_empty()) {
        init.insert("entrypoint".into(), json!(entrypoint));
    }
    let cmd = super::split_command(command);
    if !cmd.is_empty() {
        init.insert("cmd".into(), json!(cmd));
    }
    if let Some(swap) = app.machine.swap_size_mb {
        init.insert("swap_size_mb".into(), json!(swap));
    }
    let mut config = json!({
        "env": Value::Object(env.into_iter().collect()),
        "init": Value::Object(init),
        "metadata": {meta::PLATFORM_VERSION: "v2", meta::PROCESS_GROUP: meta::RELEASE_COMMAND_GROUP},
        "image": image,
        "auto_destroy": true,
        "restart": {"policy": "no"},
        "dns": {"skip_registration": true},
    });
    if let Some(stop) = super::stop_config(app) {
        config["stop_config"] = stop;
    }
    let files = super::files(&app.files);
    if !files.is_empty() {
        config["files"] = Value::Array(files);
    }
    let mut guest = match &app.deploy.release_command_vm {
        Some(vm) => wire::guest(vm, app.machine.host_dedication_id.as_deref()),
        None => largest_default_group_guest(app, machines).unwrap_or_else(wire::release_command_default_guest),
    };
    if let Some(id) = &app.machine.host_dedication_id {
        guest["host_dedication_id"] = json!(id);
    }
    config["guest"] = guest;
    set_release_data(&mut config, release);
    ordered(config)
}

/// flyctl's `inferReleaseCommandGuest`: among the default group's
/// machines, the guest of the one with the most memory (the first of
/// equals); a machine without a guest never wins.
fn largest_default_group_guest(app: &AppSpec, machines: &[&Machine]) -> Option<Value> {
    let default = app.groups.first().map(|g| g.name.as_str()).unwrap_or("app");
    let memory = |m: &Machine| m.config.pointer("/guest/memory_mb").and_then(Value::as_u64).unwrap_or(0);
    let mut best: Option<&Machine> = None;
    for m in machines.iter().copied().filter(|m| m.group(default) == default) {
        if memory(m) > best.map(memory).unwrap_or(0) {
            best = Some(m);
        }
    }
    best.and_then(|m| m.config.get("guest").cloned())
}

/// flyctl's `updateContainerImage`: a container whose image is `.` (the
/// one `machine_config` names as the app's) runs the deployed image, and a
/// file whose `image_config` is `.` takes that image's config.
fn use_image(config: &mut Value, image: &str) {
    fn files(list: Option<&mut Value>, image: &str) {
        for f in list.and_then(Value::as_array_mut).into_iter().flatten() {
            if f.get("image_config").and_then(Value::as_str) == Some(".") {
                f["image_config"] = json!(image);
            }
        }
    }
    files(config.get_mut("files"), image);
    for c in config.get_mut("containers").and_then(Value::as_array_mut).into_iter().flatten() {
        if c.get("image").and_then(Value::as_str) == Some(".") {
            c["image"] = json!(image);
        }
        files(c.get_mut("files"), image);
    }
}

/// flyctl's `setMachineReleaseData`: the release's id and version, the
/// platform keys when an old machine lacks them, and no
/// `fly-managed-postgres` (a deploy is not a Postgres cluster's).
///
/// flyctl also writes `fly_flyctl_version`; ferry writes `ferry_version`
/// instead and drops a `fly_flyctl_version` left by an earlier flyctl
/// deploy, so the metadata says which tool deployed this release. ferry's
/// own marks (a create's launch id, canary and blue/green tags) are
/// dropped too: they belong to the machine that had them.
fn set_release_data(config: &mut Value, release: &Release) {
    if !config.get("metadata").is_some_and(Value::is_object) {
        config["metadata"] = json!({});
    }
    let metadata = config["metadata"].as_object_mut().expect("an object");
    for key in [meta::FLYCTL_VERSION, meta::MANAGED_POSTGRES, meta::LAUNCH_ID, meta::CANARY, meta::BLUEGREEN_TAG] {
        metadata.remove(key);
    }
    metadata.insert(meta::RELEASE_ID.into(), json!(release.id));
    metadata.insert(meta::RELEASE_VERSION.into(), json!(release.version.to_string()));
    metadata.insert(meta::FERRY_VERSION.into(), json!(env!("CARGO_PKG_VERSION")));
    metadata.entry(meta::PLATFORM_VERSION).or_insert_with(|| json!("v2"));
    metadata.entry(meta::PROCESS_GROUP).or_insert_with(|| json!("app"));
}

fn ordered(config: Value) -> Value {
    match config {
        Value::Object(map) => Value::Object(wire::in_go_order(map)),
        other => other,
    }
}
