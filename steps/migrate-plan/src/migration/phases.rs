//! The phases after `create`, each a list of actions with their undo, so
//! `ferry migrate abort` can walk any of them back:
//!
//! - **prepare** changes nothing on the source: the new app, fly.toml
//!   renamed in place, secrets by name, addresses, certificates, and
//!   volumes no source data fills.
//! - **data** stops the source (its data then holds still) and carries
//!   each mounted volume over by snapshot.
//! - **finalize** is the new app's first deploy, health-gated, with at
//!   least two machines per group with services; then traffic (DNS) moves
//!   and the source stays, stopped, for a rollback.
//! - **decommission** deletes the source, for good, after an approval.

use ferry_cutover::{Observed as ZoneObserved, Options as CutoverOptions, Wanted};
use ferry_fly_deploy::{actions as deploy_actions, config as deploy_config};
use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{
    Action, AppSpec, CheckoutOp, ConfigEdit, ControlOp, DnsRrset, Finding, FlyApp, FlyCertificate, FlyCertificateWait, FlyMachine, FlyOp, FlySecrets,
    FlyVolumeCopy, FlyWait, Operation, ProcessGroup, Risk, Severity, StepError, Undo,
};
use serde_json::json;

use super::observed::App;
use super::options::Options;

/// A phase's plan.
#[derive(Debug, Default)]
pub struct Planned {
    pub actions: Vec<Action>,
    pub findings: Vec<Finding>,
}

pub fn prepare(app: &AppSpec, source: &App, options: &Options) -> Planned {
    let to = options.to.as_str();
    let mut actions = vec![Action {
        id: format!("app:{to}"),
        summary: format!("create app {to} in org {}", options.org),
        risk: Risk::Safe,
        operation: Operation::Fly(FlyOp::CreateApp(FlyApp { name: to.into(), org: options.org.clone() })),
        undo: Undo::RestorePrevious,
        detail: Some("abort deletes it, with every machine, volume and address in it".into()),
    }];
    actions.push(edit(&app.source, "app", &format!("\"{to}\""), "fly deploy and ferry read the app's name from fly.toml"));
    if app.primary_region.as_deref() != Some(options.region()) {
        actions.push(edit(&app.source, "primary_region", &format!("\"{}\"", options.region()), "where fly deploy creates new machines"));
    }
    let mut secrets: Vec<String> = source.secrets.iter().chain(&app.secrets).cloned().collect();
    secrets.sort();
    secrets.dedup();
    if !secrets.is_empty() {
        actions.push(Action {
            id: format!("secrets:{to}"),
            summary: format!("set {} secret(s) on {to} by name: {}", secrets.len(), secrets.join(", ")),
            risk: Risk::Safe,
            operation: Operation::Fly(FlyOp::SetSecrets(FlySecrets { app: to.into(), names: secrets })),
            undo: Undo::RestorePrevious,
            detail: Some("Values come from FERRY_SECRET_<NAME> in ferry's environment, never from Fly, and never appear in a plan or journal.".into()),
        });
    }
    if !app.services.is_empty() {
        actions.extend(deploy_actions::public_ips(to, app));
    }
    for c in &source.certificates {
        actions.push(Action {
            id: format!("certificate:{}", c.hostname),
            summary: format!("add the certificate for {} to {to}", c.hostname),
            risk: Risk::Safe,
            operation: Operation::Fly(FlyOp::AddCertificate(FlyCertificate { app: to.into(), hostname: c.hostname.clone() })),
            undo: Undo::RestorePrevious,
            detail: Some("Fly issues it once the hostname's DNS points at the new app (finalize).".into()),
        });
    }
    for group in &app.groups {
        let Some(mount) = &group.mount else { continue };
        if source.volumes.iter().any(|v| v.name == mount.source) {
            continue;
        }
        let size = ferry_fly_deploy::size_gb(mount.initial_size.as_deref());
        actions.push(deploy_actions::create_volume(to, &mount.source, options.region(), size, 0, None, Some(mount)));
    }
    let findings = vec![finding("next", Severity::Info, format!("nothing on {} changes in this phase", options.from))];
    Planned { actions, findings }
}

