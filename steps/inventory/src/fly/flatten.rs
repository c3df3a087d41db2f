//! Process groups, as flyctl's `Flatten` builds a machine's config.
//!
//! flyctl's rule (processgroups.go), which differs from what its docs
//! suggest: a section whose `processes` list is empty applies to the
//! *default* group only (`app` when it exists, else the first group name
//! in sorted order), except `[[vm]]`, which then applies to every group.

use ferry_step_sdk::types::{Check, ProcessGroup, Vm};

use super::sections::FlyToml;

/// The group an app has when fly.toml defines none.
pub const DEFAULT_GROUP: &str = "app";

/// Group names in flyctl's order: sorted, or `["app"]` with no `[processes]`.
pub fn group_names(fly: &FlyToml) -> Vec<String> {
    let mut names: Vec<String> = fly.processes.iter().map(|p| p.name.clone()).collect();
    if names.is_empty() {
        names.push(DEFAULT_GROUP.to_string());
    }
    names.sort();
    names.dedup();
    names
}

/// `app` if it is a group, else the first group name.
pub fn default_group(names: &[String]) -> String {
    if names.iter().any(|n| n == DEFAULT_GROUP) { DEFAULT_GROUP.to_string() } else { names[0].clone() }
}

/// Does a section with this `processes` list apply to `group`?
pub fn applies(processes: &[String], group: &str, default: &str) -> bool {
    if processes.is_empty() { group == default } else { processes.iter().any(|p| p == group) }
}

pub fn groups(fly: &FlyToml) -> Vec<ProcessGroup> {
    let names = group_names(fly);
    let default = default_group(&names);
    names.iter().map(|name| group(fly, name, &default)).collect()
}

fn group(fly: &FlyToml, name: &str, default: &str) -> ProcessGroup {
    let here = |processes: &[String]| applies(processes, name, default);
    let command = fly.processes.iter().find(|p| p.name == name).map(|p| p.command.clone()).unwrap_or_default();
    let service_ids: Vec<usize> = (0..fly.services.len()).filter(|i| here(&fly.services[*i].processes)).collect();
    let mut checks: Vec<Check> = fly.checks.iter().filter(|c| here(&c.processes)).cloned().collect();
    checks.extend(fly.service_checks.iter().filter(|(i, _)| service_ids.contains(i)).map(|(_, c)| c.clone()));
    let only = |processes: &mut Vec<String>| *processes = vec![name.to_string()];
    let mut services: Vec<_> = service_ids.iter().map(|i| fly.services[*i].clone()).collect();
    services.iter_mut().for_each(|s| only(&mut s.processes));
    checks.iter_mut().for_each(|c| only(&mut c.processes));
    let mut mounts: Vec<_> = fly.mounts.iter().filter(|m| here(&m.processes)).cloned().collect();
    mounts.iter_mut().for_each(|m| only(&mut m.processes));
    let mut files: Vec<_> = fly.files.iter().filter(|f| here(&f.processes)).cloned().collect();
    files.iter_mut().for_each(|f| only(&mut f.processes));
    let mut metrics: Vec<_> = fly.metrics.iter().filter(|m| here(&m.processes)).cloned().collect();
    metrics.iter_mut().for_each(|m| only(&mut m.processes));
    // flyctl applies every matching [[restart]] in turn: the last one wins.
    let mut restart = fly.restart.iter().rev().find(|r| here(&r.processes)).cloned();
    if let Some(r) = restart.as_mut() {
        only(&mut r.processes);
    }
    let mut vm = compute_for_group(&fly.vm, name, default).cloned();
    if let Some(v) = vm.as_mut() {
        only(&mut v.processes);
    }
    ProcessGroup { name: name.to_string(), command, services, checks, mount: mounts.into_iter().next(), vm, restart, files, metrics }
}

/// flyctl's `ComputeForGroup`: among `[[vm]]` sections that are global or
/// match the group, the last one that names the group, else the first.
pub fn compute_for_group<'v>(vms: &'v [Vm], group: &str, default: &str) -> Option<&'v Vm> {
    let mut candidates = vms.iter().filter(|v| v.processes.is_empty() || applies(&v.processes, group, default));
    let mut best = candidates.next()?;
    for vm in candidates {
        if vm.processes.iter().any(|p| p == group) {
            best = vm;
        }
    }
    Some(best)
}
