//! `migrate`: plans a migration to a new Fly app in phases — `create`
//! (preflight checks only), `prepare`, `data`, `finalize`, `decommission` —
//! from fly.toml's app-spec and what the read-only `fly` import reports of
//! both apps (and, with a DNS zone, the `dns` import of the hostnames'
//! records). The host alone changes anything, and journals it so
//! `ferry migrate abort` can undo every phase in reverse.

use ferry_migrate::migration::{App, Observed, Options, Read, Zone, options::PARAMS, phases, preflight};
use ferry_migrate::to_vm;
use ferry_step_sdk::host::{checkout, dns, fly, vm};
use ferry_step_sdk::params::{finding, precondition};
use ferry_step_sdk::step::{PlanRequest, StepInfo, StepPlan};
use ferry_step_sdk::types::{AppSpec, Problem, Severity, StepError};
use ferry_step_sdk::{Step, export_step, info};

struct Migrate;

impl Step for Migrate {
    fn describe() -> StepInfo {
        StepInfo {
            name: "migrate".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            summary: "Plans a migration to a new Fly app in reviewed, reversible phases: create (preflight), prepare, data, finalize, decommission.".into(),
            params: ferry_step_sdk::params::param_infos(PARAMS, &["id", "to"]),
        }
    }

    fn plan(request: PlanRequest) -> Result<StepPlan, StepError> {
        let app = request.app.clone().ok_or_else(|| precondition("migrate needs the app-spec: run parse-config before it"))?;
        let mut options = Options::from_params(Some(&app), &request.params)?;
        if let Some(target) = to_vm::target_name(&options.to) {
            let planned = off_fly(&app, &request.phase, target, &options)?;
            info!("migration {} ({} -> {}), {}: {} action(s)", options.id, options.from, options.to, request.phase, planned.actions.len());
            return Ok(StepPlan { app: Some(app_with(app, &options)), actions: planned.actions, findings: planned.findings });
        }
        let source = read(&options.from)?;
        if options.region.is_none() {
            options.region = source.found().and_then(App::region);
        }
        let planned = match request.phase.as_str() {
            "create" => {
                let observed = Observed { source, target: read(&options.to)? };
                phases::Planned { actions: Vec::new(), findings: preflight::checks(&app, &observed, &options) }
            }
            "prepare" => {
                let observed = Observed { source, target: read(&options.to)? };
                let checks = preflight::checks(&app, &observed, &options);
                refuse_failed(&checks)?;
                phases::prepare(&app, observed.source.found().expect("checked"), &options)
            }
            "data" => phases::data(&found(source, &options.from)?, &options),
            "finalize" => {
                let source = found(source, &options.from)?;
                let target = found(read(&options.to)?, &options.to)?;
                let zone = zone(&source, &target, &options)?;
                phases::finalize(&app, &source, &target, zone.as_ref(), &options)?
            }
            "decommission" => phases::decommission(&found(source, &options.from)?, &options),
            other => phases::Planned {
                actions: Vec::new(),
                findings: vec![finding(
                    "other-phase",
                    Severity::Info,
                    format!("migrate plans create, prepare, data, finalize and decommission; nothing to do in `{other}`"),
                )],
            },
        };
        info!("migration {} ({} -> {}), {}: {} action(s)", options.id, options.from, options.to, request.phase, planned.actions.len());
        Ok(StepPlan { app: Some(app_with(app, &options)), actions: planned.actions, findings: planned.findings })
    }
}

