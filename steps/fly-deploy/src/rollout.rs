//! The order changes happen in: flyctl's four strategies, each with a
//! rollback (every action carries its undo; the host undoes a failed
//! phase in reverse).
//!
//! Common to all: the release command runs first and alone; then
//! first-deploy addresses and volumes; then machines of removed groups go
//! and new groups get theirs; then existing machines are updated the
//! strategy's way.

use ferry_step_sdk::types::{Action, AppSpec, FlyMachine, FlyWait, IpKind};
use serde_json::Value;

use crate::actions::{self, count};
use crate::changes::{Changes, NewGroup, Replacement, Update};
use crate::config::{Release, meta};
use crate::options::{IpAllocation, Options, Strategy};
use crate::{overrides, precondition};

/// flyctl's `STOPPED_MACHINES_POOL_SIZE`: stopped machines update 30 at a time.
const COLD_POOL: usize = 30;

/// The deploy's actions. `key` names this deploy in launch ids (see
/// [`crate::deploy_key`]).
pub fn actions(
    app: &AppSpec,
    name: &str,
    changes: &Changes,
    options: &Options,
    release: &Release,
    key: &str,
) -> Result<Vec<Action>, ferry_step_sdk::types::StepError> {
    let mut out = Vec::new();
    if let (Some(command), false) = (app.deploy.release_command.as_deref(), options.skip_release_command) {
        let region = app.primary_region.clone().or_else(|| changes.updates.first().map(|u| u.machine.region.clone()));
        let region = region.unwrap_or_else(|| "iad".into());
        let config = overrides::release_command_config(app, command, options, release, &changes.managed);
        out.push(actions::release_command(name, command, &region, config.to_string(), options.release_command_timeout_ms));
    }
    if changes.needs_ips {
        first_deploy_ips(name, app, options.ips, &mut out);
    }
    let wait = FlyWait {
        health: !options.detach && options.strategy != Strategy::Immediate,
        timeout_ms: options.wait_timeout_ms,
        smoke_check_ms: options.smoke_check_ms(),
        retries: options.deploy_retries,
    };
    if !changes.removed.is_empty() {
        let ids: Vec<String> = changes.removed.iter().map(|m| m.id.clone()).collect();
        let groups = unique(changes.removed.iter().map(|m| m.group("")));
        out.push(actions::destroy_machines(
            "destroy:removed-groups".into(),
            format!("destroy {} of process group(s) no longer in fly.toml: {}", count(ids.len(), "machine"), groups.join(", ")),
            actions::refs(name, ids, vec![]),
            "Their process group is gone from fly.toml (flyctl destroys them too)",
        ));
    }
    for group in &changes.new_groups {
        new_group(app, name, group, options, key, wait, &mut out);
    }
    for r in &changes.replacements {
        replace(name, r, release, wait, &mut out);
    }
    if changes.updates.is_empty() {
        return Ok(out);
    }
    match options.strategy {
        Strategy::Immediate => immediate(name, &changes.updates, wait, &mut out),
        Strategy::Rolling => rolling(name, &changes.updates, options, wait, &mut out),
        Strategy::Canary => {
            canary(name, app, &changes.updates, key, wait, &mut out)?;
            rolling(name, &changes.updates, options, wait, &mut out);
        }
        Strategy::Bluegreen => bluegreen(name, &changes.updates, options, key, wait, &mut out)?,
    }
    Ok(out)
}

/// A first deploy's addresses (`provisionIpsOnFirstDeploy`,
/// `deploy_first.go:29-124`): none with `--no-public-ips`, one private IPv6
/// with `--flycast`, otherwise public ones.
fn first_deploy_ips(name: &str, app: &AppSpec, ips: IpAllocation, out: &mut Vec<Action>) {
    match ips {
        IpAllocation::None => {}
        IpAllocation::Private => out.push(actions::allocate_ip(name, IpKind::PrivateV6, None)),
        IpAllocation::Public => out.extend(actions::public_ips(name, app)),
    }
}

