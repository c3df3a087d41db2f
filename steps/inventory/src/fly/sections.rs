//! The typed read of a normalised fly.toml: every section into app-spec
//! records, with Go's type strictness (a wrong type makes flyctl reject the
//! file, so it is an error here too) and flyctl's per-section validation.

use ferry_step_sdk::types::{
    AutoStop, Build, Check, CheckKind, CheckScope, Concurrency, Deploy, Experimental, File, FileSource, HttpOptions, HttpResponseOptions, LocalFile,
    MachineDefaults, Metrics, Mount, Port, Process, ProxyProtoOptions, ReplayCache, Restart, RestartPolicy, Service, ServiceProtocol, StaticFiles as Static,
    TlsOptions, Vm,
};

use super::names;
use crate::findings::{Findings, Spot};
use crate::read::{At, Problem, optional};

/// Everything fly.toml says, before flattening per group.
#[derive(Debug, Default)]
pub struct FlyToml {
    pub app: Option<String>,
    pub primary_region: Option<String>,
    pub machine: MachineDefaults,
    /// `[processes]` as written (empty when there is none).
    pub processes: Vec<Process>,
    /// `[http_service]` (expanded, first) then `[[services]]`.
    pub services: Vec<Service>,
    /// Checks of each service, by index into `services`.
    pub service_checks: Vec<(usize, Check)>,
    /// Top-level `[checks]`.
    pub checks: Vec<Check>,
    pub mounts: Vec<Mount>,
    pub env: Vec<(String, String)>,
    pub vm: Vec<Vm>,
    pub restart: Vec<Restart>,
    pub files: Vec<File>,
    pub metrics: Vec<Metrics>,
    pub statics: Vec<Static>,
    pub experimental: Experimental,
    pub deploy: Deploy,
    pub build: Build,
    /// Secret names the file refers to (`[[files]] secret_name`).
    pub secret_refs: Vec<String>,
    /// Where `[deploy] strategy` is, for findings that involve it.
    pub strategy_spot: Option<Spot>,
    /// Where each service and mount is, for findings about them.
    pub service_spots: Vec<Spot>,
    pub mount_spots: Vec<Spot>,
    /// Where each `[[files]]` entry is (local files are read later).
    pub file_spots: Vec<Spot>,
    /// `machine_config` as written (`[experimental]`'s wins), and where.
    pub machine_config: Option<(String, Spot)>,
    /// `container`: the `machine_config` container that runs the image.
    pub container: Option<String>,
}

/// The strategies flyctl accepts (`MachinesDeployStrategies`).
pub const STRATEGIES: [&str; 4] = ["canary", "rolling", "immediate", "bluegreen"];

