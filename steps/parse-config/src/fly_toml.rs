//! fly.toml -> app-spec, for the keys the spine covers: app, primary_region,
//! processes, http_service and services with their ports, mounts, env,
//! build and deploy. Forms flyctl normalises (string ports, `[mounts]` as a
//! table, `[[processes]]` and `[[env]]` lists) are read the same way here.

use crate::node::Node;
use crate::read::{At, Problem, optional};
use ferry_step_sdk::types::{
    AppKind, AppSpec, Build, Deploy, Mount, Port, Process, Service, TargetKind,
};

/// The app-spec of a parsed fly.toml at `source`.
pub fn app_spec(root: &Node, source: &str) -> Result<AppSpec, Problem> {
    let root = At::root(root);
    let processes = processes(&root)?;
    let kind = if processes.len() > 1 { AppKind::MultiService } else { AppKind::SingleService };
    Ok(AppSpec {
        source: source.to_string(),
        app: optional(&root, "app", At::str)?,
        primary_region: optional(&root, "primary_region", At::str)?,
        services: services(&root)?,
        checks: Vec::new(),
        mounts: mounts(&root)?,
        env: env(&root)?,
        secrets: Vec::new(),
        vm: Vec::new(),
        deploy: deploy(&root)?,
        build: build(&root)?,
        dockerfile: None,
        recommended_target: match kind {
            AppKind::MultiService => TargetKind::Kubernetes,
            AppKind::SingleService => TargetKind::Vm,
        },
        kind,
        processes,
        warnings: Vec::new(),
    })
}

/// The process group an app has when fly.toml defines none.
const DEFAULT_PROCESS: &str = "app";

/// `[processes]` as a map, or the V1 `[[processes]]` list of `{name, command}`.
/// With none, the app has one group, `app`, running the image's CMD.
fn processes(root: &At) -> Result<Vec<Process>, Problem> {
    let groups = declared_processes(root)?;
    if groups.is_empty() {
        return Ok(vec![Process { name: DEFAULT_PROCESS.to_string(), command: String::new() }]);
    }
    Ok(groups)
}

fn declared_processes(root: &At) -> Result<Vec<Process>, Problem> {
    let Some(at) = root.get("processes") else { return Ok(Vec::new()) };
    if let Ok(entries) = at.entries() {
        return entries
            .into_iter()
            .map(|(name, cmd)| Ok(Process { name: name.to_string(), command: command(&cmd)? }))
            .collect();
    }
    at.items()?
        .iter()
        .map(|item| {
            let name = item.get("name").ok_or_else(|| item.problem("a [[processes]] entry needs `name`"))?;
            let cmd = optional(item, "command", command)?.unwrap_or_default();
            Ok(Process { name: name.str()?, command: cmd })
        })
        .collect()
}

/// A command written as a string or as a list of words.
fn command(at: &At) -> Result<String, Problem> {
    at.str().or_else(|_| at.str_list().map(|words| words.join(" ")))
}

fn services(root: &At) -> Result<Vec<Service>, Problem> {
    let mut out = Vec::new();
    if let Some(http) = root.get("http_service") {
        out.push(http_service(&http)?);
    }
    if let Some(list) = root.get("services") {
        for svc in list.items()? {
            out.push(service(&svc)?);
        }
    }
    Ok(out)
}

/// `[http_service]` expands to ports 80 (http) and 443 (tls + http), as flyctl's `ToService` does.
fn http_service(at: &At) -> Result<Service, Problem> {
    let force_https = optional(at, "force_https", At::bool)?.unwrap_or(false);
    let port = |port, handlers: &[&str], force_https| Port {
        port: Some(port),
        start_port: None,
        end_port: None,
        handlers: handlers.iter().map(|h| h.to_string()).collect(),
        force_https,
    };
    Ok(Service {
        protocol: "tcp".to_string(),
        internal_port: required(at, "internal_port", At::port)?,
        ports: vec![port(80, &["http"], force_https), port(443, &["tls", "http"], false)],
        processes: optional(at, "processes", At::str_list)?.unwrap_or_default(),
        http_service: true,
        auto_stop_machines: optional(at, "auto_stop_machines", auto_stop)?,
        auto_start_machines: optional(at, "auto_start_machines", At::bool)?,
        min_machines_running: optional(at, "min_machines_running", At::u32)?,
        concurrency: None,
    })
}

