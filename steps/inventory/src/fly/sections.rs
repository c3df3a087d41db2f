//! The typed read of a normalised fly.toml: every section into app-spec
//! records, with Go's type strictness (a wrong type makes flyctl reject the
//! file, so it is an error here too) and flyctl's per-section validation.

use ferry_step_sdk::types::{
    Build, Check, CheckScope, Concurrency, Deploy, Experimental, File, FileSource, MachineDefaults, Metrics, Mount,
    Port, Process, Restart, Service, StaticFiles as Static, Vm,
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
    fly.files = each(root, "files", findings, file);
    fly.metrics = each(root, "metrics", findings, metrics);
    fly.statics = each(root, "statics", findings, statik);
    let r = experimental(root, findings);
    fly.experimental = findings.keep(r).unwrap_or_default();
    let r = deploy(root, findings);
    (fly.deploy, fly.strategy_spot) = findings.keep(r).unwrap_or_default();
    let r = build(root, findings);
    fly.build = findings.keep(r).unwrap_or_default();
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
fn each<'a, T>(
    root: &At<'a>,
    key: &str,
    findings: &mut Findings,
    read: impl Fn(&At<'a>, &mut Findings) -> Result<T, Problem>,
) -> Vec<T> {
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
        findings.warn(
            "kill-timeout-too-long",
            format!("kill_timeout is {}s; Fly allows at most 300s and caps it", ms / 1000),
            &at,
        );
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
        host_dedication_id: optional(root, "host_dedication_id", At::str)?,
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
                findings.warn(
                    "fly-env-name",
                    format!("env `{name}`: names starting with FLY_ are reserved by Fly and may be overwritten"),
                    &value,
                );
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
    let svc = Service {
        ports: http_ports(force_https),
        http_service: true,
        ..service_common(at, "tcp", internal_port)?
    };
    let checks = http_checks(at, "checks", &svc, findings)?;
    Ok((svc, checks))
}

/// The public ports of an HTTP service, as flyctl's `ToService` makes them:
/// 80 (http, optionally redirecting to https) and 443 (http + tls).
pub fn http_ports(force_https: bool) -> Vec<Port> {
    let port = |port, handlers: &[&str], force_https| Port {
        port: Some(port),
        start_port: None,
        end_port: None,
        handlers: handlers.iter().map(|h| h.to_string()).collect(),
        force_https,
    };
    vec![port(80, &["http"], force_https), port(443, &["http", "tls"], false)]
}

fn service(at: &At, findings: &mut Findings) -> Result<(Service, Vec<Check>), Problem> {
    let protocol = optional(at, "protocol", At::str)?.unwrap_or_default();
    if !matches!(protocol.as_str(), "tcp" | "udp") {
        findings.error("invalid-protocol", format!("`{}.protocol` must be \"tcp\" or \"udp\", not \"{protocol}\"", at.path()), at);
    }
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
    let svc = Service { ports, ..service_common(at, &protocol, internal_port)? };
    let mut checks = Vec::new();
    for (i, check) in list(at, "tcp_checks", findings).iter().enumerate() {
        checks.push(service_check(check, "tcp", &svc, i, findings)?);
    }
    checks.extend(http_checks(at, "http_checks", &svc, findings)?);
    Ok((svc, checks))
}

fn service_common(at: &At, protocol: &str, internal_port: u16) -> Result<Service, Problem> {
    Ok(Service {
        protocol: protocol.to_string(),
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
        kind: optional(at, "type", At::str)?.unwrap_or_else(|| "connections".into()),
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
    })
}

/// `auto_stop_machines`: `"off"`, `"stop"`, `"suspend"`, or a boolean (true = stop).
fn auto_stop(at: &At) -> Result<String, Problem> {
    match at.bool() {
        Ok(true) => Ok("stop".to_string()),
        Ok(false) => Ok("off".to_string()),
        Err(_) => {
            let s = at.str()?;
            if matches!(s.as_str(), "off" | "stop" | "suspend") {
                Ok(s)
            } else {
                Err(at.problem(format!("`{}` must be \"off\", \"stop\", \"suspend\" or a boolean, not \"{s}\"", at.path())))
            }
        }
    }
}

fn http_checks(at: &At, key: &str, svc: &Service, findings: &mut Findings) -> Result<Vec<Check>, Problem> {
    list(at, key, findings).iter().enumerate().map(|(i, c)| service_check(c, "http", svc, i, findings)).collect()
}

/// A service check: it gates traffic to the service's internal port.
/// flyctl raises durations under 1s to 1s and lowers those over 1m to 1m.
fn service_check(at: &At, kind: &str, svc: &Service, index: usize, findings: &mut Findings) -> Result<Check, Problem> {
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
            findings.warn(
                "check-duration-clamped",
                format!("`{}.{field}` is {ms}ms; Fly uses {clamped}ms (service checks take 1s to 1m)", at.path()),
                spot,
            );
            *value = Some(clamped);
        }
    }
    Ok(check)
}

