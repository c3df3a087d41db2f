//! fly.toml sections as the JSON fly-go marshals them (`machine_types.go`,
//! v0.9.6): field order, `omitempty`, and the custom marshallers
//! (`Duration` as Go's `Duration.String()`, `autostop` as a boolean for
//! off/stop). A field fly-go omits when empty is left out here too, so the
//! body ferry sends is the body flyctl sends.

use ferry_step_sdk::types::{AutoStop, Check, HttpOptions, Port, Service, TlsOptions, Vm};
use serde_json::{Map, Value, json};

/// Milliseconds and nanoseconds as Go's `time.Duration.String()` writes
/// them, which is what fly-go's `Duration.MarshalJSON` sends: `10s`, `1m0s`,
/// `1m30s`, `1.5s`, `500ms`, `0s`.
pub use ferry_step_sdk::fly_wire::duration::{format_ms as go_duration, format_ns as go_duration_ns};

/// `auto_stop_machines` as fly-go's `MachineAutostop` marshals it: `false`
/// and `true` for off and stop ("for backward compatibility"), a string
/// for suspend.
pub fn autostop(value: AutoStop) -> Value {
    match value {
        AutoStop::Off => json!(false),
        AutoStop::Stop => json!(true),
        AutoStop::Suspend => json!(value.as_str()),
    }
}

/// A `MachineService` (fly-go field order; `force_instance_key` has no
/// omitempty, so it is always sent, as `null`).
pub fn service(s: &Service, checks: &[&Check]) -> Value {
    let mut out = Map::new();
    put_str(&mut out, "protocol", s.protocol.as_str());
    if s.internal_port != 0 {
        out.insert("internal_port".into(), json!(s.internal_port));
    }
    if let Some(stop) = s.auto_stop_machines {
        out.insert("autostop".into(), autostop(stop));
    }
    if let Some(start) = s.auto_start_machines {
        out.insert("autostart".into(), json!(start));
    }
    if let Some(min) = s.min_machines_running {
        out.insert("min_machines_running".into(), json!(min));
    }
    if !s.ports.is_empty() {
        out.insert("ports".into(), Value::Array(s.ports.iter().map(port).collect()));
    }
    if !checks.is_empty() {
        out.insert("checks".into(), Value::Array(checks.iter().map(|c| check(c, false)).collect()));
    }
    if let Some(c) = &s.concurrency {
        let mut concurrency = Map::new();
        put_str(&mut concurrency, "type", &c.kind);
        put_nonzero(&mut concurrency, "hard_limit", c.hard_limit);
        put_nonzero(&mut concurrency, "soft_limit", c.soft_limit);
        out.insert("concurrency".into(), Value::Object(concurrency));
    }
    out.insert("force_instance_key".into(), Value::Null);
    Value::Object(out)
}

/// A `MachinePort`.
pub fn port(p: &Port) -> Value {
    let mut out = Map::new();
    for (key, n) in [("port", p.port), ("start_port", p.start_port), ("end_port", p.end_port)] {
        if let Some(n) = n {
            out.insert(key.into(), json!(n));
        }
    }
    if !p.handlers.is_empty() {
        out.insert("handlers".into(), json!(p.handlers));
    }
    if p.force_https {
        out.insert("force_https".into(), json!(true));
    }
    if let Some(tls) = &p.tls_options {
        out.insert("tls_options".into(), tls_options(tls));
    }
    if let Some(http) = &p.http_options {
        out.insert("http_options".into(), http_options(http));
    }
    if let Some(proxy) = &p.proxy_proto_options {
        let mut options = Map::new();
        put_str(&mut options, "version", &proxy.version);
        out.insert("proxy_proto_options".into(), Value::Object(options));
    }
    Value::Object(out)
}

fn tls_options(t: &TlsOptions) -> Value {
    let mut out = Map::new();
    if !t.alpn.is_empty() {
        out.insert("alpn".into(), json!(t.alpn));
    }
    if !t.versions.is_empty() {
        out.insert("versions".into(), json!(t.versions));
    }
    if let Some(b) = t.default_self_signed {
        out.insert("default_self_signed".into(), json!(b));
    }
    Value::Object(out)
}

fn http_options(h: &HttpOptions) -> Value {
    let mut out = Map::new();
    if let Some(b) = h.compress {
        out.insert("compress".into(), json!(b));
    }
    if let Some(r) = &h.response {
        let mut response = Map::new();
        if !r.headers.is_empty() {
            let mut headers: Vec<(String, Value)> =
                r.headers.iter().map(|(name, value)| (name.clone(), serde_json::from_str(value).unwrap_or_else(|_| json!(value)))).collect();
            // A Go map: sorted keys when marshalled.
            headers.sort_by(|a, b| a.0.cmp(&b.0));
            response.insert("headers".into(), Value::Object(headers.into_iter().collect()));
        }
        if let Some(b) = r.pristine {
            response.insert("pristine".into(), json!(b));
        }
        out.insert("response".into(), Value::Object(response));
    }
    if let Some(b) = h.h2_backend {
        out.insert("h2_backend".into(), json!(b));
    }
    if let Some(n) = h.idle_timeout {
        out.insert("idle_timeout".into(), json!(n));
    }
    if let Some(n) = h.headers_read_timeout {
        out.insert("headers_read_timeout".into(), json!(n));
    }
    if !h.replay_cache.is_empty() {
        let caches = h.replay_cache.iter().map(|c| {
            let mut cache = json!({"path_prefix": c.path_prefix, "ttl_seconds": c.ttl_seconds, "type": c.kind, "name": c.name});
            if c.allow_bypass {
                cache["allow_bypass"] = json!(true);
            }
            cache
        });
        out.insert("replay_cache".into(), Value::Array(caches.collect()));
    }
    Value::Object(out)
}

