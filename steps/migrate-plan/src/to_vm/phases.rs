//! The phases of a move to a VM: prepare and finalize composed of the VM
//! planner's provision and release (`ferry-vm-plan`) and the cutover
//! planner's DNS switch (`ferry-cutover`), the same actions `ferry deploy
//! --target vm` and `cutover` would propose, in one journaled run; data
//! and decommission of copies the host pulls out of Fly.

use ferry_cutover::{Observed as ZoneObserved, Wanted};
use ferry_step_sdk::host::fly::VolumeInfo;
use ferry_step_sdk::params::{finding, precondition};
use ferry_step_sdk::types::{
    Action, AppSpec, CheckoutOp, ControlOp, FileWrite, FlyOp, Operation, Risk, Severity, StepError, Undo, VmFlyPostgres, VmFlyVolume, VmImages, VmOp, VmPaths,
    VolumePass,
};
use ferry_vm_plan::app::VmApp;
use ferry_vm_plan::deploy::{self, ImageFrom};
use ferry_vm_plan::observed::Observed as VmObserved;
use ferry_vm_plan::provision;

use super::{Host, Workflow, workflows};
use crate::migration::phases::{cutover_options, stop_source};
use crate::migration::{App, Options, Planned, Zone};

/// The names the host serves: the source's certificates' hostnames.
pub fn hostnames(source: &App) -> Vec<String> {
    let mut names: Vec<String> = source.certificates.iter().map(|c| c.hostname.clone()).collect();
    names.sort();
    names.dedup();
    names
}

fn observed(host: &Host) -> Result<VmObserved, StepError> {
    let facts = host.facts.clone().map_err(|e| precondition(format!("cannot read {}: {e}", host.target.name)))?;
    Ok(VmObserved {
        target: host.target.clone(),
        facts,
        containers: host.containers.clone(),
        releases: VmObserved::parse_releases(&host.releases),
        certificate: host.certificate.clone(),
    })
}

/// The release the host runs: the checkout built on the host (or
/// `--image`, pulled), serving the source's hostnames.
pub fn release_options(app: &AppSpec, source: &App, options: &Options) -> deploy::Options {
    deploy::Options {
        image: options.image.clone().map_or_else(|| ImageFrom::Build(deploy::build_from(app)), ImageFrom::Pull),
        hostnames: hostnames(source),
        wait_timeout_ms: options.wait_timeout_ms,
        tls: None,
    }
}