fn check_fields(at: &At, kind: &str, scope: CheckScope, findings: &mut Findings) -> Result<Check, Problem> {
    let headers = match at.get("headers") {
        Some(h) => h.entries()?.into_iter().map(|(k, v)| Ok((k.to_string(), v.str()?))).collect::<Result<_, Problem>>()?,
        None => Vec::new(),
    };
    Ok(Check {
        name: String::new(),
        kind: kind.to_string(),
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
    let kind = optional(at, "type", At::str)?;
    let kind = match kind.as_deref() {
        Some(k @ ("http" | "tcp")) => k.to_string(),
        other => {
            let found = other.map(|k| format!("\"{k}\"")).unwrap_or_else(|| "missing".into());
            findings.error("invalid-check", format!("check `{name}` needs type = \"http\" or \"tcp\" ({found})"), at);
            other.unwrap_or_default().to_string()
        }
    };
    let mut check = check_fields(at, &kind, CheckScope::Machine, findings)?;
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
    if let Some(days) = optional(at, "snapshot_retention", At::u32)?
        && !(1..=60).contains(&days)
    {
        findings.error("invalid-mount", format!("mount `{source}`: snapshot_retention must be 1 to 60 days, not {days}"), at);
    }
    Ok(Mount {
        destination: needed(at, "destination", At::str, findings)?,
        initial_size,
        processes: str_list_or_empty(at, "processes")?,
        source,
    })
}

/// Volume sizes without a unit are gigabytes (`ParseSize(…, units.GB)`).
fn with_default_unit(size: &str, unit: &str) -> String {
    if size.trim().chars().all(|c| c.is_ascii_digit()) { format!("{size}{unit}") } else { size.to_string() }
}

/// `[[vm]]`: explicit values win over the size preset's.
fn vm(at: &At, findings: &mut Findings) -> Result<Vm, Problem> {
    let size = optional(at, "size", At::str)?.map(|s| s.trim().to_string());
    let preset = size.as_deref().and_then(|s| {
        let p = preset(s);
        if p.is_none() {
            findings.warn("unknown-vm-size", format!("`{}.size` \"{s}\" is not a Fly machine size ferry knows", at.path()), at);
        }
        p
    });
    let memory_mb = match optional(at, "memory", At::size_mb)? {
        Some(mb) => Some(mb),
        None => optional(at, "memory_mb", At::u32)?,
    };
    Ok(Vm {
        memory_mb: memory_mb.or(preset.map(|p| p.memory_mb)),
        cpus: optional(at, "cpus", At::u32)?.or(preset.map(|p| p.cpus)),
        cpu_kind: optional(at, "cpu_kind", At::str)?.or(preset.map(|p| p.cpu_kind.to_string())),
        gpus: optional(at, "gpus", At::u32)?.or(preset.and_then(|p| p.gpu.map(|_| 1))),
        gpu_kind: optional(at, "gpu_kind", At::str)?.or(preset.and_then(|p| p.gpu.map(str::to_string))),
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
    pub gpu: Option<&'static str>,
}

/// Fly's machine size presets (`fly platform vm-sizes`).
pub fn preset(size: &str) -> Option<Preset> {
    let p = |cpu_kind, cpus, memory_mb, gpu| Some(Preset { cpu_kind, cpus, memory_mb, gpu });
    match size {
        "shared-cpu-1x" => p("shared", 1, 256, None),
        "shared-cpu-2x" => p("shared", 2, 512, None),
        "shared-cpu-4x" => p("shared", 4, 1024, None),
        "shared-cpu-8x" => p("shared", 8, 2048, None),
        "performance-1x" => p("performance", 1, 2048, None),
        "performance-2x" => p("performance", 2, 4096, None),
        "performance-4x" => p("performance", 4, 8192, None),
        "performance-8x" => p("performance", 8, 16384, None),
        "performance-16x" => p("performance", 16, 32768, None),
        "a10" => p("performance", 8, 32768, Some("a10")),
        "a100-40gb" | "a100-pcie-40gb" => p("performance", 8, 32768, Some("a100-pcie-40gb")),
        "a100-80gb" | "a100-sxm4-80gb" => p("performance", 8, 32768, Some("a100-sxm4-80gb")),
        "l40s" => p("performance", 8, 32768, Some("l40s")),
        _ => None,
    }
}

fn restart(at: &At, findings: &mut Findings) -> Result<Restart, Problem> {
    let policy = optional(at, "policy", At::str)?.unwrap_or_default();
    if !matches!(policy.as_str(), "always" | "never" | "on-failure") {
        findings.error("invalid-restart", format!("restart policy \"{policy}\" must be always, never or on-failure"), at);
    }
    Ok(Restart { policy, retries: optional(at, "retries", At::u32)?, processes: str_list_or_empty(at, "processes")? })
}

/// `[[files]]`: flyctl takes the first of local_path, secret_name, raw_value.
fn file(at: &At, findings: &mut Findings) -> Result<File, Problem> {
    let guest_path = needed(at, "guest_path", At::str, findings)?;
    let local = optional(at, "local_path", At::str)?.filter(|s| !s.is_empty());
    let secret = optional(at, "secret_name", At::str)?.filter(|s| !s.is_empty());
    let raw = optional(at, "raw_value", At::str)?.filter(|s| !s.is_empty());
    let given = [local.is_some(), secret.is_some(), raw.is_some()].iter().filter(|x| **x).count();
    if given != 1 {
        findings.warn(
            "file-source",
            format!("file `{guest_path}` should set exactly one of local_path, secret_name, raw_value ({given} set)"),
            at,
        );
    }
    let source = match (local, secret, raw) {
        (Some(p), _, _) => FileSource::LocalPath(p),
        (None, Some(s), _) => FileSource::SecretName(s),
        (None, None, raw) => FileSource::RawValue(raw.unwrap_or_default()),
    };
    Ok(File { guest_path, source, processes: str_list_or_empty(at, "processes")? })
}

fn metrics(at: &At, findings: &mut Findings) -> Result<Metrics, Problem> {
    Ok(Metrics {
        port: needed(at, "port", At::port, findings)?,
        path: optional(at, "path", At::str)?.unwrap_or_else(|| "/metrics".into()),
        https: optional(at, "https", At::bool)?.unwrap_or(false),
        processes: str_list_or_empty(at, "processes")?,
    })
}

fn statik(at: &At, findings: &mut Findings) -> Result<Static, Problem> {
    Ok(Static {
        guest_path: needed(at, "guest_path", At::str, findings)?,
        url_prefix: needed(at, "url_prefix", At::str, findings)?,
        tigris_bucket: optional(at, "tigris_bucket", At::str)?,
        index_document: optional(at, "index_document", At::str)?,
    })
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
    let deploy = Deploy {
        strategy,
        release_command,
        max_unavailable,
        wait_timeout_ms: nanosecond_duration(&at, "wait_timeout", findings)?,
        release_command_timeout_ms: nanosecond_duration(&at, "release_command_timeout", findings)?,
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
    findings.warn(
        "duration-in-nanoseconds",
        format!("`{}` = {ns} is a bare number, which flyctl reads as {ns} nanoseconds; write e.g. \"5m\"", d.path()),
        &d,
    );
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

/// A key flyctl parses without but cannot deploy without: its absence is
/// an error finding (the file still loads), and the default stands in.
fn needed<'a, T: Default>(
    parent: &At<'a>,
    key: &str,
    read: impl FnOnce(&At<'a>) -> Result<T, Problem>,
    findings: &mut Findings,
) -> Result<T, Problem> {
    match optional(parent, key, read)? {
        Some(v) => Ok(v),
        None => {
            let path = if parent.path().is_empty() { key.to_string() } else { format!("{}.{key}", parent.path()) };
            findings.error("missing-key", format!("`{path}` is missing; deploying this config fails without it"), parent);
            Ok(T::default())
        }
    }
}
