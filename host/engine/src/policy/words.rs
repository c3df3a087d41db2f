//! The phrases descriptions are built from: machines, paths (with `..`
//! resolved), mounts, containers, record sets, lists and durations.

use ferry_model::vm::{VmContainer, VmContainers, VmEnvFile, VmFile};
use ferry_model::{DnsRrset, FlyMachine, FlyMachineRefs, FlyMachines};

pub(crate) fn vm_file(f: &VmFile) -> String {
    let mut out = format!("write {} on host {} (mode {:o}, {} bytes)", path(&f.path), f.target, f.mode, f.contents.len());
    if f.reload {
        out.push_str(", then test and reload nginx (the target's `nginx_reload` in ferry.toml)");
    }
    out
}

pub(crate) fn vm_env_file(f: &VmEnvFile) -> String {
    let mut parts = Vec::new();
    if !f.env.is_empty() {
        let names: Vec<String> = f.env.iter().map(|(k, _)| k.clone()).collect();
        parts.push(format!("plain {}", list(&names)));
    }
    if !f.secrets.is_empty() {
        parts.push(format!("secret values of {} (from FERRY_SECRET_<NAME>)", list(&f.secrets)));
    }
    for value in &f.from_files {
        parts.push(format!("{} made from host file {}", value.name, path(&value.path)));
    }
    let what = if parts.is_empty() { "nothing".to_string() } else { parts.join("; ") };
    format!("write env file {} on host {} (mode 600): {what}", path(&f.path), f.target)
}

pub(crate) fn container(c: &VmContainer) -> String {
    let mut parts = vec![format!("{} of image {} on host {}", c.name, c.image, c.target)];
    if !c.command.is_empty() {
        parts.push(format!("command {}", c.command.join(" ")));
    }
    if let Some(env_file) = &c.env_file {
        parts.push(format!("env file {}", path(env_file)));
    }
    if !c.env.is_empty() {
        let names: Vec<String> = c.env.iter().map(|(k, _)| k.clone()).collect();
        parts.push(format!("env {}", list(&names)));
    }
    for port in &c.ports {
        let exposure = match port.host_ip.as_str() {
            "127.0.0.1" | "::1" | "localhost" => "",
            _ => " (reachable from other machines)",
        };
        let ip = if port.host_ip.is_empty() { "every address" } else { port.host_ip.as_str() };
        parts.push(format!("publishes {ip}:{} -> {}{exposure}", port.host_port, port.container_port));
    }
    for (host, inside) in &c.volumes {
        parts.push(mount(host, inside));
    }
    if let Some(network) = &c.network {
        parts.push(format!("network {network}"));
    }
    if let Some(h) = &c.health {
        let check = if !h.exec.is_empty() {
            format!("`{}` succeeds in it", h.exec.join(" "))
        } else if !h.path.is_empty() {
            format!("127.0.0.1:{}{} answers", h.port, h.path)
        } else {
            format!("port {} accepts", h.port)
        };
        parts.push(format!("healthy when {check} (up to {})", duration(h.timeout_ms)));
    }
    parts.join("; ")
}

/// One `docker run -v host:inside`, as Docker reads it: a host path (bind
/// mount, with `..` resolved) or a named volume, and whether it is
/// writable (Docker splits the joined argument on `:`).
pub(crate) fn mount(host: &str, inside: &str) -> String {
    let joined = format!("{host}:{inside}");
    let fields: Vec<&str> = joined.split(':').collect();
    let (source, target, options) = match fields.as_slice() {
        [source, target] => (*source, *target, ""),
        [source, target, options] => (*source, *target, *options),
        _ => return format!("-v {joined} (not a mount Docker reads as source:target[:options])"),
    };
    let access = if options.split(',').any(|o| o == "ro" || o == "readonly") { "read-only" } else { "read-write" };
    if source.starts_with('/') {
        format!("bind-mounts host path {} at {target}, {access}", path(source))
    } else {
        format!("mounts Docker volume {source} at {target}, {access}")
    }
}

pub(crate) fn containers(c: &VmContainers) -> String {
    list(&c.names)
}

/// A host path, and where it really points when it has `.`, `..` or
/// repeated slashes: `/srv/app/../../ (that is /)`.
pub(crate) fn path(p: &str) -> String {
    match resolve(p) {
        Some(real) if real != p => format!("{p} (that is {real})"),
        _ => p.to_string(),
    }
}