/// The host provisioned, the app released on it (not serving the domain
/// yet: DNS points at Fly), the records' TTLs lowered so finalize need not
/// wait them out, and the workflows moved to ferry.
pub fn prepare(
    app: &AppSpec,
    source: &App,
    host: &Host,
    zone: Option<&Zone>,
    options: &Options,
    workflows: &[Workflow],
    ferry_toml: Option<&str>,
) -> Result<Planned, StepError> {
    let observed = observed(host)?;
    let vm_app = VmApp::new(app, &host.target.root)?;
    let provisioned = provision::plan(
        &vm_app,
        &observed,
        &provision::Options { provided_secrets: options.provided_secrets.clone(), wait_timeout_ms: options.wait_timeout_ms },
    );
    // The hostnames come from the Fly API: checked like `--hostnames`
    // before they are written into nginx's site.
    let release = release_options(app, source, options);
    release.check().map_err(ferry_step_sdk::params::invalid)?;
    let released = deploy::plan(&vm_app, &observed, &release);
    let mut planned = Planned::default();
    // One hold of the host lock across both: provision's release of it and
    // the release's taking of it are left out.
    let mut first = provisioned.actions;
    if matches!(first.last().map(|a| &a.operation), Some(Operation::Vm(VmOp::Unlock(_)))) {
        first.pop();
    }
    let mut provision_findings = provisioned.findings;
    if let Some(pg) = provision::postgres(&vm_app, &observed, &options.provided_secrets) {
        // After the directories are made and before the database runs, so
        // an abort deletes its files once its container is gone; only a
        // database this prepare creates (one the host ran before stays).
        if !pg.exists(&observed) {
            let at = first.iter().position(|a| matches!(a.operation, Operation::Vm(VmOp::Mkdir(_)))).map_or(0, |i| i + 1);
            first.insert(at, database_removed_on_abort(&host.target.name, &pg));
        }
        // Provision's own note sends the user to copy-data; here the
        // migration's data phase copies the database.
        provision_findings.retain(|f| f.code != "postgres");
        provision_findings.push(finding(
            "postgres",
            Severity::Info,
            format!(
                "DATABASE_URL was a secret (Fly Postgres): {} runs {} as database {} for the app (as {}:5432); `ferry migrate data` copies the database into it",
                host.target.name, pg.image, pg.name, pg.container
            ),
        ));
    }
    let mut second = released.actions;
    if matches!(second.first().map(|a| &a.operation), Some(Operation::Vm(VmOp::Lock(_)))) {
        second.remove(0);
    }
    // An aborted move leaves no image either: the release's tag goes once
    // its container is gone; the tags the host had before stay.
    let before: Vec<String> = observed.releases.iter().map(|r| vm_app.image_tag(r.number)).collect();
    for action in second.iter_mut().filter(|a| matches!(a.operation, Operation::Vm(VmOp::Image(_)))) {
        action.undo = Undo::Run(Operation::Vm(VmOp::RemoveImages(VmImages {
            target: host.target.name.clone(),
            repository: vm_app.image_repository(),
            keep: before.clone(),
        })));
    }
    planned.actions.extend(first);
    planned.actions.extend(second);
    planned.findings.extend(provision_findings);
    planned.findings.extend(released.findings);
    if let (Some(zone_name), Some(zone)) = (&options.dns_zone, zone) {
        let observed = ZoneObserved { current: zone.current.clone(), zone_size: zone.size, source_machines: Some(0) };
        let lowered = ferry_cutover::plan(ferry_cutover::PREPARE, &cutover_options(zone_name, wanted_records(source, host), options, None), &observed)?;
        planned.actions.extend(lowered.actions);
        planned.findings.extend(lowered.findings);
    }
    workflow_actions(&host.target, &hostnames(source), workflows, ferry_toml, &mut planned);
    Ok(planned)
}

/// Nothing on its own (the directory exists); its undo deletes the
/// database the host runs for the app, with its password: an aborted move
/// leaves no database behind (a plain deploy's undo keeps one).
fn database_removed_on_abort(target: &str, pg: &ferry_vm_plan::postgres::Postgres) -> Action {
    let paths = VmPaths { target: target.into(), paths: vec![pg.data_dir.clone()] };
    let removed = VmPaths { target: target.into(), paths: vec![pg.data_dir.clone(), pg.password_file.clone()] };
    Action {
        id: format!("vm-database-files:{target}:{}", pg.container),
        summary: format!("keep {}'s files in {} (abort deletes them)", pg.container, pg.data_dir),
        risk: Risk::Safe,
        operation: Operation::Vm(VmOp::Mkdir(paths)),
        undo: Undo::Run(Operation::Vm(VmOp::RemovePaths(removed))),
        detail: Some("an aborted migration leaves no database on the host: its files and password go with it".into()),
    }
}

fn workflow_actions(
    target: &ferry_step_sdk::host::vm::VmTargetInfo,
    hostnames: &[String],
    files: &[Workflow],
    ferry_toml: Option<&str>,
    planned: &mut Planned,
) {
    let rewritten: Vec<(&Workflow, String)> = files.iter().filter_map(|w| workflows::rewrite(w, target).map(|text| (w, text))).collect();
    for (workflow, text) in &rewritten {
        planned.actions.push(write(
            &workflow.path,
            text,
            "replace `fly deploy` with ferry's action (the host's key and pinned host keys from the repository's secrets)",
        ));
    }
    if !ferry_toml.is_some_and(|t| t.contains("\"vm-deploy\"")) {
        planned.actions.push(write("ferry.toml", &workflows::ferry_toml(ferry_toml, &target.name, hostnames), "add a vm-deploy step: deploys go to the host"));
    }
    let message = if rewritten.is_empty() {
        "no workflow in .github/workflows runs `fly deploy`: nothing to rewrite".to_string()
    } else {
        format!(
            "commit the rewritten {} and add the repository secrets {} and {}; delete FLY_API_TOKEN once the migration is decommissioned",
            rewritten.iter().map(|(w, _)| w.path.as_str()).collect::<Vec<_>>().join(", "),
            target.ssh_key_env,
            target.known_hosts_env
        )
    };
    planned.findings.push(finding("workflows", Severity::Info, message));
}