/// A phase of a migration off Fly to the Docker host `target`.
fn off_fly(app: &AppSpec, phase: &str, target: &str, options: &Options) -> Result<phases::Planned, StepError> {
    let source = read(&options.from)?;
    let names = source.found().map(to_vm::phases::hostnames).unwrap_or_default();
    let host = host(target, app.app.as_deref().unwrap_or(&options.from), &names)?;
    match phase {
        "create" => Ok(phases::Planned {
            actions: Vec::new(),
            findings: to_vm::preflight::checks(app, &source, &host, &postgres_app(options)?, zone_size(options).as_ref(), options),
        }),
        "prepare" => {
            refuse_failed(&to_vm::preflight::checks(app, &source, &host, &postgres_app(options)?, zone_size(options).as_ref(), options))?;
            let source = found(source, &options.from)?;
            let ferry_toml = ferry_step_sdk::files::read_text("ferry.toml").map_err(ferry_step_sdk::params::invalid)?;
            let zone = host_zone(&source, &host, options)?;
            to_vm::phases::prepare(app, &source, &host, zone.as_ref(), options, &workflows()?, ferry_toml.as_deref())
        }
        "data" => to_vm::phases::data(app, &found(source, &options.from)?, &host, options),
        "decommission" => to_vm::phases::decommission(app, &found(source, &options.from)?, &host, options),
        "finalize" => {
            let source = found(source, &options.from)?;
            let zone = host_zone(&source, &host, options)?;
            to_vm::phases::finalize(app.app.as_deref().unwrap_or(&options.from), &source, &host, zone.as_ref(), options)
        }
        other => Ok(phases::Planned {
            actions: Vec::new(),
            findings: vec![finding(
                "other-phase",
                Severity::Info,
                format!("a migration to a VM plans create, prepare, data, finalize and decommission; nothing to do in `{other}`"),
            )],
        }),
    }
}

/// The Fly Postgres app the migration deletes at decommission, as the
/// `fly` import reads it (`None` when it names none).
fn postgres_app(options: &Options) -> Result<Option<Read<App>>, StepError> {
    options.postgres_app.as_deref().map(read).transpose()
}

/// How many record sets `--dns-zone` holds, or why it cannot be read.
fn zone_size(options: &Options) -> Option<Result<u32, String>> {
    options.dns_zone.as_ref().map(|zone| {
        dns::zone_size(zone).map_err(|e| match e {
            dns::DnsError::Unavailable(m) | dns::DnsError::Denied(m) | dns::DnsError::Failed(m) => m,
        })
    })
}

/// The hostnames' records as the zone holds them now, when one is given.
fn host_zone(source: &App, host: &to_vm::Host, options: &Options) -> Result<Option<Zone>, StepError> {
    let Some(zone) = &options.dns_zone else { return Ok(None) };
    let wanted = to_vm::phases::wanted_records(source, host);
    let current = wanted.iter().map(|w| dns::read_rrset(zone, &w.name, &w.rtype).map_err(|e| dns_error(zone, e))).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Zone { current, size: dns::zone_size(zone).map_err(|e| dns_error(zone, e))? }))
}

/// What the `vm` import tells about the target; a host that cannot be
/// read is a finding of the preflight, not an error here.
fn host(target: &str, app: &str, hostnames: &[String]) -> Result<to_vm::Host, StepError> {
    let info = vm::list_targets()
        .into_iter()
        .find(|t| t.name == target)
        .ok_or_else(|| precondition(format!("VM target {target} is not configured: add [targets.vm.{target}] to ferry.toml")))?;
    let facts = vm::facts(target);
    let at = |e: String| StepError::Transient(Problem { message: format!("reading VM target {target}: {e}"), location: None });
    let mut host = to_vm::Host { target: info, facts, containers: Vec::new(), releases: Vec::new(), certificate: None };
    if host.facts.is_ok() {
        host.containers = vm::containers(target, app).map_err(at)?;
        host.releases = vm::releases(target, app).map_err(at)?;
        if let Some(tls) = ferry_vm_plan::certificate::managed(app, &host.target, hostnames) {
            host.certificate = vm::certificate(target, &tls.certificate).map_err(at)?;
        }
    }
    Ok(host)
}

