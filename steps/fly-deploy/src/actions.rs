//! The actions a deploy proposes, each with its risk and its undo, and the
//! one-line summaries a reviewer reads.

use ferry_step_sdk::types::{
    Action, AppSpec, ControlOp, FlyIp, FlyMachine, FlyMachineRefs, FlyMachines, FlyMetadata, FlyOp, FlyRelease, FlyReleaseCommand, FlyVolume, FlyWait, IpKind,
    Mount, Operation, Risk, ServiceProtocol, Undo,
};

fn action(id: String, summary: String, risk: Risk, operation: Operation, undo: Undo, detail: Option<String>) -> Action {
    Action { id, summary, risk, operation, undo, detail }
}

pub fn refs(app: &str, ids: Vec<String>, launch_ids: Vec<String>) -> FlyMachineRefs {
    FlyMachineRefs { app: app.to_string(), ids, launch_ids }
}

pub fn release_command(app: &str, command: &str, region: &str, config: String, timeout_ms: u64) -> Action {
    action(
        "release-command".into(),
        format!("run the release command `{command}` in a temporary machine ({region})"),
        Risk::Disruptive,
        Operation::Fly(FlyOp::ReleaseCommand(FlyReleaseCommand { app: app.into(), region: region.into(), config, timeout_ms })),
        Undo::None("the command's own effects (e.g. migrations) are the app's to reverse".into()),
        Some("Runs before any machine changes; a non-zero exit stops the deploy with the command's last log lines.".into()),
    )
}

/// First of a deploy that changes something: the release record `fly
/// releases` lists, created and marked running by the host, which writes
/// its id and version into every machine after it.
pub fn create_release(release: FlyRelease) -> Action {
    let summary = format!("create a release record for {} ({})", release.image, crate::options::strategy_name(release.strategy));
    action(
        "release:create".into(),
        summary,
        Risk::Safe,
        Operation::Fly(FlyOp::CreateRelease(release)),
        Undo::RestorePrevious,
        Some("Fly numbers it; a failure of the release API is a warning and the deploy goes on (as with flyctl). Undone, it is marked failed.".into()),
    )
}

/// Last of a deploy: the release record is marked complete.
pub fn complete_release(app: &str) -> Action {
    action(
        "release:complete".into(),
        "mark the release record complete".into(),
        Risk::Safe,
        Operation::Fly(FlyOp::CompleteRelease(app.into())),
        // Nothing of its own to undo: undoing the create that follows marks
        // the record failed or interrupted.
        Undo::RestorePrevious,
        None,
    )
}

pub fn create_machines(id: String, summary: String, app: &str, machines: Vec<FlyMachine>, wait: FlyWait) -> Action {
    let detail = machine_list(&machines);
    action(
        id,
        summary,
        Risk::Safe,
        Operation::Fly(FlyOp::CreateMachines(FlyMachines { app: app.into(), machines, wait })),
        Undo::RestorePrevious,
        Some(format!("Creates {detail}; undone by destroying them (found by their launch id).")),
    )
}

pub fn update_machines(id: String, summary: String, app: &str, machines: Vec<FlyMachine>, wait: FlyWait, changes: String) -> Action {
    action(
        id,
        summary,
        Risk::Disruptive,
        Operation::Fly(FlyOp::UpdateMachines(FlyMachines { app: app.into(), machines, wait })),
        Undo::RestorePrevious,
        Some(format!("{changes}. Each machine is updated under a lease; undone by re-applying its previous config and image.")),
    )
}

pub fn destroy_machines(id: String, summary: String, refs: FlyMachineRefs, why: &str) -> Action {
    action(
        id,
        summary,
        Risk::Destructive,
        Operation::Fly(FlyOp::DestroyMachines(refs)),
        Undo::RestorePrevious,
        Some(format!("{why}. Each machine is stopped, then destroyed; undone by recreating it from its saved config (its volume stays).")),
    )
}

pub fn cordon(id: String, summary: String, refs: FlyMachineRefs) -> Action {
    action(id, summary, Risk::Disruptive, Operation::Fly(FlyOp::Cordon(refs.clone())), Undo::Run(Operation::Fly(FlyOp::Uncordon(refs))), None)
}