fn write(file: &str, contents: &str, why: &str) -> Action {
    Action {
        id: format!("write-file:{file}"),
        summary: format!("{why} in {file}"),
        risk: Risk::Safe,
        operation: Operation::Checkout(CheckoutOp::WriteFile(FileWrite { file: file.into(), contents: contents.into() })),
        undo: Undo::RestorePrevious,
        detail: Some("a change to the checkout: review it in the diff and commit it".into()),
    }
}

/// How long one copy (a volume's pass, the database) may take.
const COPY_TIMEOUT_MS: u64 = 2 * 60 * 60 * 1000;

/// The data copied onto the host from inside Fly, under the host lock: a
/// bulk pass of each volume while Fly still serves, the freeze (every
/// machine of the source stopped), a final pass of each volume, which
/// deletes what the volume no longer has and compares every file by
/// checksum, and the Fly Postgres database (when the host runs the app's
/// Postgres), made read-only, dumped, restored and compared table by table.
pub fn data(app: &AppSpec, source: &App, host: &Host, options: &Options) -> Result<Planned, StepError> {
    let vm_app = VmApp::new(app, &host.target.root)?;
    let postgres = provision::postgres(&vm_app, &observed(host)?, &options.provided_secrets);
    let mut planned = Planned::default();
    let volumes = volumes(source, &vm_app, options)?;
    if volumes.is_empty() && postgres.is_none() {
        planned.findings.push(finding(
            "no-data",
            Severity::Info,
            format!("no machine of {} mounts a volume, and it has no Fly Postgres: nothing to copy", options.from),
        ));
        return Ok(planned);
    }
    let target = &host.target.name;
    let (lock, unlock) = deploy::lock_actions(&host.target);
    planned.actions.push(lock);
    let dirs: Vec<String> = volumes.iter().map(|v| vm_app.paths.volume(&v.name)).chain(postgres.iter().map(|pg| pg.import_dir.clone())).collect();
    planned.actions.push(make_dirs(target, "data", dirs));
    let pass = |v: &VolumeInfo, pass: VolumePass| volume_copy(v, pass, &vm_app.paths.volume(&v.name), target, options);
    planned.actions.extend(volumes.iter().map(|v| pass(v, VolumePass::Bulk)));
    if let Some(mut stop) = stop_source(source, options) {
        stop.detail = Some(format!(
            "Nothing writes to the data from here; the app serves nothing until finalize points DNS at {target}, or abort starts these machines again."
        ));
        planned.actions.push(stop);
    }
    planned.actions.extend(volumes.iter().map(|v| pass(v, VolumePass::Final)));
    if let Some(pg) = postgres {
        planned.actions.push(Action {
            id: format!("vm-fly-postgres:{}", options.from),
            summary: format!("copy {}'s Fly Postgres (its DATABASE_URL) into {} on {target}, then compare every table", options.from, pg.container),
            risk: Risk::Disruptive,
            operation: Operation::Vm(VmOp::FlyPostgres(VmFlyPostgres {
                target: target.clone(),
                app: options.from.clone(),
                container: pg.container.clone(),
                database: pg.name.clone(),
                dir: pg.import_dir.clone(),
                timeout_ms: COPY_TIMEOUT_MS,
            })),
            undo: Undo::RestorePrevious,
            detail: Some(format!(
                "With the app stopped: the source database becomes read-only, and its dump is kept in {} on the host. Abort makes it writable again and empties {}.",
                pg.import_dir, pg.container
            )),
        });
    }
    planned.actions.push(unlock);
    Ok(planned)
}

/// The directories copies go to; the undo removes those still empty.
fn make_dirs(target: &str, what: &str, dirs: Vec<String>) -> Action {
    Action {
        id: format!("vm-mkdir:{target}:{what}"),
        summary: format!("create {} on {target}", dirs.join(", ")),
        risk: Risk::Safe,
        operation: Operation::Vm(VmOp::Mkdir(VmPaths { target: target.into(), paths: dirs })),
        undo: Undo::RestorePrevious,
        detail: None,
    }
}