pub fn data(source: &App, options: &Options) -> Planned {
    let mut planned = Planned::default();
    planned.actions.extend(stop_source(source, options));
    for v in source.attached_volumes() {
        planned.actions.push(Action {
            id: format!("volume-copy:{}", v.id),
            summary: format!("copy volume {} ({}, {} GB, {}) into {} in {} by snapshot", v.name, v.id, v.size_gb, v.region, options.to, options.region()),
            risk: Risk::Safe,
            operation: Operation::Fly(FlyOp::CopyVolume(FlyVolumeCopy {
                source_app: options.from.clone(),
                source_volume: v.id.clone(),
                app: options.to.clone(),
                name: v.name.clone(),
                region: options.region().to_string(),
                size_gb: v.size_gb,
            })),
            undo: Undo::RestorePrevious,
            detail: Some(
                "The source volume is left as it is; abort deletes the copy (the snapshot stays with the source volume until Fly's retention ends).".into(),
            ),
        });
    }
    if planned.actions.is_empty() {
        planned.findings.push(finding("no-data", Severity::Info, format!("{} runs no machine and mounts no volume: nothing to copy", options.from)));
    }
    planned
}

/// Stops every started machine of the source; abort starts them again.
pub(crate) fn stop_source(source: &App, options: &Options) -> Option<Action> {
    let started: Vec<String> = source.managed().filter(|m| m.state != "stopped").map(|m| m.id.clone()).collect();
    if started.is_empty() {
        return None;
    }
    Some(Action {
        id: format!("stop:{}", options.from),
        summary: format!(
            "stop {} of {} ({}): its data holds still from here",
            deploy_actions::count(started.len(), "machine"),
            options.from,
            started.join(", ")
        ),
        risk: Risk::Disruptive,
        operation: Operation::Fly(FlyOp::StopMachines(deploy_actions::refs(&options.from, started, vec![]))),
        undo: Undo::RestorePrevious,
        detail: Some("The source serves nothing until finalize moves traffic to the new app, or abort starts these machines again.".into()),
    })
}

/// What finalize reads besides the two apps: the zone's current records
/// of each certificate's hostname (A then AAAA), when a zone is given.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    pub current: Vec<Option<DnsRrset>>,
    pub size: u32,
}

/// The records finalize points at the new app: A and AAAA of each hostname.
pub fn wanted_records(source: &App, target: &App) -> Vec<Wanted> {
    let v4 = target.address(&["v4", "shared_v4"]);
    let v6 = target.address(&["v6"]);
    let mut wanted = Vec::new();
    for c in &source.certificates {
        let name = ferry_cutover::options::fqdn(&c.hostname);
        for (rtype, values) in [("A", &v4), ("AAAA", &v6)] {
            if !values.is_empty() {
                wanted.push(Wanted { name: name.clone(), rtype: rtype.into(), values: values.clone() });
            }
        }
    }
    wanted
}