fn service(at: &At) -> Result<Service, Problem> {
    let ports = match at.get("ports") {
        Some(list) => list.items()?.iter().map(port).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(Service {
        protocol: optional(at, "protocol", At::str)?.unwrap_or_else(|| "tcp".to_string()),
        internal_port: required(at, "internal_port", At::port)?,
        ports,
        processes: optional(at, "processes", At::str_list)?.unwrap_or_default(),
        http_service: false,
        auto_stop_machines: optional(at, "auto_stop_machines", auto_stop)?,
        auto_start_machines: optional(at, "auto_start_machines", At::bool)?,
        min_machines_running: optional(at, "min_machines_running", At::u32)?,
        concurrency: None,
    })
}

fn port(at: &At) -> Result<Port, Problem> {
    Ok(Port {
        port: optional(at, "port", At::port)?,
        start_port: optional(at, "start_port", At::port)?,
        end_port: optional(at, "end_port", At::port)?,
        handlers: optional(at, "handlers", At::str_list)?.unwrap_or_default(),
        force_https: optional(at, "force_https", At::bool)?.unwrap_or(false),
    })
}

/// `auto_stop_machines`: `"off"`, `"stop"`, `"suspend"`, or a boolean (true = stop).
fn auto_stop(at: &At) -> Result<String, Problem> {
    match at.bool() {
        Ok(true) => Ok("stop".to_string()),
        Ok(false) => Ok("off".to_string()),
        Err(_) => at.str(),
    }
}

/// `[[mounts]]`, or the `[mounts]` / `[mount]` table forms.
fn mounts(root: &At) -> Result<Vec<Mount>, Problem> {
    let Some(list) = root.get("mounts").or_else(|| root.get("mount")) else { return Ok(Vec::new()) };
    list.items()?
        .iter()
        .map(|m| {
            Ok(Mount {
                source: required(m, "source", At::str)?,
                destination: required(m, "destination", At::str)?,
                initial_size: optional(m, "initial_size", At::scalar_text)?,
                processes: optional(m, "processes", At::str_list)?.unwrap_or_default(),
            })
        })
        .collect()
}

/// `[env]`, or a V1 `[[env]]` list of tables merged in order; values stringified.
fn env(root: &At) -> Result<Vec<(String, String)>, Problem> {
    let Some(at) = root.get("env") else { return Ok(Vec::new()) };
    let mut out: Vec<(String, String)> = Vec::new();
    for table in at.items()? {
        for (name, value) in table.entries()? {
            let value = value.scalar_text()?;
            match out.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value,
                None => out.push((name.to_string(), value)),
            }
        }
    }
    Ok(out)
}

fn build(root: &At) -> Result<Build, Problem> {
    let Some(at) = root.get("build") else { return Ok(empty_build()) };
    let args = match at.get("args") {
        Some(args) => args
            .entries()?
            .into_iter()
            .map(|(k, v)| Ok((k.to_string(), v.scalar_text()?)))
            .collect::<Result<_, Problem>>()?,
        None => Vec::new(),
    };
    let target = match optional(&at, "build-target", At::str)? {
        Some(t) => Some(t),
        None => optional(&at, "build_target", At::str)?,
    };
    Ok(Build {
        image: optional(&at, "image", At::str)?,
        dockerfile: optional(&at, "dockerfile", At::str)?,
        builder: optional(&at, "builder", At::str)?,
        buildpacks: optional(&at, "buildpacks", At::str_list)?.unwrap_or_default(),
        args,
        target,
    })
}

fn empty_build() -> Build {
    Build { image: None, dockerfile: None, builder: None, buildpacks: Vec::new(), args: Vec::new(), target: None }
}

fn deploy(root: &At) -> Result<Deploy, Problem> {
    let empty = Deploy {
        strategy: None,
        release_command: None,
        max_unavailable: None,
        wait_timeout_ms: None,
        release_command_timeout_ms: None,
    };
    let Some(at) = root.get("deploy") else { return Ok(empty) };
    Ok(Deploy {
        strategy: optional(&at, "strategy", At::str)?,
        release_command: optional(&at, "release_command", At::str)?,
        max_unavailable: optional(&at, "max_unavailable", At::number)?,
        ..empty
    })
}

fn required<'a, T>(
    parent: &At<'a>,
    key: &str,
    read: impl FnOnce(&At<'a>) -> Result<T, Problem>,
) -> Result<T, Problem> {
    let missing = || parent.problem(format!("`{}` is required here", join(parent.path(), key)));
    optional(parent, key, read)?.ok_or_else(missing)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}