/// One pass of one volume into `path` on `target`: bulk while Fly serves,
/// final (deletes, then every file compared) after the freeze.
fn volume_copy(v: &VolumeInfo, pass: VolumePass, path: &str, target: &str, options: &Options) -> Action {
    let copy = VmFlyVolume {
        target: target.into(),
        app: options.from.clone(),
        volume: v.id.clone(),
        name: v.name.clone(),
        path: path.into(),
        pass,
        timeout_ms: COPY_TIMEOUT_MS,
    };
    let (what, risk, detail) = match pass {
        VolumePass::Bulk => ("bulk", Risk::Safe, "While Fly still serves: most bytes move now, so the freeze is short. Abort empties the directory again."),
        VolumePass::Final => (
            "final",
            Risk::Destructive,
            "With every machine stopped: deletes on the host what the volume no longer has, then compares every file by checksum. Abort empties the directory again.",
        ),
    };
    Action {
        id: format!("vm-fly-volume:{what}:{}:{path}", v.id),
        summary: format!("{what} pass: copy volume {} ({}, {} GB) of {} into {path} on {target}", v.name, v.id, v.size_gb, options.from),
        risk,
        operation: Operation::Vm(VmOp::FlyVolume(copy)),
        undo: Undo::RestorePrevious,
        detail: Some(detail.into()),
    }
}

/// The attached volumes by name, refused when two share one (the host
/// keeps one directory per name) or a name is no plain volume name (it
/// comes from the Fly API and becomes a directory on the host).
fn volumes<'a>(source: &'a App, vm_app: &VmApp, options: &Options) -> Result<Vec<&'a VolumeInfo>, StepError> {
    let mut volumes: Vec<&VolumeInfo> = source.attached_volumes().collect();
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = volumes.windows(2).find(|p| p[0].name == p[1].name) {
        return Err(precondition(format!(
            "volumes {} and {} of {} are both named {}, and the host keeps one directory per name ({}): \
             merge their data into one volume on Fly first, or move this app by hand",
            pair[0].id,
            pair[1].id,
            options.from,
            pair[0].name,
            vm_app.paths.volume(&pair[0].name)
        )));
    }
    for v in &volumes {
        ferry_vm_plan::checked::volume_source(&v.name).map_err(|r| precondition(format!("volume {} of {}: {}", v.id, options.from, r.message)))?;
    }
    Ok(volumes)
}