pub fn finalize(app: &AppSpec, source: &App, target: &App, zone: Option<&Zone>, options: &Options) -> Result<Planned, StepError> {
    let mut planned = Planned::default();
    let image = options.image.clone().or_else(|| source.image()).ok_or_else(|| invalid("no image: the source runs no machine; set --image"))?;
    let mut app = app.clone();
    app.app = Some(options.to.clone());
    app.primary_region = Some(options.region().to_string());
    let release = ferry_fly_deploy::release(&app, &ferry_fly_deploy::Observed::default(), &image);
    if options.dns_zone.is_some() && zone.is_some() {
        planned.actions.extend(certificate_waits(source, options));
    }
    if !target.machines.is_empty() {
        planned.findings.push(finding(
            "deployed",
            Severity::Info,
            format!("{} runs {} machine(s) already: the first deploy is done", options.to, target.machines.len()),
        ));
    } else {
        if let Some(command) = &app.deploy.release_command {
            let config = deploy_config::release_command_config(&app, command, &image, &release, &[]).to_string();
            let timeout = app.deploy.release_command_timeout_ms.unwrap_or(300_000);
            planned.actions.push(deploy_actions::release_command(&options.to, command, options.region(), config, timeout));
        }
        let wait = FlyWait { health: true, timeout_ms: options.wait_timeout_ms, smoke_check_ms: ferry_fly_deploy::options::SMOKE_CHECK_MS, retries: 0 };
        for group in &app.groups {
            let machines = machines(&app, group, source, target, &image, &release, options)?;
            planned.actions.push(deploy_actions::create_machines(
                format!("create:{}", group.name),
                format!("create {} of `{}` on {} ({image}), health-gated", deploy_actions::count(machines.len(), "machine"), group.name, options.to),
                &options.to,
                machines,
                wait,
            ));
        }
    }
    traffic(source, target, zone, options, &mut planned)?;
    planned.actions.extend(stop_source(source, options));
    planned.findings.push(finding(
        "rollback",
        Severity::Info,
        format!("{} stays, stopped, with its volumes: `ferry migrate abort` moves back until `ferry migrate decommission` deletes it", options.from),
    ));
    Ok(planned)
}

/// How long finalize waits for each certificate of the new app to be
/// issued. Once Fly can validate the hostname (a DNS-01 challenge CNAME in
/// place) issuance takes seconds to a minute.
const CERTIFICATE_WAIT_MS: u64 = 10 * 60 * 1000;

/// Before finalize changes anything: every hostname whose records it will
/// switch must have an issued (`active`) certificate on the new app, or
/// its clients would get certificate errors the moment traffic moves. A
/// wait (not a plan of the ACME records) because whether Fly can issue
/// it before the switch depends on what the zone holds when the phase
/// runs; on timeout the error names the DNS-01 CNAME to create. First in
/// the phase, so a certificate that is not ready costs no deploy to undo.
fn certificate_waits(source: &App, options: &Options) -> Vec<Action> {
    source
        .certificates
        .iter()
        .map(|c| Action {
            id: format!("certificate-wait:{}", c.hostname),
            summary: format!("wait until {} has an issued certificate for {}", options.to, c.hostname),
            risk: Risk::Safe,
            operation: Operation::Fly(FlyOp::WaitCertificate(FlyCertificateWait {
                app: options.to.clone(),
                hostname: c.hostname.clone(),
                timeout_ms: CERTIFICATE_WAIT_MS,
            })),
            undo: Undo::None("a wait changes nothing".into()),
            detail: Some("DNS moves only after this: until then clients would get a certificate error from the new app.".into()),
        })
        .collect()
}

/// The group's new machines: one per copied volume for a group that
/// mounts one, else as many as the source ran and at least two for a
/// group with services (one can restart while the other serves), spread
/// across the regions asked for. A group without services restarts
/// `always`: nothing wakes it after a host reboot otherwise.
fn machines(
    app: &AppSpec,
    group: &ProcessGroup,
    source: &App,
    target: &App,
    image: &str,
    release: &ferry_fly_deploy::Release,
    options: &Options,
) -> Result<Vec<FlyMachine>, StepError> {
    let mut config = deploy_config::launch_config(app, group, image, release)?;
    if group.services.is_empty() && group.restart.is_none() {
        config["restart"] = json!({"policy": "always"});
    }
    let ran = source.in_group(&group.name).count();
    let placements: Vec<String> = match &group.mount {
        Some(mount) => {
            let volumes: Vec<String> =
                target.volumes.iter().filter(|v| v.name == mount.source && v.attached_machine.is_none()).map(|v| v.region.clone()).collect();
            if volumes.is_empty() { vec![options.region().to_string()] } else { volumes }
        }
        None => {
            let count = if group.services.is_empty() { ran.max(1) } else { ran.max(2) };
            let spread = options.spread();
            (0..count).map(|n| spread[n % spread.len()].clone()).collect()
        }
    };
    Ok(placements
        .into_iter()
        .enumerate()
        .map(|(n, region)| FlyMachine {
            id: None,
            launch_id: Some(format!("{}-{}-{n}", options.id, group.name)),
            name: None,
            region,
            group: group.name.clone(),
            config: config.to_string(),
            skip_launch: false,
            skip_service_registration: false,
        })
        .collect())
}