pub fn uncordon(id: String, summary: String, refs: FlyMachineRefs) -> Action {
    action(id, summary, Risk::Disruptive, Operation::Fly(FlyOp::Uncordon(refs.clone())), Undo::Run(Operation::Fly(FlyOp::Cordon(refs))), None)
}

pub fn set_metadata(id: String, summary: String, machines: FlyMachineRefs, key: &str, value: Option<String>) -> Action {
    action(id, summary, Risk::Safe, Operation::Fly(FlyOp::SetMetadata(FlyMetadata { machines, key: key.into(), value })), Undo::RestorePrevious, None)
}

pub fn wait(id: String, ms: u64, why: &str) -> Action {
    action(id, format!("wait {} s: {why}", ms / 1000), Risk::Safe, Operation::Control(ControlOp::WaitMs(ms)), Undo::RestorePrevious, None)
}

/// `mounted_by` is the config of the machine that will mount the volume:
/// its guest and image go with the request (`compute`, `compute_image`), as
/// flyctl sends them, so Fly places the volume on a host where that
/// machine fits. `mount`'s snapshot settings go with it too
/// (`deploy_first.go`: `SnapshotRetention`, `AutoBackupEnabled`).
pub fn create_volume(app: &str, name: &str, region: &str, size_gb: u32, n: usize, mounted_by: Option<&serde_json::Value>, mount: Option<&Mount>) -> Action {
    let compute = mounted_by.and_then(|c| c.get("guest")).filter(|g| g.is_object()).map(ToString::to_string);
    let compute_image = mounted_by.and_then(|c| c.get("image")).and_then(serde_json::Value::as_str).map(str::to_string);
    action(
        format!("volume:{name}:{region}:{n}"),
        format!("create volume `{name}` ({size_gb} GB) in {region}"),
        Risk::Safe,
        Operation::Fly(FlyOp::CreateVolume(FlyVolume {
            app: app.into(),
            name: name.into(),
            region: region.into(),
            size_gb,
            compute,
            compute_image,
            snapshot_retention: mount.and_then(|m| m.snapshot_retention),
            auto_backup: mount.and_then(|m| m.scheduled_snapshots),
        })),
        Undo::RestorePrevious,
        Some("Each machine mounts its own volume; this one is for a machine created below.".into()),
    )
}

/// An app's public addresses, as flyctl allocates them on a first deploy
/// (`deploy_first.go:29-124`): a dedicated IPv6, and a shared IPv4 when
/// every service is HTTP or TLS, else a dedicated one (flyctl prompts for
/// it; the plan states it).
pub fn public_ips(app_name: &str, app: &AppSpec) -> [Action; 2] {
    let http_only = app.services.iter().all(|s| s.protocol == ServiceProtocol::Tcp && s.ports.iter().all(|p| !p.handlers.is_empty()));
    [allocate_ip(app_name, IpKind::V6, None), allocate_ip(app_name, if http_only { IpKind::SharedV4 } else { IpKind::V4 }, None)]
}

pub fn allocate_ip(app: &str, kind: IpKind, region: Option<&str>) -> Action {
    // The id keeps the API's name of the kind (`ip:shared_v4`).
    let (name, what) = match kind {
        IpKind::SharedV4 => ("shared_v4", "a shared IPv4 address"),
        IpKind::V6 => ("v6", "a dedicated IPv6 address"),
        IpKind::V4 => ("v4", "a dedicated IPv4 address"),
        IpKind::PrivateV6 => ("private_v6", "a private IPv6 address (Flycast)"),
    };
    action(
        format!("ip:{name}"),
        format!("allocate {what} for {app}"),
        Risk::Safe,
        Operation::Fly(FlyOp::AllocateIp(FlyIp { app: app.into(), kind, region: region.map(str::to_string) })),
        Undo::RestorePrevious,
        Some("First deploy of an app with services: without an address nothing reaches it.".into()),
    )
}

/// `app 1853e92c (ams), app 9080e1f0 (ams)`.
pub fn machine_list(machines: &[FlyMachine]) -> String {
    let names: Vec<String> = machines
        .iter()
        .map(|m| match &m.id {
            Some(id) => format!("{} {id} ({})", m.group, m.region),
            None => format!("a new {} machine ({})", m.group, m.region),
        })
        .collect();
    names.join(", ")
}

/// "1 machine" / "3 machines".
pub fn count(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}