/// The Fly side deleted for good, behind an approval, after each volume's
/// last state is archived on the host (a final pass into
/// `<app>/archive/<name>`: the app has been stopped since the freeze).
/// The Fly Postgres dump the data phase made stays where it is; the
/// Postgres app goes too when the migration names it.
pub fn decommission(app: &AppSpec, source: &App, host: &Host, options: &Options) -> Result<Planned, StepError> {
    let vm_app = VmApp::new(app, &host.target.root)?;
    let volumes = volumes(source, &vm_app, options)?;
    let target = &host.target.name;
    let from = &options.from;
    let archive = |v: &VolumeInfo| format!("{}/archive/{}", vm_app.paths.dir, v.name);
    let mut planned = Planned::default();
    let postgres = provision::postgres(&vm_app, &observed(host)?, &options.provided_secrets);
    let kept: Vec<String> = volumes.iter().map(|v| archive(v)).chain(postgres.iter().map(|pg| format!("{}/source.sql", pg.import_dir))).collect();
    let also = options.postgres_app.as_ref().map_or(String::new(), |pg| format!(", and Fly Postgres app {pg}"));
    planned.actions.push(Action {
        id: format!("approve:decommission:{from}"),
        summary: format!("approve deleting {from} from Fly for good"),
        risk: Risk::Safe,
        operation: Operation::Control(ControlOp::Approval(format!(
            "delete Fly app {from} with its {} machine(s), {} volume(s), {} address(es) and {} certificate(s){also}; {}; nothing brings them back",
            source.machines.len(),
            source.volumes.len(),
            source.ips.len(),
            source.certificates.len(),
            if kept.is_empty() { format!("{target} serves the app") } else { format!("what they held stays on {target} in {}", kept.join(", ")) }
        ))),
        undo: Undo::None("an approval changes nothing".into()),
        detail: None,
    });
    if !volumes.is_empty() {
        let (lock, unlock) = deploy::lock_actions(&host.target);
        planned.actions.push(lock);
        planned.actions.push(make_dirs(target, "archive", volumes.iter().map(|v| archive(v)).collect()));
        planned.actions.extend(volumes.iter().map(|v| volume_copy(v, VolumePass::Final, &archive(v), target, options)));
        planned.actions.push(unlock);
    }
    let destroy = |name: &str, what: String| Action {
        id: format!("destroy:{name}"),
        summary: format!("delete Fly app {name}, {what}"),
        risk: Risk::Irreversible,
        operation: Operation::Fly(FlyOp::DestroyApp(name.into())),
        undo: Undo::None("a deleted app and its volumes cannot be restored".into()),
        detail: Some(format!("{target} serves the app since finalize; this stops Fly's billing for it.")),
    };
    planned.actions.push(destroy(from, format!("its machines, {} volume(s), addresses and certificates", source.volumes.len())));
    match (&options.postgres_app, &postgres) {
        (Some(pg_app), _) => planned.actions.push(destroy(pg_app, "the Fly Postgres cluster the app used".into())),
        (None, Some(pg)) => planned.findings.push(finding(
            "postgres-app",
            Severity::Warning,
            format!(
                "the Fly Postgres app stays (the migration names none: `--postgres-app` at create): its data is in {} on {target} ({}/source.sql); delete it with `fly apps destroy <name>` once no other app attaches to it",
                pg.container, pg.import_dir
            ),
        )),
        (None, None) => {}
    }
    Ok(planned)
}

/// The records finalize points at the host: A (or AAAA) of each hostname.
pub fn wanted_records(source: &App, host: &Host) -> Vec<Wanted> {
    let Some(address) = &host.target.address else { return Vec::new() };
    let rtype = if address.contains(':') { "AAAA" } else { "A" };
    hostnames(source)
        .into_iter()
        .map(|name| Wanted { name: format!("{}.", name.trim_end_matches('.')), rtype: rtype.into(), values: vec![address.clone()] })
        .collect()
}

/// DNS moved to the host, after a TLS check against the host itself.
pub fn finalize(app: &str, source: &App, host: &Host, zone: Option<&Zone>, options: &Options) -> Result<Planned, StepError> {
    if host.target.address.is_none() {
        return Err(precondition(format!("[targets.vm.{}] has no `address`: set the public IP DNS should point at", host.target.name)));
    }
    let wanted = wanted_records(source, host);
    let mut planned = Planned::default();
    if let Some(tls) = ferry_vm_plan::certificate::managed(app, &host.target, &hostnames(source)) {
        planned.findings.push(ferry_vm_plan::certificate::expiry(&tls, host.certificate.as_ref()));
    }
    if wanted.is_empty() {
        planned.findings.push(finding("no-hostnames", Severity::Warning, "the app has no certificates on Fly, so no hostnames to move".to_string()));
        return Ok(planned);
    }
    let (Some(zone_name), Some(zone)) = (&options.dns_zone, zone) else {
        let lines: Vec<String> = wanted.iter().map(|w| format!("{} {} {}", w.name, w.rtype, w.values.join(", "))).collect();
        planned.findings.push(finding(
            "dns-by-hand",
            Severity::Warning,
            format!("point these records at {} (no --dns-zone, so ferry does not change them): {}", host.target.name, lines.join("; ")),
        ));
        return Ok(planned);
    };
    // The host's own address: the check runs before any record points there.
    let tls_address = ferry_cutover::options::default_tls_address(&wanted);
    let cutover = cutover_options(zone_name, wanted, options, tls_address);
    let observed = ZoneObserved { current: zone.current.clone(), zone_size: zone.size, source_machines: Some(0) };
    let switched = ferry_cutover::plan("finalize", &cutover, &observed)?;
    planned.actions.extend(switched.actions);
    planned.findings.extend(switched.findings);
    Ok(planned)
}