fn new_group(app: &AppSpec, name: &str, group: &NewGroup, options: &Options, key: &str, wait: FlyWait, out: &mut Vec<Action>) {
    if let Some((volume, size)) = &group.volume {
        // `--volume-initial-size` when `[mounts].initial_size` does not say
        // (`deploy_first.go:160-171`).
        let mount = app.groups.iter().find(|g| g.name == group.group).and_then(|g| g.mount.as_ref());
        let sized_by_fly_toml = mount.is_some_and(|m| m.initial_size.is_some());
        let size = match options.volume_initial_size_gb {
            Some(gb) if !sized_by_fly_toml => gb,
            _ => *size,
        };
        for n in 0..group.count {
            out.push(actions::create_volume(name, volume, &group.region, size, n, Some(&group.config), mount));
        }
    }
    let machines: Vec<FlyMachine> = (0..group.count)
        .map(|n| FlyMachine {
            id: None,
            launch_id: Some(format!("{key}-{}-{n}", group.group)),
            name: None,
            region: group.region.clone(),
            group: group.group.clone(),
            config: group.config.to_string(),
            skip_launch: false,
            skip_service_registration: false,
        })
        .collect();
    out.push(actions::create_machines(
        format!("create:{}", group.group),
        format!("create {} for new process group `{}` in {}", count(group.count, "machine"), group.group, group.region),
        name,
        machines,
        wait,
    ));
}

/// flyctl's replacement: the machine is destroyed (its volume, if any, is
/// freed), then created again with the new config, which takes an
/// unattached volume of the name fly.toml gives. One machine at a time;
/// undone in reverse, the new machine goes and the old one is recreated
/// from its saved config.
fn replace(name: &str, r: &Replacement, release: &Release, wait: FlyWait, out: &mut Vec<Action>) {
    let id = &r.machine.id;
    out.push(actions::destroy_machines(
        format!("replace:{id}:destroy"),
        format!("destroy {} {id} to replace it", r.group),
        actions::refs(name, vec![id.clone()], vec![]),
        &r.why,
    ));
    let machine = FlyMachine {
        id: None,
        launch_id: Some(format!("{}-replace-{id}", release.id)),
        name: None,
        region: r.machine.region.clone(),
        group: r.group.clone(),
        config: r.config.to_string(),
        skip_launch: !r.machine.is_warm(),
        skip_service_registration: false,
    };
    out.push(actions::create_machines(
        format!("replace:{id}:create"),
        format!("create the {} machine that replaces {id} in {}", r.group, r.machine.region),
        name,
        vec![machine],
        wait,
    ));
}

fn as_update(u: &Update) -> FlyMachine {
    FlyMachine {
        id: Some(u.machine.id.clone()),
        launch_id: None,
        name: Some(u.machine.name.clone()),
        region: u.machine.region.clone(),
        group: u.group.clone(),
        config: u.config.to_string(),
        skip_launch: !u.machine.is_warm(),
        skip_service_registration: false,
    }
}

fn immediate(name: &str, updates: &[Update], wait: FlyWait, out: &mut Vec<Action>) {
    let machines: Vec<FlyMachine> = updates.iter().map(as_update).collect();
    out.push(actions::update_machines(
        "update:all".into(),
        format!("update {} at once (immediate: no health wait)", count(machines.len(), "machine")),
        name,
        machines,
        wait,
        describe_changes(updates),
    ));
}

/// flyctl's rolling update: stopped machines together (they serve
/// nothing), then per group one running machine alone (the spearhead),
/// then the rest in pools of `max_unavailable`. Groups roll side by side:
/// batch k holds every group's k-th pool, as flyctl runs groups in
/// parallel.
fn rolling(name: &str, updates: &[Update], options: &Options, wait: FlyWait, out: &mut Vec<Action>) {
    let cold: Vec<&Update> = updates.iter().filter(|u| !u.machine.is_warm()).collect();
    for (i, chunk) in cold.chunks(COLD_POOL).enumerate() {
        let machines: Vec<FlyMachine> = chunk.iter().map(|u| as_update(u)).collect();
        out.push(actions::update_machines(
            format!("update:stopped:{i}"),
            format!("update {} (left stopped)", count(machines.len(), "stopped machine")),
            name,
            machines,
            wait,
            describe_changes(updates),
        ));
    }
    let mut per_group: Vec<Vec<Vec<&Update>>> = Vec::new();
    for group in unique(updates.iter().map(|u| u.group.as_str())) {
        let warm: Vec<&Update> = updates.iter().filter(|u| u.group == group && u.machine.is_warm()).collect();
        let Some((spearhead, rest)) = warm.split_first() else { continue };
        let mut batches = vec![vec![*spearhead]];
        batches.extend(rest.chunks(options.pool_size(warm.len())).map(<[&Update]>::to_vec));
        per_group.push(batches);
    }
    let total = per_group.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..total {
        let batch: Vec<&Update> = per_group.iter().filter_map(|b| b.get(k)).flatten().copied().collect();
        let machines: Vec<FlyMachine> = batch.iter().map(|u| as_update(u)).collect();
        let label = if k == 0 { "spearhead".to_string() } else { format!("batch {} of {}", k + 1, total) };
        out.push(actions::update_machines(
            format!("update:{k}"),
            format!("update {}: {} — {label}", count(machines.len(), "machine"), short_list(&batch)),
            name,
            machines,
            wait,
            describe_changes(updates),
        ));
    }
}