pub(crate) fn paths(ps: &[String]) -> String {
    if ps.is_empty() {
        return "none".into();
    }
    ps.iter().map(|p| path(p)).collect::<Vec<_>>().join(", ")
}

/// An absolute path with `.`, `..` and empty segments resolved lexically
/// (`..` above the root stays at the root, as the kernel does).
pub(crate) fn resolve(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for segment in p.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

pub(crate) fn machines(m: &FlyMachines) -> String {
    let each: Vec<String> = m.machines.iter().map(machine).collect();
    match each.len() {
        0 => "no machines".into(),
        1 => format!("1 machine: {}", each[0]),
        n => format!("{n} machines: {}", each.join("; ")),
    }
}

pub(crate) fn machine(m: &FlyMachine) -> String {
    let who = match (&m.id, &m.launch_id) {
        (Some(id), _) => id.clone(),
        (None, Some(launch)) => format!("new (launch id {launch})"),
        (None, None) => "new".into(),
    };
    let stopped = if m.skip_launch { ", left stopped" } else { "" };
    let unrouted = if m.skip_service_registration { ", no traffic" } else { "" };
    format!("{who} (group {}, {}{stopped}{unrouted}) {}", m.group, m.region, MachineConfig::parse(&m.config).summary())
}

pub(crate) fn wait(m: &FlyMachines) -> String {
    let until = if m.wait.health { "healthy" } else { "started" };
    format!("; then wait until they are {until} (up to {})", duration(m.wait.timeout_ms))
}

pub(crate) fn refs(r: &FlyMachineRefs) -> String {
    let mut parts = Vec::new();
    if !r.ids.is_empty() {
        parts.push(format!("machine(s) {}", list(&r.ids)));
    }
    if !r.launch_ids.is_empty() {
        parts.push(format!("the machine(s) launched as {}", list(&r.launch_ids)));
    }
    if parts.is_empty() { "no machines".into() } else { parts.join(" and ") }
}

/// The parts of a Machines API config a reviewer needs: what runs, from
/// which image, with which volumes and files.
pub(crate) struct MachineConfig {
    image: Option<String>,
    command: Vec<String>,
    mounts: Vec<String>,
    files: usize,
    unreadable: bool,
}

impl MachineConfig {
    pub(crate) fn parse(config: &str) -> Self {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(config) else {
            return MachineConfig { image: None, command: Vec::new(), mounts: Vec::new(), files: 0, unreadable: true };
        };
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
        };
        let init = &value["init"];
        let command =
            if init["exec"].is_array() { strings(&init["exec"]) } else { strings(&init["entrypoint"]).into_iter().chain(strings(&init["cmd"])).collect() };
        let mounts = value["mounts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        let volume = m["volume"].as_str().or(m["name"].as_str()).unwrap_or("?");
                        format!("{volume} at {}", m["path"].as_str().unwrap_or("?"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        MachineConfig {
            image: value["image"].as_str().map(str::to_string),
            command,
            mounts,
            files: value["files"].as_array().map_or(0, Vec::len),
            unreadable: false,
        }
    }

    pub(crate) fn summary(&self) -> String {
        if self.unreadable {
            return "[config is not JSON; the Machines API will refuse it]".into();
        }
        let mut parts = vec![format!("image {}", self.image.as_deref().unwrap_or("(none)"))];
        if !self.command.is_empty() {
            parts.push(format!("command {}", self.command.join(" ")));
        }
        if !self.mounts.is_empty() {
            parts.push(format!("mounts {}", self.mounts.join(", ")));
        }
        if self.files > 0 {
            parts.push(format!("{} file(s) written into it", self.files));
        }
        format!("[{}]", parts.join(", "))
    }
}

pub(crate) fn rrset(r: Option<&DnsRrset>) -> String {
    match r {
        Some(r) => format!("{} (ttl {})", list(&r.values), r.ttl),
        None => "none".into(),
    }
}

pub(crate) fn excluding(exclude: &[String]) -> String {
    if exclude.is_empty() { String::new() } else { format!(", excluding {}", list(exclude)) }
}

pub(crate) fn list(items: &[String]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

/// `250 ms`, `90 s`, `5 min`, `2 h 30 min`, `3 d`.
pub(crate) fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{s} s"),
        120_000..7_200_000 if s.is_multiple_of(60) => format!("{} min", s / 60),
        120_000..7_200_000 => format!("{} min {} s", s / 60, s % 60),
        7_200_000..172_800_000 => match (s / 60) % 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => format!("{} d", s / 86_400),
    }
}