/// Reads every section. A value of the wrong type is reported and its
/// section (one service, one mount…) left out, so one mistake does not hide
/// the rest of the inventory; flyctl rejects such a file as a whole.
pub fn read(root: &At, findings: &mut Findings) -> FlyToml {
    let r = optional(root, "app", At::str);
    let app = findings.keep(r).flatten();
    if let (Some(name), Some(at)) = (&app, root.get("app"))
        && let Some(problem) = names::app_problem(name)
    {
        findings.error("invalid-app-name", problem, &at);
    }
    let r = optional(root, "primary_region", At::str);
    let primary_region = findings.keep(r).flatten();
    let r = machine_defaults(root, findings);
    let machine = findings.keep(r).unwrap_or_default();
    let r = processes(root, findings);
    let processes = findings.keep(r).unwrap_or_default();
    let r = env(root, findings);
    let env = findings.keep(r).unwrap_or_default();
    let mut fly = FlyToml { app, primary_region, machine, processes, env, ..FlyToml::default() };
    if let Some(http) = root.get("http_service") {
        let r = http_service(&http, findings);
        if let Some((svc, checks)) = findings.keep(r) {
            push_service(&mut fly, svc, checks, Spot::from(&http));
        }
    }
    for at in list(root, "services", findings) {
        let r = service(&at, findings);
        if let Some((svc, checks)) = findings.keep(r) {
            push_service(&mut fly, svc, checks, Spot::from(&at));
        }
    }
    if let Some(checks) = root.get("checks") {
        let r = checks.entries();
        for (name, check) in findings.keep(r).unwrap_or_default() {
            let r = top_level_check(name, &check, findings);
            fly.checks.extend(findings.keep(r));
        }
    }
    for at in list(root, "mounts", findings) {
        let r = mount(&at, findings);
        if let Some(m) = findings.keep(r) {
            fly.mounts.push(m);
            fly.mount_spots.push(Spot::from(&at));
        }
    }
    fly.vm = each(root, "vm", findings, vm);
    fly.restart = each(root, "restart", findings, restart);
    for at in list(root, "files", findings) {
        let r = file(&at, findings);
        if let Some(f) = findings.keep(r).flatten() {
            fly.files.push(f);
            fly.file_spots.push(Spot::from(&at));
        }
    }
    fly.metrics = each(root, "metrics", findings, metrics);
    fly.statics = each(root, "statics", findings, statik);
    let r = experimental(root, findings);
    fly.experimental = findings.keep(r).unwrap_or_default();
    let r = deploy(root, findings);
    (fly.deploy, fly.strategy_spot) = findings.keep(r).unwrap_or_default();
    let r = build(root, findings);
    fly.build = findings.keep(r).unwrap_or_default();
    let r = machine_config(root);
    fly.machine_config = findings.keep(r).flatten();
    let r = optional(root, "container", At::str);
    fly.container = findings.keep(r).flatten().filter(|c| !c.is_empty());
    not_carried(root, &fly, findings);
    fly.secret_refs = fly
        .files
        .iter()
        .filter_map(|f| match &f.source {
            FileSource::SecretName(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    fly
}

fn push_service(fly: &mut FlyToml, svc: Service, checks: Vec<Check>, spot: Spot) {
    let index = fly.services.len();
    fly.service_spots.push(spot);
    fly.service_checks.extend(checks.into_iter().map(|c| (index, c)));
    fly.services.push(svc);
}

/// The elements of a list section (none when it is absent or not a list).
fn list<'a>(root: &At<'a>, key: &str, findings: &mut Findings) -> Vec<At<'a>> {
    match root.get(key) {
        Some(at) => {
            let r = at.items();
            findings.keep(r).unwrap_or_default()
        }
        None => Vec::new(),
    }
}

/// Reads every element of a list section; one with a wrong type is reported
/// and left out.
fn each<'a, T>(root: &At<'a>, key: &str, findings: &mut Findings, read: impl Fn(&At<'a>, &mut Findings) -> Result<T, Problem>) -> Vec<T> {
    let mut out = Vec::new();
    for at in list(root, key, findings) {
        let r = read(&at, findings);
        out.extend(findings.keep(r));
    }
    out
}

fn str_list_or_empty(at: &At, key: &str) -> Result<Vec<String>, Problem> {
    Ok(optional(at, key, At::str_list)?.unwrap_or_default())
}

fn machine_defaults(root: &At, findings: &mut Findings) -> Result<MachineDefaults, Problem> {
    let kill_timeout_ms = optional(root, "kill_timeout", |at| at.duration_ms(1000))?;
    if let (Some(ms), Some(at)) = (kill_timeout_ms, root.get("kill_timeout"))
        && ms > 300_000
    {
        findings.warn("kill-timeout-too-long", format!("kill_timeout is {}s; Fly allows at most 300s and caps it", ms / 1000), &at);
    }
    let console_command = optional(root, "console_command", At::str)?;
    if let (Some(cmd), Some(at)) = (&console_command, root.get("console_command")) {
        shell_words(cmd, &at, "console_command", findings);
    }
    Ok(MachineDefaults {
        kill_signal: optional(root, "kill_signal", At::str)?,
        kill_timeout_ms,
        swap_size_mb: optional(root, "swap_size_mb", At::u32)?,
        console_command,
        host_dedication_id: optional(root, "host_dedication_id", At::str)?.filter(|s| !s.is_empty()),
        // Resolved from `FlyToml::machine_config` once the checkout can be read.
        machine_config: None,
    })
}

/// flyctl splits commands with shlex and rejects what does not split.
fn shell_words(command: &str, at: &At, what: &str, findings: &mut Findings) -> bool {
    let ok = shlex::split(command).is_some();
    if !ok {
        findings.error("invalid-command", format!("{what} `{command}` does not split into shell words (an unclosed quote?)"), at);
    }
    ok
}

/// `[processes]`. A command that is not a string is reported on its own;
/// the group stays, so what refers to it is still matched.
fn processes(root: &At, findings: &mut Findings) -> Result<Vec<Process>, Problem> {
    let Some(at) = root.get("processes") else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (name, cmd) in at.entries()? {
        if let Some(problem) = names::group_problem(name) {
            findings.error("invalid-process-group", problem, &cmd);
        }
        let r = cmd.str();
        let command = findings.keep(r).unwrap_or_default();
        if !command.is_empty() {
            shell_words(&command, &cmd, &format!("the command of process group `{name}`"), findings);
        }
        out.push(Process { name: name.to_string(), command });
    }
    Ok(out)
}

fn env(root: &At, findings: &mut Findings) -> Result<Vec<(String, String)>, Problem> {
    let Some(at) = root.get("env") else { return Ok(Vec::new()) };
    at.entries()?
        .into_iter()
        .map(|(name, value)| {
            if let Some(problem) = names::env_problem(name) {
                findings.error("invalid-env-name", problem, &value);
            }
            if name.starts_with("FLY_") {
                findings.warn("fly-env-name", format!("env `{name}`: names starting with FLY_ are reserved by Fly and may be overwritten"), &value);
            }
            Ok((name.to_string(), value.str()?))
        })
        .collect()
}

/// `[http_service]` expands to ports 80 (http) and 443 (http + tls), as
/// flyctl's `ToService` does.
fn http_service(at: &At, findings: &mut Findings) -> Result<(Service, Vec<Check>), Problem> {
    let internal_port = needed(at, "internal_port", At::port, findings)?;
    let force_https = optional(at, "force_https", At::bool)?.unwrap_or(false);
    let http_options = optional(at, "http_options", http_options)?;
    let tls_options = optional(at, "tls_options", tls_options)?;
    let svc =
        Service { ports: http_ports(force_https, http_options, tls_options), http_service: true, ..service_common(at, ServiceProtocol::Tcp, internal_port)? };
    let checks = http_checks(at, "checks", &svc, findings)?;
    Ok((svc, checks))
}

/// The public ports of an HTTP service, as flyctl's `ToService` makes them:
/// 80 (http, optionally redirecting to https) and 443 (http + tls). Both
/// get the `http_options`; only 443 gets the `tls_options` (port 80 speaks
/// no TLS).
pub fn http_ports(force_https: bool, http_options: Option<HttpOptions>, tls_options: Option<TlsOptions>) -> Vec<Port> {
    let port = |port, handlers: &[&str], force_https, tls_options| Port {
        port: Some(port),
        start_port: None,
        end_port: None,
        handlers: handlers.iter().map(|h| h.to_string()).collect(),
        force_https,
        tls_options,
        http_options: http_options.clone(),
        proxy_proto_options: None,
    };
    vec![port(80, &["http"], force_https, None), port(443, &["http", "tls"], false, tls_options)]
}

fn service(at: &At, findings: &mut Findings) -> Result<(Service, Vec<Check>), Problem> {
    let text = optional(at, "protocol", At::str)?.unwrap_or_default();
    let protocol = ServiceProtocol::parse(&text).unwrap_or_else(|| {
        findings.error("invalid-protocol", format!("`{}.protocol` must be {}, not \"{text}\"", at.path(), ServiceProtocol::choices()), at);
        ServiceProtocol::Tcp
    });
    let internal_port = needed(at, "internal_port", At::port, findings)?;
    let ports: Vec<Port> = match at.get("ports") {
        Some(ports) => ports.items()?.iter().map(port).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    if ports.is_empty() {
        findings.warn(
            "service-without-ports",
            format!("`{}` (internal port {internal_port}) has no [[services.ports]]: nothing can reach it from outside", at.path()),
            at,
        );
    }
    let svc = Service { ports, ..service_common(at, protocol, internal_port)? };
    let mut checks = Vec::new();
    for (i, check) in list(at, "tcp_checks", findings).iter().enumerate() {
        checks.push(service_check(check, CheckKind::Tcp, &svc, i, findings)?);
    }
    checks.extend(http_checks(at, "http_checks", &svc, findings)?);
    Ok((svc, checks))
}

fn service_common(at: &At, protocol: ServiceProtocol, internal_port: u16) -> Result<Service, Problem> {
    Ok(Service {
        protocol,
        internal_port,
        ports: Vec::new(),
        processes: str_list_or_empty(at, "processes")?,
        http_service: false,
        auto_stop_machines: optional(at, "auto_stop_machines", auto_stop)?,
        auto_start_machines: optional(at, "auto_start_machines", At::bool)?,
        min_machines_running: optional(at, "min_machines_running", At::u32)?,
        concurrency: optional(at, "concurrency", concurrency)?,
    })
}

fn concurrency(at: &At) -> Result<Concurrency, Problem> {
    Ok(Concurrency {
        // No default: flyctl sends no `type` when fly.toml names none (the
        // platform then counts connections).
        kind: optional(at, "type", At::str)?.unwrap_or_default(),
        soft_limit: optional(at, "soft_limit", At::u32)?,
        hard_limit: optional(at, "hard_limit", At::u32)?,
    })
}

fn port(at: &At) -> Result<Port, Problem> {
    Ok(Port {
        port: optional(at, "port", At::port)?,
        start_port: optional(at, "start_port", At::port)?,
        end_port: optional(at, "end_port", At::port)?,
        handlers: str_list_or_empty(at, "handlers")?,
        force_https: optional(at, "force_https", At::bool)?.unwrap_or(false),
        tls_options: optional(at, "tls_options", tls_options)?,
        http_options: optional(at, "http_options", http_options)?,
        proxy_proto_options: optional(at, "proxy_proto_options", |p| Ok(ProxyProtoOptions { version: optional(p, "version", At::str)?.unwrap_or_default() }))?,
    })
}

/// `tls_options` (fly-go `TLSOptions`).
fn tls_options(at: &At) -> Result<TlsOptions, Problem> {
    Ok(TlsOptions {
        alpn: str_list_or_empty(at, "alpn")?,
        versions: str_list_or_empty(at, "versions")?,
        default_self_signed: optional(at, "default_self_signed", At::bool)?,
    })
}

/// `http_options` (fly-go `HTTPOptions`). Response header values are
/// free-form in fly-go (`map[string]any`), so each is kept as JSON.
fn http_options(at: &At) -> Result<HttpOptions, Problem> {
    let response = optional(at, "response", |r| {
        let headers = match r.get("headers") {
            Some(h) => h.entries()?.into_iter().map(|(k, v)| (k.to_string(), crate::node::to_json(v.node).to_string())).collect(),
            None => Vec::new(),
        };
        Ok(HttpResponseOptions { headers, pristine: optional(r, "pristine", At::bool)? })
    })?;
    let replay_cache = match at.get("replay_cache") {
        Some(list) => list
            .items()?
            .iter()
            .map(|c| {
                Ok(ReplayCache {
                    path_prefix: optional(c, "path_prefix", At::str)?.unwrap_or_default(),
                    ttl_seconds: optional(c, "ttl_seconds", At::u32)?.unwrap_or_default(),
                    kind: optional(c, "type", At::str)?.unwrap_or_default(),
                    name: optional(c, "name", At::str)?.unwrap_or_default(),
                    allow_bypass: optional(c, "allow_bypass", At::bool)?.unwrap_or(false),
                })
            })
            .collect::<Result<_, Problem>>()?,
        None => Vec::new(),
    };
    Ok(HttpOptions {
        compress: optional(at, "compress", At::bool)?,
        h2_backend: optional(at, "h2_backend", At::bool)?,
        idle_timeout: optional(at, "idle_timeout", At::u32)?,
        headers_read_timeout: optional(at, "headers_read_timeout", At::u32)?,
        response,
        replay_cache,
    })
}

/// `auto_stop_machines`: `"off"`, `"stop"`, `"suspend"`, or a boolean (true = stop).
fn auto_stop(at: &At) -> Result<AutoStop, Problem> {
    match at.bool() {
        Ok(true) => Ok(AutoStop::Stop),
        Ok(false) => Ok(AutoStop::Off),
        Err(_) => {
            let s = at.str()?;
            AutoStop::parse(&s).ok_or_else(|| at.problem(format!("`{}` must be a boolean or {}, not \"{s}\"", at.path(), AutoStop::choices())))
        }
    }
}

fn http_checks(at: &At, key: &str, svc: &Service, findings: &mut Findings) -> Result<Vec<Check>, Problem> {
    list(at, key, findings).iter().enumerate().map(|(i, c)| service_check(c, CheckKind::Http, svc, i, findings)).collect()
}

/// A service check: it gates traffic to the service's internal port.
/// flyctl raises durations under 1s to 1s and lowers those over 1m to 1m.
fn service_check(at: &At, kind: CheckKind, svc: &Service, index: usize, findings: &mut Findings) -> Result<Check, Problem> {
    let mut check = check_fields(at, kind, CheckScope::Service, findings)?;
    check.name = format!("{kind}-{}-{index}", svc.internal_port);
    check.port = Some(svc.internal_port);
    check.processes = svc.processes.clone();
    for (field, value) in [("interval", &mut check.interval_ms), ("timeout", &mut check.timeout_ms), ("grace_period", &mut check.grace_period_ms)] {
        let Some(ms) = *value else { continue };
        let zero_ok = field == "grace_period";
        let clamped = if ms < 1000 && !(zero_ok && ms == 0) { 1000 } else { ms.min(60_000) };
        if clamped != ms {
            let spot = at.get(field).map(|f| Spot::from(&f)).unwrap_or_else(|| Spot::from(at));
            findings.warn("check-duration-clamped", format!("`{}.{field}` is {ms}ms; Fly uses {clamped}ms (service checks take 1s to 1m)", at.path()), spot);
            *value = Some(clamped);
        }
    }
    Ok(check)
}

fn check_fields(at: &At, kind: CheckKind, scope: CheckScope, findings: &mut Findings) -> Result<Check, Problem> {
    let headers = match at.get("headers") {
        Some(h) => h.entries()?.into_iter().map(|(k, v)| Ok((k.to_string(), v.str()?))).collect::<Result<_, Problem>>()?,
        None => Vec::new(),
    };
    Ok(Check {
        name: String::new(),
        kind,
        scope,
        port: None,
        path: optional(at, "path", At::str)?,
        method: optional(at, "method", At::str)?,
        protocol: optional(at, "protocol", At::str)?,
        interval_ms: duration(at, "interval", findings)?,
        timeout_ms: duration(at, "timeout", findings)?,
        grace_period_ms: duration(at, "grace_period", findings)?,
        headers,
        tls_skip_verify: optional(at, "tls_skip_verify", At::bool)?,
        tls_server_name: optional(at, "tls_server_name", At::str)?,
        processes: Vec::new(),
    })
}

/// A check duration; an empty string (a value flyctl drops) counts as
/// absent. The patches turned the ms numbers of `[[services]]` and
/// `[checks]` into strings already, so a number here (`[http_service]`
/// checks, which flyctl does not patch) is nanoseconds to Go.
fn duration(at: &At, key: &str, findings: &mut Findings) -> Result<Option<u64>, Problem> {
    match at.get(key) {
        Some(d) if d.str().is_ok_and(|s| s.is_empty()) => Ok(None),
        Some(_) => nanosecond_duration(at, key, findings),
        None => Ok(None),
    }
}

/// A top-level `[checks.<name>]`: type is required; interval at least 2s,
/// timeout at most 60s (the Machines API's limits).
fn top_level_check(name: &str, at: &At, findings: &mut Findings) -> Result<Check, Problem> {
    let text = optional(at, "type", At::str)?;
    let kind = text.as_deref().and_then(CheckKind::parse).unwrap_or_else(|| {
        let found = text.as_ref().map(|k| format!("\"{k}\"")).unwrap_or_else(|| "missing".into());
        findings.error("invalid-check", format!("check `{name}` needs type = {} ({found})", CheckKind::choices()), at);
        CheckKind::Http
    });
    let mut check = check_fields(at, kind, CheckScope::Machine, findings)?;
    check.name = name.to_string();
    check.port = optional(at, "port", At::port)?;
    check.processes = str_list_or_empty(at, "processes")?;
    if let Some(ms) = check.interval_ms.filter(|ms| *ms < 2000) {
        findings.error("invalid-check", format!("check `{name}` interval is {ms}ms; the minimum is 2s"), at);
    }
    if let Some(ms) = check.timeout_ms.filter(|ms| *ms > 60_000) {
        findings.error("invalid-check", format!("check `{name}` timeout is {ms}ms; the maximum is 60s"), at);
    }
    Ok(check)
}

fn mount(at: &At, findings: &mut Findings) -> Result<Mount, Problem> {
    let source = needed(at, "source", At::str, findings)?;
    if let (Some(problem), Some(spot)) = (names::volume_problem(&source), at.get("source")) {
        findings.error("invalid-mount", problem, &spot);
    }
    let initial_size = optional(at, "initial_size", At::str)?;
    if let Some(size) = &initial_size {
        match crate::units::size_mb(&with_default_unit(size, "gb")) {
            Some(mb) if mb >= 1024 => {}
            Some(_) => findings.error("invalid-mount", format!("mount `{source}`: initial_size \"{size}\" is under 1GB"), at),
            None => findings.error("invalid-mount", format!("mount `{source}`: initial_size \"{size}\" is not a size such as \"10gb\""), at),
        }
    }
    let snapshot_retention = optional(at, "snapshot_retention", At::u32)?;
    if let Some(days) = snapshot_retention
        && !(1..=60).contains(&days)
    {
        findings.error("invalid-mount", format!("mount `{source}`: snapshot_retention must be 1 to 60 days, not {days}"), at);
    }
    let (threshold, increment, limit) = auto_extend(at, &source, findings)?;
    Ok(Mount {
        destination: needed(at, "destination", At::str, findings)?,
        initial_size,
        auto_extend_size_threshold: threshold,
        auto_extend_size_increment_gb: increment,
        auto_extend_size_limit_gb: limit,
        processes: str_list_or_empty(at, "processes")?,
        snapshot_retention,
        scheduled_snapshots: optional(at, "scheduled_snapshots", At::bool)?,
        source,
    })
}

/// A mount's auto-extend settings: threshold (%), increment and limit (GB).
type AutoExtend = (Option<u32>, Option<u32>, Option<u32>);

/// `auto_extend_size_*`, checked with flyctl's rules (`validateMounts`):
/// sizes are decimal GB (`units.FromHumanSize`, a bare number is GB); the
/// threshold is 50-99 %, the increment 1-100 GB, the limit 1-500 GB.
fn auto_extend(at: &At, source: &str, findings: &mut Findings) -> Result<AutoExtend, Problem> {
    let threshold = optional(at, "auto_extend_size_threshold", At::u32)?.filter(|t| *t != 0);
    let mut gb = |key: &str, what: &str, max: u64| -> Result<Option<u32>, Problem> {
        let Some(text) = optional(at, key, At::str)?.filter(|s| !s.is_empty()) else { return Ok(None) };
        let spot = at.get(key).map(|k| Spot::from(&k)).unwrap_or_else(|| Spot::from(at));
        match decimal_gb(&text) {
            Some(n) if (1..=max).contains(&n) => Ok(u32::try_from(n).ok()),
            Some(_) => {
                findings.error("invalid-mount", format!("mount `{source}`: {key} \"{text}\" must be between 1GB and {max}GB ({what})"), spot);
                Ok(None)
            }
            None => {
                findings.error("invalid-mount", format!("mount `{source}`: {key} \"{text}\" is not a size such as \"10GB\""), spot);
                Ok(None)
            }
        }
    };
    let increment = gb("auto_extend_size_increment", "how much the volume grows each time", 100)?;
    let limit = gb("auto_extend_size_limit", "the largest it may grow to", 500)?;
    if threshold.is_some() || increment.is_some() || limit.is_some() {
        if let Some(t) = threshold.filter(|t| !(50..=99).contains(t)) {
            findings.error("invalid-mount", format!("mount `{source}`: auto_extend_size_threshold must be between 50 and 99, not {t}"), at);
        }
        if threshold.is_none() || increment.is_none() {
            findings.error(
                "invalid-mount",
                format!(
                    "mount `{source}`: auto-extend needs auto_extend_size_threshold and auto_extend_size_increment (and optionally auto_extend_size_limit)"
                ),
                at,
            );
        }
    }
    Ok((threshold, increment, limit))
}

/// Volume sizes without a unit are gigabytes (`ParseSize(…, units.GB)`).
fn with_default_unit(size: &str, unit: &str) -> String {
    if size.trim().chars().all(|c| c.is_ascii_digit()) { format!("{size}{unit}") } else { size.to_string() }
}

/// A volume size in whole GB as flyctl reads auto-extend sizes
/// (`helpers.ParseSize(s, units.FromHumanSize, units.GB)`): a bare integer
/// is GB; otherwise docker/go-units' decimal parse (`"3GB"`, `"1.5 TB"`,
/// `"500mb"`; an `i` is allowed, `"3GiB"`, and still decimal), truncated.
pub fn decimal_gb(text: &str) -> Option<u64> {
    if let Ok(n) = text.parse::<i64>() {
        return u64::try_from(n).ok();
    }
    let sep = text.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (number, suffix) = if text.as_bytes()[sep] == b' ' { (&text[..sep], &text[sep + 1..]) } else { (&text[..=sep], &text[sep + 1..]) };
    let size: f64 = number.parse().ok().filter(|n: &f64| *n >= 0.0 && n.is_finite())?;
    let suffix = suffix.to_ascii_lowercase();
    let bytes = match suffix.as_bytes() {
        [] | [b'b'] => size,
        [unit] | [unit, b'b'] | [unit, b'i', b'b'] => {
            let exponent = match unit {
                b'k' => 3,
                b'm' => 6,
                b'g' => 9,
                b't' => 12,
                b'p' => 15,
                _ => return None,
            };
            size * 10f64.powi(exponent)
        }
        _ => return None,
    };
    Some((bytes as i64 / 1_000_000_000).max(0) as u64)
}

/// `[[vm]]` (or `[[compute]]`, `[deploy.release_command_vm]`) resolved the
/// way flyctl's `computeToGuest` does: the `size` preset (shared-cpu-1x
/// without one, performance-8x when a GPU kind is named without one), then
/// `memory` (binary units, a bare number is MB), then every explicit guest
/// field over it (so `memory_mb` beats `memory`).
fn vm(at: &At, findings: &mut Findings) -> Result<Vm, Problem> {
    let size = optional(at, "size", At::str)?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let gpu_kind = optional(at, "gpu_kind", At::str)?.filter(|s| !s.is_empty());
    let preset_name = size.clone().unwrap_or_else(|| if gpu_kind.is_some() { "performance-8x".into() } else { "shared-cpu-1x".into() });
    let preset = preset(&preset_name);
    if preset.is_none() {
        findings.error(
            "unknown-vm-size",
            format!("`{}.size` \"{preset_name}\" is not a Fly machine size (flyctl refuses it): use one of {}", at.path(), PRESET_NAMES.join(", ")),
            at.get("size").map(|s| Spot::from(&s)).unwrap_or_else(|| Spot::from(at)),
        );
    }
    let mut memory_mb = preset.map(|p| p.memory_mb);
    if let Some(mb) = optional(at, "memory", At::size_mb)? {
        if mb == 0 {
            findings.error("invalid-vm", format!("`{}.memory` cannot be zero", at.path()), at);
        } else {
            memory_mb = Some(mb);
        }
    }
    let nonzero = |n: Option<u32>| n.filter(|n| *n != 0);
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    Ok(Vm {
        memory_mb: nonzero(optional(at, "memory_mb", At::u32)?).or(memory_mb),
        cpus: nonzero(optional(at, "cpus", At::u32)?).or(preset.map(|p| p.cpus)),
        cpu_kind: nonempty(optional(at, "cpu_kind", At::str)?).or(preset.map(|p| p.cpu_kind.to_string())),
        gpus: nonzero(optional(at, "gpus", At::u32)?).or(preset.map(|p| p.gpus).filter(|n| *n != 0)),
        gpu_kind: gpu_kind.or(preset.and_then(|p| p.gpu.map(str::to_string))),
        max_memory_mb: nonzero(optional(at, "max_memory_mb", At::u32)?),
        host_dedication_id: nonempty(optional(at, "host_dedication_id", At::str)?),
        kernel_args: str_list_or_empty(at, "kernel_args")?,
        persist_rootfs: nonempty(optional(at, "persist_rootfs", At::str)?),
        processes: str_list_or_empty(at, "processes")?,
        size,
    })
}

/// A machine size preset.
#[derive(Clone, Copy)]
pub struct Preset {
    pub cpu_kind: &'static str,
    pub cpus: u32,
    pub memory_mb: u32,
    pub gpus: u32,
    pub gpu: Option<&'static str>,
}

/// The preset names flyctl accepts, in the order they are suggested.
pub const PRESET_NAMES: [&str; 18] = [
    "shared-cpu-1x",
    "shared-cpu-2x",
    "shared-cpu-4x",
    "shared-cpu-6x",
    "shared-cpu-8x",
    "performance-1x",
    "performance-2x",
    "performance-4x",
    "performance-6x",
    "performance-8x",
    "performance-10x",
    "performance-12x",
    "performance-14x",
    "performance-16x",
    "a10",
    "a100-40gb",
    "a100-80gb",
    "l40s",
];

/// Fly's machine size presets, exactly fly-go's `MachinePresets`
/// (`machine_types.go`): shared CPUs get 256 MB each, performance CPUs
/// 2 GB each, GPU sizes 8 performance CPUs and 32 GB.
pub fn preset(size: &str) -> Option<Preset> {
    let cpu = |cpu_kind, cpus: u32| {
        let per_cpu = if cpu_kind == "shared" { 256 } else { 2048 };
        Some(Preset { cpu_kind, cpus, memory_mb: cpus * per_cpu, gpus: 0, gpu: None })
    };
    let gpu = |kind| Some(Preset { cpu_kind: "performance", cpus: 8, memory_mb: 16 * 2048, gpus: 1, gpu: Some(kind) });
    match size {
        "shared-cpu-1x" => cpu("shared", 1),
        "shared-cpu-2x" => cpu("shared", 2),
        "shared-cpu-4x" => cpu("shared", 4),
        "shared-cpu-6x" => cpu("shared", 6),
        "shared-cpu-8x" => cpu("shared", 8),
        "performance-1x" => cpu("performance", 1),
        "performance-2x" => cpu("performance", 2),
        "performance-4x" => cpu("performance", 4),
        "performance-6x" => cpu("performance", 6),
        "performance-8x" => cpu("performance", 8),
        "performance-10x" => cpu("performance", 10),
        "performance-12x" => cpu("performance", 12),
        "performance-14x" => cpu("performance", 14),
        "performance-16x" => cpu("performance", 16),
        "a10" => gpu("a10"),
        "a100-40gb" => gpu("a100-pcie-40gb"),
        "a100-80gb" => gpu("a100-sxm4-80gb"),
        "l40s" => gpu("l40s"),
        _ => None,
    }
}

fn restart(at: &At, findings: &mut Findings) -> Result<Restart, Problem> {
    let text = optional(at, "policy", At::str)?.unwrap_or_default();
    let policy = RestartPolicy::parse(&text).unwrap_or_else(|| {
        findings.error("invalid-restart", format!("restart policy \"{text}\" must be {}", RestartPolicy::choices()), at);
        RestartPolicy::Always
    });
    Ok(Restart { policy, retries: optional(at, "retries", At::u32)?, processes: str_list_or_empty(at, "processes")? })
}

/// `[[files]]`: flyctl takes the first of local_path, secret_name,
/// raw_value. An entry with none would reach the Machines API as a bare
/// `{guest_path}`, which writes nothing, so it is an error here (and left
/// out). A `local_path` is read from the checkout later (`crate::local`).
///
/// `raw_value` is base64-encoded by flyctl before it is sent, although
/// Fly's docs say it is base64 already; ferry encodes it too, so a machine
/// gets the same file from either tool. A value that looks like base64 is
/// flagged: its machine file will hold the base64 text, not the bytes.
fn file(at: &At, findings: &mut Findings) -> Result<Option<File>, Problem> {
    let guest_path = needed(at, "guest_path", At::str, findings)?;
    let local = optional(at, "local_path", At::str)?.filter(|s| !s.is_empty());
    let secret = optional(at, "secret_name", At::str)?.filter(|s| !s.is_empty());
    let raw = optional(at, "raw_value", At::str)?.filter(|s| !s.is_empty());
    let given = [local.is_some(), secret.is_some(), raw.is_some()].iter().filter(|x| **x).count();
    if given > 1 {
        findings.warn(
            "file-source",
            format!("file `{guest_path}` sets {given} of local_path, secret_name, raw_value; flyctl (and ferry) use the first of them in that order"),
            at,
        );
    }
    if !guest_path.starts_with('/') {
        findings.error("file-source", format!("file `{guest_path}`: guest_path must be an absolute path inside the machine"), at);
    }
    let processes = str_list_or_empty(at, "processes")?;
    if !processes.is_empty() {
        findings.warn(
            "file-processes-ignored",
            format!("file `{guest_path}` names process groups, but flyctl writes every [[files]] entry into every machine (the release command's too); ferry does the same"),
            at.get("processes").map(|p| Spot::from(&p)).unwrap_or_else(|| Spot::from(at)),
        );
    }
    let source = match (local, secret, raw) {
        (Some(path), _, _) => FileSource::LocalPath(LocalFile { path, base64: String::new() }),
        (None, Some(s), _) => FileSource::SecretName(s),
        (None, None, Some(raw)) => {
            if looks_base64(&raw) {
                findings.warn(
                    "raw-value-encoded",
                    format!(
                        "file `{guest_path}`: raw_value looks base64-encoded, as Fly's docs describe, but flyctl encodes raw_value itself \
                         (and ferry does the same, to match it), so the machine's file holds this base64 text, not the decoded bytes; \
                         write the file's plain contents instead, or use local_path"
                    ),
                    at.get("raw_value").map(|r| Spot::from(&r)).unwrap_or_else(|| Spot::from(at)),
                );
            }
            FileSource::RawValue(raw)
        }
        (None, None, None) => {
            findings.error(
                "file-source",
                format!("file `{guest_path}` sets none of local_path, secret_name, raw_value: the machine would get no contents for it"),
                at,
            );
            return Ok(None);
        }
    };
    Ok(Some(File { guest_path, source, processes }))
}

/// Base64 text of at least one 4-character group that decodes: the form
/// Fly's docs use for `raw_value` (e.g. `aGVsbG8gd29ybGQK`).
fn looks_base64(text: &str) -> bool {
    use base64::Engine;
    text.len() >= 8 && text.len().is_multiple_of(4) && base64::engine::general_purpose::STANDARD.decode(text).is_ok()
}

fn metrics(at: &At, findings: &mut Findings) -> Result<Metrics, Problem> {
    Ok(Metrics {
        port: needed(at, "port", At::port, findings)?,
        // No default: flyctl sends no `path` when fly.toml names none.
        path: optional(at, "path", At::str)?.unwrap_or_default(),
        https: optional(at, "https", At::bool)?.unwrap_or(false),
        processes: str_list_or_empty(at, "processes")?,
    })
}

/// `[[statics]]`. flyctl uploads a static whose guest_path is relative and
/// names no `tigris_bucket` to a Tigris bucket it creates during the
/// deploy; ferry cannot, so such a static is an error naming it.
fn statik(at: &At, findings: &mut Findings) -> Result<Static, Problem> {
    let statik = Static {
        guest_path: needed(at, "guest_path", At::str, findings)?,
        url_prefix: needed(at, "url_prefix", At::str, findings)?,
        tigris_bucket: optional(at, "tigris_bucket", At::str)?.filter(|s| !s.is_empty()),
        index_document: optional(at, "index_document", At::str)?.filter(|s| !s.is_empty()),
    };
    if statik.tigris_bucket.is_none() && !statik.guest_path.is_empty() && !statik.guest_path.starts_with('/') {
        findings.error(
            "not-carried",
            format!(
                "static `{}` has a relative guest_path and no tigris_bucket: flyctl uploads such a directory to a Tigris bucket during the deploy, \
                 which ferry cannot do; make guest_path absolute (served from the image) or upload it yourself and set tigris_bucket",
                statik.guest_path
            ),
            at,
        );
    }
    Ok(statik)
}

/// `cmd`, `entrypoint`, `exec`: a string is one argument (flyctl does not split it).
fn experimental(root: &At, findings: &mut Findings) -> Result<Experimental, Problem> {
    let Some(at) = root.get("experimental") else { return Ok(Experimental::default()) };
    let mut read = |key: &str| -> Result<Option<Vec<String>>, Problem> {
        let Some(v) = at.get(key) else { return Ok(None) };
        let words = v.str_or_list()?;
        if v.is_str() && words[0].contains(char::is_whitespace) {
            findings.warn(
                "single-argument-command",
                format!(
                    "`experimental.{key}` = \"{}\" is passed as ONE argument, spaces included; write [{}] to split it",
                    words[0],
                    words[0].split_whitespace().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(", ")
                ),
                &v,
            );
        }
        Ok(Some(words))
    };
    Ok(Experimental { cmd: read("cmd")?, entrypoint: read("entrypoint")?, exec: read("exec")? })
}

fn deploy(root: &At, findings: &mut Findings) -> Result<(Deploy, Option<Spot>), Problem> {
    let Some(at) = root.get("deploy") else { return Ok((Deploy::default(), None)) };
    let strategy = optional(&at, "strategy", At::str)?.filter(|s| !s.is_empty());
    let spot = at.get("strategy").map(|s| Spot::from(&s));
    if let (Some(s), Some(spot)) = (&strategy, &spot)
        && !STRATEGIES.contains(&s.as_str())
    {
        let hint = match s.as_str() {
            "simple" => " (V1 `simple` is `immediate` on Apps V2)",
            "rolling_one" => " (V1 `rolling_one` is `rolling` with max_unavailable = 1)",
            _ => "",
        };
        findings.error("invalid-strategy", format!("deploy strategy \"{s}\" is not one of {}{hint}", STRATEGIES.join(", ")), spot.clone());
    }
    let release_command = optional(&at, "release_command", At::str)?.filter(|s| !s.is_empty());
    if let (Some(cmd), Some(c)) = (&release_command, at.get("release_command")) {
        shell_words(cmd, &c, "release_command", findings);
    }
    let max_unavailable = optional(&at, "max_unavailable", At::number)?;
    if let (Some(n), Some(m)) = (max_unavailable, at.get("max_unavailable")) {
        if n <= 0.0 {
            findings.error("invalid-max-unavailable", format!("max_unavailable must be more than 0, not {n}"), &m);
        } else if strategy.as_deref().is_some_and(|s| s != "rolling" && s != "canary") {
            findings.warn("max-unavailable-ignored", "max_unavailable only applies to the rolling and canary strategies; it is ignored", &m);
        }
    }
    let release_command_vm = match at.get("release_command_vm") {
        Some(v) => Some(vm(&v, findings)?),
        None => None,
    };
    let deploy = Deploy {
        strategy,
        release_command,
        max_unavailable,
        wait_timeout_ms: nanosecond_duration(&at, "wait_timeout", findings)?,
        release_command_timeout_ms: nanosecond_duration(&at, "release_command_timeout", findings)?,
        release_command_vm,
    };
    Ok((deploy, spot))
}

/// A duration flyctl does not patch: a bare number is nanoseconds to Go.
fn nanosecond_duration(at: &At, key: &str, findings: &mut Findings) -> Result<Option<u64>, Problem> {
    let Some(d) = at.get(key) else { return Ok(None) };
    if d.str().is_ok_and(|s| s == "none") {
        return Ok(None);
    }
    if d.str().is_ok() {
        return d.duration_ms(1).map(Some);
    }
    let ns = d.duration_ms(1)?;
    findings.warn("duration-in-nanoseconds", format!("`{}` = {ns} is a bare number, which flyctl reads as {ns} nanoseconds; write e.g. \"5m\"", d.path()), &d);
    Ok(Some(ns / 1_000_000))
}

fn build(root: &At, findings: &mut Findings) -> Result<Build, Problem> {
    let Some(at) = root.get("build") else { return Ok(Build::default()) };
    let args = match at.get("args") {
        Some(args) => args.entries()?.into_iter().map(|(k, v)| Ok((k.to_string(), v.str()?))).collect::<Result<_, Problem>>()?,
        None => Vec::new(),
    };
    let build = Build {
        image: optional(&at, "image", At::str)?.filter(|s| !s.is_empty()),
        dockerfile: optional(&at, "dockerfile", At::str)?.filter(|s| !s.is_empty()),
        builder: optional(&at, "builder", At::str)?.filter(|s| !s.is_empty()),
        buildpacks: str_list_or_empty(&at, "buildpacks")?,
        args,
        target: optional(&at, "build-target", At::str)?.filter(|s| !s.is_empty()),
        ignorefile: optional(&at, "ignorefile", At::str)?.filter(|s| !s.is_empty()),
    };
    let strategies = [
        build.image.is_some(),
        build.builder.is_some() || !build.buildpacks.is_empty(),
        build.dockerfile.is_some() || build.target.is_some(),
        at.get("builtin").is_some(),
    ];
    if strategies.iter().filter(|s| **s).count() > 1 {
        findings.warn("several-build-strategies", "[build] names more than one way to get the image (image, buildpacks, Dockerfile, builtin)", &at);
    }
    Ok(build)
}

/// `[experimental] machine_config`, else the top-level `machine_config`
/// (flyctl's order): inline JSON or a `.json` path, resolved later.
fn machine_config(root: &At) -> Result<Option<(String, Spot)>, Problem> {
    let experimental = match root.get("experimental") {
        Some(x) => x.get("machine_config").map(|at| at.str().map(|s| (s, Spot::from(&at)))).transpose()?,
        None => None,
    };
    let top = root.get("machine_config").map(|at| at.str().map(|s| (s, Spot::from(&at)))).transpose()?;
    Ok(experimental.filter(|(s, _)| !s.is_empty()).or(top.filter(|(s, _)| !s.is_empty())))
}

/// Settings flyctl acts on during a deploy that ferry does not: an error
/// when the machines would differ (so nothing is silently dropped), a
/// warning when only flyctl's own deploy-time behaviour differs.
fn not_carried(root: &At, fly: &FlyToml, findings: &mut Findings) {
    if let Some(compose) = root.get("build").and_then(|b| b.get("compose")) {
        findings.error(
            "not-carried",
            "[build.compose]: flyctl turns a Docker Compose file into the machine's containers; ferry cannot yet, so it refuses to deploy without them",
            &compose,
        );
    }
    if fly.container.is_some()
        && fly.machine_config.is_none()
        && let Some(at) = root.get("container")
    {
        findings.warn("ignored-value", "`container` only selects one of machine_config's containers, and there is no machine_config", &at);
    }
    let mut checks: Vec<At> = Vec::new();
    checks.extend(root.get("machine_checks"));
    checks.extend(root.get("http_service").and_then(|h| h.get("machine_checks")));
    if let Some(services) = root.get("services").and_then(|s| s.items().ok()) {
        checks.extend(services.iter().filter_map(|s| s.get("machine_checks")));
    }
    for at in checks {
        findings.warn(
            "machine-checks-not-run",
            format!(
                "`{}`: flyctl runs each machine check in a temporary machine before it updates the app's machines; \
                 ferry does not run them, so they do not gate its deploys",
                at.path()
            ),
            &at,
        );
    }
}

/// A key flyctl parses without but cannot deploy without: its absence is
/// an error finding (the file still loads), and the default stands in.
fn needed<'a, T: Default>(parent: &At<'a>, key: &str, read: impl FnOnce(&At<'a>) -> Result<T, Problem>, findings: &mut Findings) -> Result<T, Problem> {
    match optional(parent, key, read)? {
        Some(v) => Ok(v),
        None => {
            let path = if parent.path().is_empty() { key.to_string() } else { format!("{}.{key}", parent.path()) };
            findings.error("missing-key", format!("`{path}` is missing; deploying this config fails without it"), parent);
            Ok(T::default())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decimal_gb;

    /// docker/go-units' decimal sizes, as flyctl reads auto-extend values.
    #[test]
    fn decimal_sizes_in_whole_gb() {
        assert_eq!(decimal_gb("3"), Some(3), "a bare number is GB");
        assert_eq!(decimal_gb("3GB"), Some(3));
        assert_eq!(decimal_gb("3gb"), Some(3));
        assert_eq!(decimal_gb("3GiB"), Some(3), "decimal even with an i");
        assert_eq!(decimal_gb("1.5 TB"), Some(1500));
        assert_eq!(decimal_gb("2500MB"), Some(2), "truncated");
        assert_eq!(decimal_gb("3G"), Some(3));
        assert_eq!(decimal_gb("3 GBs"), None);
        assert_eq!(decimal_gb("lots"), None);
        assert_eq!(decimal_gb("-3GB"), None);
    }
}
