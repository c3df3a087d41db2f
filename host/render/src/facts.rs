//! The inventory as label/value rows and per-group rows, shared by the Markdown and text views.

use ferry_model::{AppKind, AppSpec, Port, Service};

/// One row: a label and its value, both plain text.
pub(crate) struct Row {
    pub label: &'static str,
    pub value: String,
}

pub(crate) fn rows(app: &AppSpec) -> Vec<Row> {
    let mut rows = vec![
        Row { label: "App", value: app.app.clone().unwrap_or_else(|| "(not set)".into()) },
        Row { label: "Config", value: app.source.clone() },
        Row { label: "Primary region", value: app.primary_region.clone().unwrap_or_else(|| "(not set)".into()) },
        Row {
            label: "Kind",
            value: format!(
                "{} (recommended target: {})",
                match app.kind {
                    AppKind::SingleService => "single-service",
                    AppKind::MultiService => "multi-service",
                },
                serde_plain(&app.recommended_target)
            ),
        },
        Row { label: "Processes", value: processes(app) },
        Row { label: "Services", value: list(app.services.iter().map(service)) },
        Row { label: "Mounts", value: list(app.mounts.iter().map(|m| format!("{} → {}{}", m.source, m.destination, groups(&m.processes)))) },
        Row { label: "Env", value: list(app.env.iter().map(|(k, _)| k.clone())) },
    ];
    rows.push(Row { label: "Secrets (names)", value: list(app.secrets.iter().cloned()) });
    rows.push(Row { label: "Checks", value: list(app.checks.iter().map(check)) });
    if let Some(image) = app.dockerfile.as_ref().and_then(|d| d.base_image.clone()) {
        rows.push(Row { label: "Base image", value: image });
    }
    rows.push(Row { label: "Build", value: build(app) });
    rows.push(Row { label: "Deploy", value: deploy(app) });
    if !app.addons.is_empty() {
        rows.push(Row {
            label: "Add-ons",
            value: list(app.addons.iter().map(|a| match &a.plan {
                Some(p) => format!("{} ({p})", a.name),
                None => a.name.clone(),
            })),
        });
    }
    if let Some(live) = &app.live {
        rows.push(Row {
            label: "Live on Fly",
            value: format!(
                "{} machine(s) in {}; {} volume(s)",
                live.machines,
                if live.regions.is_empty() { "no region".into() } else { live.regions.join(", ") },
                live.volumes.len()
            ),
        });
    }
    rows
}

fn check(c: &ferry_model::Check) -> String {
    let target = match (&c.port, &c.path) {
        (Some(port), Some(path)) => format!("{port}{path}"),
        (Some(port), None) => port.to_string(),
        (None, _) => "?".into(),
    };
    let every = c.interval_ms.map(|ms| format!(" every {}s", ms as f64 / 1000.0)).unwrap_or_default();
    format!("{} {target}{every}", c.kind)
}

/// One row per process group: what its machines run and carry.
pub(crate) struct GroupRow {
    pub name: String,
    pub command: String,
    pub services: String,
    pub mount: String,
    pub vm: String,
    pub checks: usize,
}

pub(crate) fn group_rows(app: &AppSpec) -> Vec<GroupRow> {
    app.groups
        .iter()
        .map(|g| GroupRow {
            name: g.name.clone(),
            command: if g.command.is_empty() { "(image CMD)".into() } else { g.command.clone() },
            services: list(g.services.iter().map(|s| format!("{} {}", s.protocol, s.internal_port))),
            mount: g.mount.as_ref().map(|m| format!("{} → {}", m.source, m.destination)).unwrap_or_else(|| "none".into()),
            vm: g.vm.as_ref().map(vm).unwrap_or_else(|| "default".into()),
            checks: g.checks.len(),
        })
        .collect()
}

fn vm(v: &ferry_model::Vm) -> String {
    let mut parts = Vec::new();
    if let Some(size) = &v.size {
        parts.push(size.clone());
    }
    if let (Some(cpus), Some(kind)) = (v.cpus, &v.cpu_kind) {
        parts.push(format!("{cpus}x {kind}"));
    }
    if let Some(mb) = v.memory_mb {
        parts.push(format!("{mb} MB"));
    }
    if let Some(gpu) = &v.gpu_kind {
        parts.push(format!("GPU {gpu}"));
    }
    parts.join(", ")
}

fn processes(app: &AppSpec) -> String {
    list(app.processes.iter().map(|p| if p.command.is_empty() { format!("{} (the image's CMD)", p.name) } else { format!("{}: {}", p.name, p.command) }))
}

fn service(s: &Service) -> String {
    let ports = list(s.ports.iter().map(port));
    let ports = if s.ports.is_empty() { "no public ports".into() } else { ports };
    format!("{} {} ← {}{}", s.protocol, s.internal_port, ports, groups(&s.processes))
}

fn port(p: &Port) -> String {
    let number = match (p.port, p.start_port, p.end_port) {
        (Some(n), _, _) => n.to_string(),
        (None, Some(a), Some(b)) => format!("{a}-{b}"),
        _ => "?".into(),
    };
    let mut handlers = p.handlers.join("+");
    if p.force_https {
        handlers.push_str(if handlers.is_empty() { "force https" } else { ", force https" });
    }
    if handlers.is_empty() { number } else { format!("{number} ({handlers})") }
}

fn groups(processes: &[String]) -> String {
    if processes.is_empty() { String::new() } else { format!(" [{}]", processes.join(", ")) }
}

fn build(app: &AppSpec) -> String {
    match (&app.build.image, &app.build.dockerfile, &app.build.builder) {
        (Some(image), _, _) => format!("image {image}"),
        (None, Some(df), _) => format!("Dockerfile {df}"),
        (None, None, Some(builder)) => format!("buildpacks ({builder})"),
        (None, None, None) => "Dockerfile (default)".into(),
    }
}

fn deploy(app: &AppSpec) -> String {
    let mut out = app.deploy.strategy.clone().unwrap_or_else(|| "rolling (default)".into());
    if let Some(cmd) = &app.deploy.release_command {
        out.push_str(&format!("; release command: {cmd}"));
    }
    out
}

fn list(items: impl Iterator<Item = String>) -> String {
    let v: Vec<String> = items.collect();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// An enum's serde name (`kubernetes`, `vm`).
fn serde_plain<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