/// DNS of each certificate's hostname, switched through the cutover
/// planner (compare-and-swap, then every authoritative server verified),
/// or listed for a person to change when no zone is configured.
fn traffic(source: &App, target: &App, zone: Option<&Zone>, options: &Options, planned: &mut Planned) -> Result<(), StepError> {
    let wanted = wanted_records(source, target);
    if wanted.is_empty() {
        return Ok(());
    }
    let (Some(zone_name), Some(zone)) = (&options.dns_zone, zone) else {
        let lines: Vec<String> = wanted.iter().map(|w| format!("{} {} {}", w.name, w.rtype, w.values.join(", "))).collect();
        planned.findings.push(finding(
            "dns-by-hand",
            Severity::Warning,
            format!("point these records at {} (no --dns-zone, so ferry does not change them): {}", options.to, lines.join("; ")),
        ));
        return Ok(());
    };
    let cutover = cutover_options(zone_name, wanted, options, None);
    let observed = ZoneObserved { current: zone.current.clone(), zone_size: zone.size, source_machines: Some(0) };
    let switched = ferry_cutover::plan("finalize", &cutover, &observed)?;
    planned.actions.extend(switched.actions);
    planned.findings.extend(switched.findings);
    Ok(())
}

/// The cutover planner's options for a migration's hostnames: TTL lowered
/// to 60 s ahead, then `options.ttl`; no approval or force; the TLS check
/// against `tls_address` (the new host itself) when given.
pub(crate) fn cutover_options(zone: &str, records: Vec<Wanted>, options: &Options, tls_address: Option<String>) -> CutoverOptions {
    CutoverOptions {
        zone: ferry_cutover::options::fqdn(zone),
        records,
        ttl: options.ttl,
        lowered_ttl: 60,
        tls_address,
        tls_min_days: 14,
        approve: false,
        force: false,
        max_update_pct: 30.0,
        max_delete_pct: 30.0,
        verify_timeout_ms: 120_000,
    }
}

pub fn decommission(source: &App, options: &Options) -> Planned {
    let from = &options.from;
    let volumes = source.volumes.len();
    let approval = Action {
        id: format!("approve:decommission:{from}"),
        summary: format!("approve deleting {from} for good"),
        risk: Risk::Safe,
        operation: Operation::Control(ControlOp::Approval(format!(
            "delete app {from} with its {} machine(s) and {volumes} volume(s); nothing brings it back",
            source.machines.len()
        ))),
        undo: Undo::None("an approval changes nothing".into()),
        detail: None,
    };
    let destroy = Action {
        id: format!("destroy:{from}"),
        summary: format!("delete app {from}, its machines and {volumes} volume(s)"),
        risk: Risk::Irreversible,
        operation: Operation::Fly(FlyOp::DestroyApp(from.clone())),
        undo: Undo::None("a deleted app and its volumes cannot be restored".into()),
        detail: Some(format!("{} serves the app since finalize; this frees {from}'s name and stops its volumes' billing.", options.to)),
    };
    Planned { actions: vec![approval, destroy], findings: Vec::new() }
}

fn edit(file: &str, key: &str, value: &str, why: &str) -> Action {
    Action {
        id: format!("edit-config:{file}:{key}"),
        summary: format!("set {key} = {value} in {file}"),
        risk: Risk::Safe,
        operation: Operation::Checkout(CheckoutOp::EditConfig(ConfigEdit { file: file.into(), key: key.into(), value: Some(value.into()) })),
        undo: Undo::RestorePrevious,
        detail: Some(format!("{why}; comments and layout are kept")),
    }
}

fn invalid(message: &str) -> StepError {
    ferry_step_sdk::params::invalid(message)
}