/// The checkout's workflow files.
fn workflows() -> Result<Vec<to_vm::Workflow>, StepError> {
    let dir = ".github/workflows";
    let entries = match checkout::list_dir(dir) {
        Ok(entries) => entries,
        Err(checkout::ReadError::NotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(ferry_step_sdk::params::invalid(ferry_step_sdk::files::describe(dir, &e))),
    };
    let mut out = Vec::new();
    for entry in entries.into_iter().filter(|e| e.name.ends_with(".yml") || e.name.ends_with(".yaml")) {
        let path = format!("{dir}/{}", entry.name);
        if let Some(text) = ferry_step_sdk::files::read_text(&path).map_err(ferry_step_sdk::params::invalid)? {
            out.push(to_vm::Workflow { path, text });
        }
    }
    Ok(out)
}

/// The app-spec as the plan shows it: the source app's name, so every
/// phase's journal is kept under the same app whatever fly.toml says now.
fn app_with(mut app: AppSpec, options: &Options) -> AppSpec {
    app.app = Some(options.from.clone());
    app
}

/// Everything the `fly` import tells about one app.
fn read(name: &str) -> Result<Read<App>, StepError> {
    let machines = match fly::list_machines(name) {
        Ok(m) => m,
        Err(fly::QueryError::NotFound(_)) => return Ok(Read::Missing),
        Err(fly::QueryError::Denied(m)) => return Ok(Read::Denied(m)),
        Err(e) => return Err(query_error(name, e)),
    };
    let e = |err| query_error(name, err);
    Ok(Read::Found(App {
        machines,
        volumes: fly::list_volumes(name).map_err(e)?,
        secrets: fly::list_secret_names(name).map_err(e)?,
        ips: fly::list_ips(name).map_err(e)?,
        certificates: fly::list_certificates(name).map_err(e)?,
    }))
}

fn found(read: Read<App>, name: &str) -> Result<App, StepError> {
    match read {
        Read::Found(app) => Ok(app),
        Read::Missing => {
            Err(precondition(format!("app {name} does not exist on Fly: run the phases in order (`ferry migrate status` shows where this one stands)")))
        }
        Read::Denied(m) => Err(precondition(format!("the Fly token may not read {name}: {m}"))),
    }
}

/// The current A and AAAA records of each hostname, when a zone is given.
fn zone(source: &App, target: &App, options: &Options) -> Result<Option<Zone>, StepError> {
    let Some(zone) = &options.dns_zone else { return Ok(None) };
    let wanted = phases::wanted_records(source, target);
    let current = wanted.iter().map(|w| dns::read_rrset(zone, &w.name, &w.rtype).map_err(|e| dns_error(zone, e))).collect::<Result<Vec<_>, _>>()?;
    let size = dns::zone_size(zone).map_err(|e| dns_error(zone, e))?;
    Ok(Some(Zone { current, size }))
}

fn refuse_failed(checks: &[ferry_step_sdk::types::Finding]) -> Result<(), StepError> {
    let failed = preflight::failed(checks);
    if failed.is_empty() {
        return Ok(());
    }
    let reasons: Vec<&str> = failed.iter().map(|f| f.message.as_str()).collect();
    Err(precondition(format!("{} preflight check(s) fail: {}", failed.len(), reasons.join("; "))))
}

fn query_error(app: &str, e: fly::QueryError) -> StepError {
    match e {
        fly::QueryError::Unavailable(m) => precondition(format!("migrate needs the Fly API: {m}")),
        fly::QueryError::NotFound(m) | fly::QueryError::Denied(m) => precondition(format!("reading app {app}: {m}")),
        fly::QueryError::Failed(m) => StepError::Transient(Problem { message: format!("reading app {app} from Fly: {m}"), location: None }),
    }
}

fn dns_error(zone: &str, e: dns::DnsError) -> StepError {
    match e {
        dns::DnsError::Unavailable(m) | dns::DnsError::Denied(m) => precondition(format!("zone {zone}: {m}")),
        dns::DnsError::Failed(m) => StepError::Transient(Problem { message: format!("reading zone {zone}: {m}"), location: None }),
    }
}

export_step!(Migrate);