/// One extra machine per group, with the new config, out of the proxy;
/// healthy, it is destroyed and the rolling update runs. A failing canary
/// stops the deploy before any existing machine changed.
fn canary(name: &str, app: &AppSpec, updates: &[Update], key: &str, wait: FlyWait, out: &mut Vec<Action>) -> Result<(), ferry_step_sdk::types::StepError> {
    let mut machines = Vec::new();
    for group in unique(updates.iter().map(|u| u.group.as_str())) {
        if app.groups.iter().any(|g| g.name == group && g.mount.is_some()) {
            return Err(precondition(format!("the canary strategy cannot be used with volumes (group `{group}` mounts one): use rolling")));
        }
        let first = updates.iter().find(|u| u.group == group).expect("a group comes from its updates");
        let mut config = first.config.clone();
        config["metadata"][meta::CANARY] = Value::from("true");
        machines.push(FlyMachine {
            id: None,
            launch_id: Some(format!("{key}-canary-{group}")),
            name: None,
            region: first.machine.region.clone(),
            group: group.to_string(),
            config: config.to_string(),
            skip_launch: false,
            skip_service_registration: true,
        });
    }
    let launch_ids: Vec<String> = machines.iter().filter_map(|m| m.launch_id.clone()).collect();
    let n = machines.len();
    out.push(actions::create_machines(
        "canary:create".into(),
        format!("create {} with the new release, out of rotation, and wait for its checks", count(n, "canary machine")),
        name,
        machines,
        FlyWait { health: true, ..wait },
    ));
    out.push(actions::destroy_machines(
        "canary:destroy".into(),
        format!("destroy the {} (it passed)", count(n, "canary machine")),
        actions::refs(name, vec![], launch_ids),
        "The canary served its purpose",
    ));
    Ok(())
}

