//! fly.toml (or fly.json / fly.yaml): read the way flyctl reads it, then
//! checked the way `fly config validate --strict` checks it, and more.

pub mod flatten;
pub mod names;
mod patch;
mod schema;
pub mod sections;

use ferry_step_sdk::types::ProcessGroup;

use crate::findings::{Findings, Spot};
use crate::node::Node;
use crate::read::{At, Problem};
pub use sections::FlyToml;

/// A read fly.toml with its process groups.
#[derive(Debug)]
pub struct Parsed {
    pub fly: FlyToml,
    pub groups: Vec<ProcessGroup>,
}

/// Normalises legacy forms, warns on unknown keys, reads every section,
/// lets `read_disk` fill in what fly.toml points at on disk (local files,
/// a machine_config file), flattens per group and validates across
/// sections.
pub fn read(mut root: Node, findings: &mut Findings, read_disk: &dyn Fn(&mut FlyToml, &mut Findings)) -> Result<Parsed, Problem> {
    if !root.is_table() {
        return Err(Problem { message: "the top level must be a table of keys".into(), key: String::new(), pos: root.pos });
    }
    patch::normalize(&mut root, findings);
    schema::check(&root, &schema::FLY_TOML, "", findings);
    let mut fly = sections::read(&At::root(&root), findings);
    read_disk(&mut fly, findings);
    let groups = flatten::groups(&fly);
    validate(&fly, &groups, findings);
    Ok(Parsed { fly, groups })
}

/// flyctl's checks that span sections, plus what a reviewer should know.
fn validate(fly: &FlyToml, groups: &[ProcessGroup], findings: &mut Findings) {
    let names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    let default = flatten::default_group(&names);
    let declared = !fly.processes.is_empty();
    for (svc, spot) in fly.services.iter().zip(&fly.service_spots) {
        let what = if svc.http_service { "[http_service]".to_string() } else { spot.key.clone().unwrap_or_default() };
        if declared && svc.processes.is_empty() {
            findings.error(
                "service-without-processes",
                format!("{what} sets no `processes`, but [processes] defines {}; flyctl refuses this", names.join(", ")),
                spot.clone(),
            );
        }
        unknown_groups(&svc.processes, &names, &what, true, spot, findings);
    }
    for r in &fly.restart {
        unknown_groups(&r.processes, &names, "[[restart]]", true, &Spot::new(None, "restart"), findings);
    }
    for (m, spot) in fly.mounts.iter().zip(&fly.mount_spots) {
        unknown_groups(&m.processes, &names, &format!("mount `{}`", m.source), false, spot, findings);
    }
    if names.len() > 1 {
        default_only(fly, &default, findings);
    }
    strategy(fly, groups, findings);
    for g in groups {
        let count = fly.mounts.iter().filter(|m| flatten::applies(&m.processes, &g.name, &default)).count();
        if count > 1 {
            findings.error(
                "several-mounts-per-group",
                format!("process group `{}` gets {count} [[mounts]]; a machine can mount only one volume", g.name),
                fly.mount_spots.get(1).cloned().unwrap_or_default(),
            );
        }
    }
}

fn unknown_groups(processes: &[String], names: &[String], what: &str, fatal: bool, spot: &Spot, findings: &mut Findings) {
    for p in processes.iter().filter(|p| !names.contains(p)) {
        let message = format!("{what} names process group `{p}`, which [processes] does not define ({})", names.join(", "));
        if fatal {
            findings.error("unknown-process-group", message, spot.clone());
        } else {
            findings.warn("unknown-process-group", format!("{message}: it applies to no machine"), spot.clone());
        }
    }
}

/// With several groups, a section without `processes` reaches only the default one.
fn default_only(fly: &FlyToml, default: &str, findings: &mut Findings) {
    let mut say = |what: String| {
        findings.info(
            "default-group-only",
            format!("{what} sets no `processes`, so flyctl applies it to the default group `{default}` only"),
            Spot::new(None, ""),
        )
    };
    for m in fly.mounts.iter().filter(|m| m.processes.is_empty()) {
        say(format!("mount `{}`", m.source));
    }
    for c in fly.checks.iter().filter(|c| c.processes.is_empty()) {
        say(format!("check `{}`", c.name));
    }
    for m in fly.metrics.iter().filter(|m| m.processes.is_empty()) {
        say(format!("metrics on port {}", m.port));
    }
}

/// Strategy rules: canary cannot work with volumes (flyctl refuses it);
/// blue-green needs a health check on every serving group and no volumes
/// (Fly's docs; flyctl only finds out mid-deploy).
fn strategy(fly: &FlyToml, groups: &[ProcessGroup], findings: &mut Findings) {
    let Some(strategy) = fly.deploy.strategy.as_deref() else { return };
    let spot = fly.strategy_spot.clone().unwrap_or_default();
    match strategy {
        "canary" if !fly.mounts.is_empty() => findings.error(
            "canary-with-mounts",
            "the canary strategy cannot be used with [mounts]: a canary machine would need its own volume (flyctl refuses this)",
            spot,
        ),
        "bluegreen" => {
            if !fly.mounts.is_empty() {
                findings.warn(
                    "bluegreen-with-volumes",
                    "blue-green deploys do not work with volumes: green machines cannot attach the blue machines' volumes",
                    spot.clone(),
                );
            }
            for g in groups.iter().filter(|g| !g.services.is_empty() && g.checks.is_empty()) {
                findings.warn(
                    "bluegreen-without-checks",
                    format!("blue-green needs a health check on group `{}`; without one the deploy fails when it tries to switch", g.name),
                    spot.clone(),
                );
            }
        }
        _ => {}
    }
}