/// A check: a top-level `MachineCheck` (`top_level`: it has a port and an
/// upper-cased method, as flyctl's `ToplevelCheck.toMachineCheck` makes
/// it) or a service's `MachineServiceCheck` (method as written, no port).
pub fn check(c: &Check, top_level: bool) -> Value {
    let mut out = Map::new();
    if top_level && let Some(port) = c.port {
        out.insert("port".into(), json!(port));
    }
    put_str(&mut out, "type", c.kind.as_str());
    for (key, ms) in [("interval", c.interval_ms), ("timeout", c.timeout_ms), ("grace_period", c.grace_period_ms)] {
        if let Some(ms) = ms {
            out.insert(key.into(), json!(go_duration(ms)));
        }
    }
    if let Some(method) = &c.method {
        out.insert("method".into(), json!(if top_level { method.to_uppercase() } else { method.clone() }));
    }
    for (key, value) in [("path", &c.path), ("protocol", &c.protocol)] {
        if let Some(v) = value {
            out.insert(key.into(), json!(v));
        }
    }
    if let Some(skip) = c.tls_skip_verify {
        out.insert("tls_skip_verify".into(), json!(skip));
    }
    if let Some(name) = &c.tls_server_name {
        out.insert("tls_server_name".into(), json!(name));
    }
    if !c.headers.is_empty() {
        let headers: Vec<Value> = c.headers.iter().map(|(k, v)| json!({"name": k, "values": [v]})).collect();
        out.insert("headers".into(), Value::Array(headers));
    }
    Value::Object(out)
}

/// A `MachineGuest` from a resolved `[[vm]]` (see the inventory's `vm`),
/// with `host_dedication_id` = the section's own, else the app's.
pub fn guest(vm: &Vm, app_host_dedication_id: Option<&str>) -> Value {
    let mut out = Map::new();
    put_str(&mut out, "cpu_kind", vm.cpu_kind.as_deref().unwrap_or_default());
    put_nonzero(&mut out, "cpus", vm.cpus);
    put_nonzero(&mut out, "memory_mb", vm.memory_mb);
    put_nonzero(&mut out, "max_memory_mb", vm.max_memory_mb);
    put_nonzero(&mut out, "gpus", vm.gpus);
    put_str(&mut out, "gpu_kind", vm.gpu_kind.as_deref().unwrap_or_default());
    put_str(&mut out, "host_dedication_id", vm.host_dedication_id.as_deref().or(app_host_dedication_id).unwrap_or_default());
    put_str(&mut out, "persist_rootfs", vm.persist_rootfs.as_deref().unwrap_or_default());
    if !vm.kernel_args.is_empty() {
        out.insert("kernel_args".into(), json!(vm.kernel_args));
    }
    Value::Object(out)
}

/// `shared-cpu-1x`: flyctl's default guest for new machines of a group
/// without `[[vm]]` (`md.machineGuest` without `--vm-*` flags), and what
/// the API fills in when a config names none.
pub fn default_guest() -> Value {
    json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256})
}

/// `shared-cpu-2x`: the release command's guest when nothing else says.
pub fn release_command_default_guest() -> Value {
    json!({"cpu_kind": "shared", "cpus": 2, "memory_mb": 512})
}

fn put_str(out: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        out.insert(key.into(), json!(value));
    }
}

fn put_nonzero(out: &mut Map<String, Value>, key: &str, value: Option<u32>) {
    if let Some(n) = value.filter(|n| *n != 0) {
        out.insert(key.into(), json!(n));
    }
}

/// `MachineConfig`'s fields in fly-go's declaration order, which is the
/// order `encoding/json` writes them.
pub const FIELD_ORDER: [&str; 25] = [
    "env",
    "init",
    "guest",
    "metadata",
    "mounts",
    "services",
    "metrics",
    "checks",
    "statics",
    "image",
    "files",
    "schedule",
    "auto_destroy",
    "restart",
    "dns",
    "processes",
    "standbys",
    "stop_config",
    "containers",
    "volumes",
    "rootfs",
    "cache_drive",
    "spot",
    "size",
    "disable_machine_autostart",
];

/// `MachineInit`'s fields in order.
pub const INIT_ORDER: [&str; 6] = ["exec", "entrypoint", "cmd", "tty", "swap_size_mb", "kernel_args"];

/// The config with its fields in fly-go's order and its Go maps (`env`,
/// `metadata`, `checks`) sorted by key, as `json.Marshal` writes them;
/// fields fly-go does not know keep their place after the known ones.
pub fn in_go_order(config: Map<String, Value>) -> Map<String, Value> {
    let mut rest = config;
    let mut out = Map::new();
    for key in FIELD_ORDER {
        if let Some(mut value) = rest.remove(key) {
            if matches!(key, "env" | "metadata" | "checks")
                && let Value::Object(map) = value
            {
                let mut entries: Vec<(String, Value)> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                value = Value::Object(entries.into_iter().collect());
            }
            if key == "init"
                && let Value::Object(init) = value
            {
                value = Value::Object(ordered(init, &INIT_ORDER));
            }
            out.insert(key.into(), value);
        }
    }
    out.extend(rest);
    out
}

fn ordered(mut map: Map<String, Value>, order: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for key in order {
        if let Some(v) = map.remove(*key) {
            out.insert((*key).into(), v);
        }
    }
    out.extend(map);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autostop_as_fly_go_marshals_it() {
        assert_eq!(autostop(AutoStop::Off), json!(false));
        assert_eq!(autostop(AutoStop::Stop), json!(true));
        assert_eq!(autostop(AutoStop::Suspend), json!("suspend"));
    }
}
