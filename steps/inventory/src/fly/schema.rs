//! Every key flyctl knows (its `Config` struct and fly-go's nested types),
//! as a tree. A key outside it is reported as `unknown-key`, the way
//! `fly config validate --strict` does, with a hint for keys of V1 apps.
//! flyctl itself drops unknown keys silently.

use crate::findings::{Findings, Spot};
use crate::node::{Node, Value};

/// The shape of a value.
#[derive(Clone, Copy)]
pub enum Shape {
    /// A scalar or list of scalars: its type is checked by the typed read.
    Leaf,
    /// A table with these keys.
    Table(&'static [(&'static str, Shape)]),
    /// A table with any keys, each value of this shape (`[env]`, `[checks]`).
    AnyKeys(&'static Shape),
    /// A list of tables of this shape (a single table also counts).
    List(&'static Shape),
    /// Anything below goes unchecked (free-form settings).
    Free,
}

use Shape::{AnyKeys, Free, Leaf, List, Table};

const CONCURRENCY: Shape = Table(&[("type", Leaf), ("hard_limit", Leaf), ("soft_limit", Leaf)]);
const TLS_OPTIONS: Shape = Table(&[("alpn", Leaf), ("versions", Leaf), ("default_self_signed", Leaf)]);
const HTTP_OPTIONS: Shape = Table(&[
    ("compress", Leaf),
    ("h2_backend", Leaf),
    ("idle_timeout", Leaf),
    ("headers_read_timeout", Leaf),
    ("response", Table(&[("headers", Free), ("pristine", Leaf)])),
    ("replay_cache", Free),
]);
const PORT: Shape = Table(&[
    ("port", Leaf),
    ("start_port", Leaf),
    ("end_port", Leaf),
    ("handlers", Leaf),
    ("force_https", Leaf),
    ("tls_options", TLS_OPTIONS),
    ("http_options", HTTP_OPTIONS),
    ("proxy_proto_options", Table(&[("version", Leaf)])),
]);
const TCP_CHECK: Shape = Table(&[("interval", Leaf), ("timeout", Leaf), ("grace_period", Leaf)]);
const HTTP_CHECK: Shape = Table(&[
    ("interval", Leaf),
    ("timeout", Leaf),
    ("grace_period", Leaf),
    ("method", Leaf),
    ("path", Leaf),
    ("protocol", Leaf),
    ("tls_skip_verify", Leaf),
    ("tls_server_name", Leaf),
    ("headers", AnyKeys(&Leaf)),
]);
const TOP_CHECK: Shape = Table(&[
    ("port", Leaf),
    ("type", Leaf),
    ("interval", Leaf),
    ("timeout", Leaf),
    ("grace_period", Leaf),
    ("method", Leaf),
    ("path", Leaf),
    ("protocol", Leaf),
    ("tls_skip_verify", Leaf),
    ("tls_server_name", Leaf),
    ("headers", AnyKeys(&Leaf)),
    ("processes", Leaf),
]);
const MACHINE_CHECK: Shape = Table(&[("command", Leaf), ("image", Leaf), ("entrypoint", Leaf), ("kill_signal", Leaf), ("kill_timeout", Leaf)]);
const VM: Shape = Table(&[
    ("size", Leaf),
    ("memory", Leaf),
    ("cpus", Leaf),
    ("cpu_kind", Leaf),
    ("memory_mb", Leaf),
    ("gpus", Leaf),
    ("gpu_kind", Leaf),
    ("max_memory_mb", Leaf),
    ("kernel_args", Leaf),
    ("host_dedication_id", Leaf),
    ("persist_rootfs", Leaf),
    ("processes", Leaf),
]);
const SERVICE_COMMON: [(&str, Shape); 6] = [
    ("internal_port", Leaf),
    ("auto_stop_machines", Leaf),
    ("auto_start_machines", Leaf),
    ("min_machines_running", Leaf),
    ("processes", Leaf),
    ("concurrency", CONCURRENCY),
];

/// The whole file, after `patch::normalize`.
pub const FLY_TOML: Shape = Table(&[
    ("app", Leaf),
    ("primary_region", Leaf),
    ("kill_signal", Leaf),
    ("kill_timeout", Leaf),
    ("swap_size_mb", Leaf),
    ("console_command", Leaf),
    ("host_dedication_id", Leaf),
    ("machine_config", Leaf),
    ("container", Leaf),
    (
        "experimental",
        Table(&[
            ("cmd", Leaf),
            ("entrypoint", Leaf),
            ("exec", Leaf),
            ("auto_rollback", Leaf),
            ("enable_consul", Leaf),
            ("enable_etcd", Leaf),
            ("lazy_load_images", Leaf),
            ("attached", Table(&[("secrets", Table(&[("export", AnyKeys(&Leaf))]))])),
            ("machine_config", Leaf),
            ("use_zstd", Leaf),
        ]),
    ),
    (
        "build",
        Table(&[
            ("builder", Leaf),
            ("args", AnyKeys(&Leaf)),
            ("buildpacks", Leaf),
            ("image", Leaf),
            ("settings", Free),
            ("builtin", Leaf),
            ("dockerfile", Leaf),
            ("ignorefile", Leaf),
            ("build-target", Leaf),
            ("compose", Table(&[("file", Leaf)])),
            ("compression", Leaf),
            ("compression_level", Leaf),
        ]),
    ),
    (
        "deploy",
        Table(&[
            ("strategy", Leaf),
            ("max_unavailable", Leaf),
            ("wait_timeout", Leaf),
            ("release_command", Leaf),
            ("release_command_timeout", Leaf),
            ("release_command_vm", VM),
            ("seed_command", Leaf),
        ]),
    ),
    ("env", AnyKeys(&Leaf)),
    ("processes", AnyKeys(&Leaf)),
    (
        "mounts",
        List(&Table(&[
            ("source", Leaf),
            ("destination", Leaf),
            ("initial_size", Leaf),
            ("snapshot_retention", Leaf),
            ("scheduled_snapshots", Leaf),
            ("auto_extend_size_threshold", Leaf),
            ("auto_extend_size_increment", Leaf),
            ("auto_extend_size_limit", Leaf),
            ("processes", Leaf),
        ])),
    ),
    (
        "http_service",
        Table(&[
            SERVICE_COMMON[0],
            SERVICE_COMMON[1],
            SERVICE_COMMON[2],
            SERVICE_COMMON[3],
            SERVICE_COMMON[4],
            SERVICE_COMMON[5],
            ("force_https", Leaf),
            ("tls_options", TLS_OPTIONS),
            ("http_options", HTTP_OPTIONS),
            ("checks", List(&HTTP_CHECK)),
            ("machine_checks", List(&MACHINE_CHECK)),
        ]),
    ),
    (
        "services",
        List(&Table(&[
            SERVICE_COMMON[0],
            SERVICE_COMMON[1],
            SERVICE_COMMON[2],
            SERVICE_COMMON[3],
            SERVICE_COMMON[4],
            SERVICE_COMMON[5],
            ("protocol", Leaf),
            ("ports", List(&PORT)),
            ("tcp_checks", List(&TCP_CHECK)),
            ("http_checks", List(&HTTP_CHECK)),
            ("machine_checks", List(&MACHINE_CHECK)),
        ])),
    ),
    ("checks", AnyKeys(&TOP_CHECK)),
    ("files", List(&Table(&[("guest_path", Leaf), ("local_path", Leaf), ("secret_name", Leaf), ("raw_value", Leaf), ("processes", Leaf)]))),
    ("machine_checks", List(&MACHINE_CHECK)),
    ("restart", List(&Table(&[("policy", Leaf), ("retries", Leaf), ("processes", Leaf)]))),
    ("vm", List(&VM)),
    ("statics", List(&Table(&[("guest_path", Leaf), ("url_prefix", Leaf), ("tigris_bucket", Leaf), ("index_document", Leaf)]))),
    ("metrics", List(&Table(&[("port", Leaf), ("path", Leaf), ("https", Leaf), ("processes", Leaf)]))),
]);

/// Why a key some files carry is not in the schema.
fn hint(key: &str) -> Option<&'static str> {
    Some(match key {
        "private_network" => "a V1 setting: every Apps V2 app has a private network",
        "allowed_public_ports" => "a V1 setting that Apps V2 does not support",
        "script_checks" => "V1 script checks do not exist on Apps V2; use [[machine_checks]] or [checks]",
        "restart_limit" => "a V1 setting: Apps V2 never restarts a machine because a check fails",
        "encrypted" => "Apps V2 volumes are always encrypted",
        "startup_timeout" => "not a fly.toml key; [deploy] wait_timeout is the closest",
        _ => return None,
    })
}

/// Reports every key of `node` that `shape` does not know.
pub fn check(node: &Node, shape: &Shape, path: &str, findings: &mut Findings) {
    match (shape, &node.value) {
        (Table(fields), Value::Table(entries)) => {
            for (key, value) in entries {
                let child = join(path, key);
                match fields.iter().find(|(name, _)| name == key) {
                    Some((_, shape)) => check(value, shape, &child, findings),
                    None => {
                        let why = hint(key).map(|h| format!(": {h}")).unwrap_or_default();
                        findings.warn("unknown-key", format!("`{child}` is not a fly.toml key; flyctl ignores it{why}"), Spot::new(value.pos, &child));
                    }
                }
            }
        }
        (AnyKeys(inner), Value::Table(entries)) => {
            for (key, value) in entries {
                check(value, inner, &join(path, key), findings);
            }
        }
        (List(inner), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check(item, inner, &format!("{path}[{i}]"), findings);
            }
        }
        (List(inner), Value::Table(_)) => check(node, inner, path, findings),
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}