/// flyctl's blue/green: a green machine beside every blue one, out of the
/// proxy until all are healthy; then greens in, blues marked, drained,
/// cordoned, drained, destroyed. Undone in reverse, the blues come back
/// (recreated from their saved configs if already destroyed) before the
/// greens go.
fn bluegreen(
    name: &str,
    updates: &[Update],
    options: &Options,
    key: &str,
    wait: FlyWait,
    out: &mut Vec<Action>,
) -> Result<(), ferry_step_sdk::types::StepError> {
    if updates.iter().any(|u| u.config.get("mounts").is_some()) {
        return Err(precondition(
            "the bluegreen strategy cannot replace machines that mount volumes (each green would need its own copy of the data): use rolling",
        ));
    }
    let has_checks = |c: &Value| {
        c.get("checks").and_then(Value::as_object).is_some_and(|m| !m.is_empty())
            || c.get("services").and_then(Value::as_array).is_some_and(|s| s.iter().any(|s| s.get("checks").is_some()))
    };
    if !updates.iter().any(|u| has_checks(&u.config)) {
        return Err(precondition(
            "the bluegreen strategy needs at least one health check to know when greens are ready: add [[http_service.checks]] or [checks] to fly.toml",
        ));
    }
    let images = unique(updates.iter().map(|u| u.machine.image.as_str()));
    if images.len() > 1 {
        return Err(precondition(format!(
            "the machines run different images ({}): bluegreen replaces one consistent release; finish or roll back the earlier deploy first (e.g. with the rolling strategy)",
            images.join(", ")
        )));
    }
    let greens: Vec<FlyMachine> = updates
        .iter()
        .map(|u| {
            let mut config = u.config.clone();
            // Left empty: the host writes the deploy's unix seconds, as
            // flyctl does (`strategy_bluegreen.go`); a reviewed plan cannot
            // hold the time it will run at.
            config["metadata"][meta::BLUEGREEN_TAG] = Value::from("");
            FlyMachine {
                id: None,
                launch_id: Some(format!("{key}-green-{}", u.machine.id)),
                name: None,
                region: u.machine.region.clone(),
                group: u.group.clone(),
                config: config.to_string(),
                skip_launch: !u.machine.is_warm(),
                skip_service_registration: true,
            }
        })
        .collect();
    let green_ids: Vec<String> = greens.iter().filter_map(|m| m.launch_id.clone()).collect();
    let blue_ids: Vec<String> = updates.iter().map(|u| u.machine.id.clone()).collect();
    let n = greens.len();
    let green_refs = actions::refs(name, vec![], green_ids);
    let blue_refs = actions::refs(name, blue_ids, vec![]);
    out.push(actions::create_machines(
        "bluegreen:create-greens".into(),
        format!("create {} beside the blue ones, out of rotation, and wait for their checks", count(n, "green machine")),
        name,
        greens,
        FlyWait { health: true, ..wait },
    ));
    out.push(actions::uncordon("bluegreen:greens-in".into(), format!("put the {} into rotation", count(n, "green machine")), green_refs));
    out.push(actions::set_metadata(
        "bluegreen:mark-blues".into(),
        format!("mark the {} safe to destroy", count(n, "blue machine")),
        blue_refs.clone(),
        meta::BLUEGREEN_TAG,
        Some("safe_to_destroy".into()),
    ));
    out.push(actions::wait("bluegreen:drain-1".into(), options.bluegreen_drain_ms, "greens start taking traffic"));
    out.push(actions::cordon("bluegreen:blues-out".into(), format!("take the {} out of rotation", count(n, "blue machine")), blue_refs.clone()));
    out.push(actions::wait("bluegreen:drain-2".into(), options.bluegreen_drain_ms, "blues finish their requests"));
    out.push(actions::destroy_machines(
        "bluegreen:destroy-blues".into(),
        format!("stop and destroy the {}", count(n, "blue machine")),
        blue_refs,
        "The greens replaced them",
    ));
    Ok(())
}

/// What the update changes, from the first machine's point of view:
/// `image a -> b; env +X ~Y; services`.
fn describe_changes(updates: &[Update]) -> String {
    let Some(u) = updates.first() else { return String::new() };
    let (old, new) = (&u.machine.config, &u.config);
    let mut parts = Vec::new();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("none").to_string();
    if old.get("image") != new.get("image") {
        parts.push(format!("image {} -> {}", text(old.get("image")), text(new.get("image"))));
    }
    let keys = |v: &Value, k: &str| v.get(k).and_then(Value::as_object).cloned().unwrap_or_default();
    let (old_env, new_env) = (keys(old, "env"), keys(new, "env"));
    let mut env = Vec::new();
    env.extend(new_env.keys().filter(|k| !old_env.contains_key(*k)).map(|k| format!("+{k}")));
    env.extend(old_env.keys().filter(|k| !new_env.contains_key(*k)).map(|k| format!("-{k}")));
    env.extend(new_env.iter().filter(|(k, v)| old_env.get(*k).is_some_and(|o| o != *v)).map(|(k, _)| format!("~{k}")));
    if !env.is_empty() {
        parts.push(format!("env {}", env.join(" ")));
    }
    for key in ["init", "guest", "services", "checks", "mounts", "restart", "stop_config", "files", "metrics", "statics"] {
        if old.get(key) != new.get(key) {
            parts.push(key.to_string());
        }
    }
    if parts.is_empty() { "Changes: release metadata".into() } else { format!("Changes: {}", parts.join("; ")) }
}

fn short_list(batch: &[&Update]) -> String {
    let names: Vec<String> = batch.iter().map(|u| format!("{} {}", u.group, u.machine.id)).collect();
    if names.len() <= 4 { names.join(", ") } else { format!("{}, … ({} more)", names[..3].join(", "), names.len() - 3) }
}

fn unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}
