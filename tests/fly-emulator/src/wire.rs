//! fly-go's machine-config wire types (fly-go v0.9.6 `machine_types.go`),
//! and the round trip a Go server holding them performs: decode the JSON a
//! client sent into the types, encode it back.
//!
//! flaps is a Go service and fly-go is its client; the emulator assumes
//! (unverified: flaps's source is not public) that a stored config is echoed
//! as fly-go's types encode it. That round trip is where the API's echo
//! differs from what was sent:
//! - `omitempty` drops `false`, `0`, `""`, `null`, `[]` and `{}` of value
//!   fields, but keeps a pointer field that was sent, even when it is zero
//!   (`"autostart": false` stays; `"auto_destroy": false` goes);
//! - fields without `omitempty` are always present (`init`, every field of
//!   `statics[]`, `services[].force_instance_key`);
//! - `autostop` becomes `true`/`false`/`"suspend"` (`MachineAutostop.MarshalJSON`,
//!   `machine_types.go:1279-1292`), durations become `Duration.String()`
//!   (`duration.go:13-15`), `persist_rootfs` integers become their names.
//!
//! One deliberate difference: Go's decoder ignores unknown keys, the emulator
//! refuses them (400, naming the key). A real API that silently drops
//! `files[].local_path` loses the user's file without a word; a test against
//! the emulator fails instead. Key matching is exact (Go's is
//! case-insensitive; clients send the lowercase tags).

use serde_json::{Map as JsonMap, Number, Value};

use crate::duration;

/// How a field is omitted when encoding, from its Go type and JSON tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Omit {
    /// A value field without `omitempty`: always present (zero when unset).
    Never,
    /// A value field (or slice or map) with `omitempty`: dropped when zero or empty.
    Empty,
    /// A pointer with `omitempty`: dropped only when nil (absent or `null`).
    Nil,
    /// A pointer without `omitempty`: `null` when nil.
    NullPointer,
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    String,
    Bool,
    /// A Go signed integer.
    Int,
    /// A Go unsigned integer.
    Uint,
    Float,
    /// `fly.Duration`: nanoseconds or a Go duration string; encoded as a string.
    Duration,
    /// `fly.MachineAutostop`.
    Autostop,
    /// `fly.MachinePersistRootfs`: a name or the protobuf integer.
    PersistRootfs,
    /// `any`: kept as sent.
    Any,
    List(&'static Kind),
    /// `map[string]T`.
    Map(&'static Kind),
    Struct(&'static Type),
}

#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub omit: Omit,
}

/// A Go struct: its name (for errors) and its JSON fields.
#[derive(Debug)]
pub struct Type {
    pub name: &'static str,
    pub fields: &'static [Field],
}

const fn f(name: &'static str, kind: Kind, omit: Omit) -> Field {
    Field { name, kind, omit }
}

use Kind::{Any, Autostop, Bool, Duration, Float, Int, List, Map, PersistRootfs, Struct, Uint};
use Omit::{Empty, Never, Nil, NullPointer};

const STRING: Kind = Kind::String;
const STRINGS: Kind = List(&STRING);
const STRING_MAP: Kind = Map(&STRING);

pub static MACHINE_CONFIG: Type = Type {
    name: "MachineConfig",
    fields: &[
        f("env", STRING_MAP, Empty),
        f("init", Struct(&INIT), Never),
        f("guest", Struct(&GUEST), Nil),
        f("metadata", STRING_MAP, Empty),
        f("mounts", List(&Struct(&MOUNT)), Empty),
        f("services", List(&Struct(&SERVICE)), Empty),
        f("metrics", Struct(&METRICS), Nil),
        f("checks", Map(&Struct(&CHECK)), Empty),
        f("statics", List(&Struct(&STATIC)), Empty),
        f("image", STRING, Empty),
        f("files", List(&Struct(&FILE)), Empty),
        f("schedule", STRING, Empty),
        f("auto_destroy", Bool, Empty),
        f("restart", Struct(&RESTART), Nil),
        f("dns", Struct(&DNS), Nil),
        f("processes", List(&Struct(&PROCESS)), Empty),
        f("standbys", STRINGS, Empty),
        f("stop_config", Struct(&STOP_CONFIG), Nil),
        f("containers", List(&Struct(&CONTAINER)), Empty),
        f("volumes", List(&Struct(&VOLUME_CONFIG)), Empty),
        f("rootfs", Struct(&ROOTFS), Nil),
        f("cache_drive", Struct(&CACHE_DRIVE), Nil),
        f("spot", Struct(&SPOT), Nil),
        f("size", STRING, Empty),
        f("disable_machine_autostart", Bool, Nil),
    ],
};

static INIT: Type = Type {
    name: "MachineInit",
    fields: &[
        f("exec", STRINGS, Empty),
        f("entrypoint", STRINGS, Empty),
        f("cmd", STRINGS, Empty),
        f("tty", Bool, Empty),
        f("swap_size_mb", Int, Nil),
        f("kernel_args", STRINGS, Empty),
    ],
};

/// Also the `compute` of a volume create.
pub static GUEST: Type = Type {
    name: "MachineGuest",
    fields: &[
        f("cpu_kind", STRING, Empty),
        f("cpus", Int, Empty),
        f("memory_mb", Int, Empty),
        f("max_memory_mb", Int, Empty),
        f("gpus", Int, Empty),
        f("gpu_kind", STRING, Empty),
        f("host_dedication_id", STRING, Empty),
        f("persist_rootfs", PersistRootfs, Empty),
        f("kernel_args", STRINGS, Empty),
    ],
};

static MOUNT: Type = Type {
    name: "MachineMount",
    fields: &[
        f("encrypted", Bool, Empty),
        f("path", STRING, Empty),
        f("size_gb", Int, Empty),
        f("volume", STRING, Empty),
        f("name", STRING, Empty),
        f("extend_threshold_percent", Int, Empty),
        f("add_size_gb", Int, Empty),
        f("size_gb_limit", Int, Empty),
    ],
};

static SERVICE: Type = Type {
    name: "MachineService",
    fields: &[
        f("protocol", STRING, Empty),
        f("internal_port", Int, Empty),
        f("autostop", Autostop, Nil),
        f("autostart", Bool, Nil),
        f("min_machines_running", Int, Nil),
        f("ports", List(&Struct(&PORT)), Empty),
        f("checks", List(&Struct(&SERVICE_CHECK)), Empty),
        f("concurrency", Struct(&CONCURRENCY), Nil),
        f("force_instance_key", STRING, NullPointer),
        f("force_instance_description", STRING, Nil),
    ],
};

static PORT: Type = Type {
    name: "MachinePort",
    fields: &[
        f("port", Int, Nil),
        f("start_port", Int, Nil),
        f("end_port", Int, Nil),
        f("handlers", STRINGS, Empty),
        f("force_https", Bool, Empty),
        f("tls_options", Struct(&TLS_OPTIONS), Nil),
        f("http_options", Struct(&HTTP_OPTIONS), Nil),
        f("proxy_proto_options", Struct(&PROXY_PROTO_OPTIONS), Nil),
    ],
};

static TLS_OPTIONS: Type =
    Type { name: "TLSOptions", fields: &[f("alpn", STRINGS, Empty), f("versions", STRINGS, Empty), f("default_self_signed", Bool, Nil)] };

static HTTP_OPTIONS: Type = Type {
    name: "HTTPOptions",
    fields: &[
        f("compress", Bool, Nil),
        f("response", Struct(&HTTP_RESPONSE_OPTIONS), Nil),
        f("h2_backend", Bool, Nil),
        f("idle_timeout", Uint, Nil),
        f("headers_read_timeout", Uint, Nil),
        f("replay_cache", List(&Struct(&REPLAY_CACHE)), Empty),
    ],
};

static HTTP_RESPONSE_OPTIONS: Type = Type { name: "HTTPResponseOptions", fields: &[f("headers", Map(&Any), Empty), f("pristine", Bool, Nil)] };

static REPLAY_CACHE: Type = Type {
    name: "ReplayCache",
    fields: &[
        f("path_prefix", STRING, Never),
        f("ttl_seconds", Int, Never),
        f("type", STRING, Never),
        f("name", STRING, Never),
        f("allow_bypass", Bool, Empty),
    ],
};

static PROXY_PROTO_OPTIONS: Type = Type { name: "ProxyProtoOptions", fields: &[f("version", STRING, Empty)] };

static CONCURRENCY: Type =
    Type { name: "MachineServiceConcurrency", fields: &[f("type", STRING, Empty), f("hard_limit", Int, Empty), f("soft_limit", Int, Empty)] };

static SERVICE_CHECK: Type = Type {
    name: "MachineServiceCheck",
    fields: &[
        f("port", Int, Nil),
        f("type", STRING, Nil),
        f("interval", Duration, Nil),
        f("timeout", Duration, Nil),
        f("grace_period", Duration, Nil),
        f("method", STRING, Nil),
        f("path", STRING, Nil),
        f("protocol", STRING, Nil),
        f("tls_skip_verify", Bool, Nil),
        f("tls_server_name", STRING, Nil),
        f("headers", List(&Struct(&HTTP_HEADER)), Empty),
    ],
};

static CHECK: Type = Type {
    name: "MachineCheck",
    fields: &[
        f("port", Int, Nil),
        f("type", STRING, Nil),
        f("kind", STRING, Nil),
        f("interval", Duration, Nil),
        f("timeout", Duration, Nil),
        f("grace_period", Duration, Nil),
        f("method", STRING, Nil),
        f("path", STRING, Nil),
        f("protocol", STRING, Nil),
        f("tls_skip_verify", Bool, Nil),
        f("tls_server_name", STRING, Nil),
        f("headers", List(&Struct(&HTTP_HEADER)), Empty),
    ],
};

static HTTP_HEADER: Type = Type { name: "MachineHTTPHeader", fields: &[f("name", STRING, Empty), f("values", STRINGS, Empty)] };

static METRICS: Type = Type { name: "MachineMetrics", fields: &[f("port", Int, Empty), f("path", STRING, Empty), f("https", Bool, Empty)] };

static STATIC: Type = Type {
    name: "Static",
    fields: &[f("guest_path", STRING, Never), f("url_prefix", STRING, Never), f("tigris_bucket", STRING, Never), f("index_document", STRING, Never)],
};

static FILE: Type = Type {
    name: "File",
    fields: &[
        f("guest_path", STRING, Empty),
        f("raw_value", STRING, Nil),
        f("secret_name", STRING, Nil),
        f("image_config", STRING, Nil),
        f("mode", Uint, Empty),
    ],
};

static RESTART: Type = Type { name: "MachineRestart", fields: &[f("policy", STRING, Empty), f("max_retries", Int, Empty)] };

static DNS: Type = Type {
    name: "DNSConfig",
    fields: &[
        f("skip_registration", Bool, Empty),
        f("nameservers", STRINGS, Empty),
        f("searches", STRINGS, Empty),
        f("options", List(&Struct(&DNS_OPTION)), Empty),
        f("dns_forward_rules", List(&Struct(&DNS_FORWARD_RULE)), Empty),
        f("hostname", STRING, Empty),
        f("hostname_fqdn", STRING, Empty),
    ],
};

static DNS_OPTION: Type = Type { name: "dnsOption", fields: &[f("name", STRING, Empty), f("value", STRING, Empty)] };

static DNS_FORWARD_RULE: Type = Type { name: "dnsForwardRule", fields: &[f("basename", STRING, Empty), f("addr", STRING, Empty)] };

static PROCESS: Type = Type {
    name: "MachineProcess",
    fields: &[
        f("exec", STRINGS, Empty),
        f("entrypoint", STRINGS, Empty),
        f("cmd", STRINGS, Empty),
        f("user", STRING, Empty),
        f("env", STRING_MAP, Empty),
        f("secrets", List(&Struct(&MACHINE_SECRET)), Empty),
        f("ignore_app_secrets", Bool, Empty),
        f("env_from", List(&Struct(&ENV_FROM)), Empty),
    ],
};

static MACHINE_SECRET: Type = Type { name: "MachineSecret", fields: &[f("env_var", STRING, Never), f("name", STRING, Never)] };

static ENV_FROM: Type = Type { name: "EnvFrom", fields: &[f("env_var", STRING, Never), f("field_ref", STRING, Never)] };

static STOP_CONFIG: Type = Type { name: "StopConfig", fields: &[f("timeout", Duration, Nil), f("signal", STRING, Nil)] };

static CONTAINER: Type = Type {
    name: "ContainerConfig",
    fields: &[
        f("name", STRING, Never),
        f("image", STRING, Never),
        f("exec", STRINGS, Empty),
        f("entrypoint", STRINGS, Empty),
        f("cmd", STRINGS, Empty),
        f("user", STRING, Empty),
        f("env", STRING_MAP, Empty),
        f("secrets", List(&Struct(&MACHINE_SECRET)), Empty),
        f("env_from", List(&Struct(&ENV_FROM)), Empty),
        f("files", List(&Struct(&FILE)), Empty),
        f("restart", Struct(&RESTART), Nil),
        f("stop", Struct(&STOP_CONFIG), Nil),
        f("depends_on", List(&Struct(&CONTAINER_DEPENDENCY)), Empty),
        f("healthchecks", List(&Struct(&CONTAINER_HEALTHCHECK)), Empty),
        f("mounts", List(&Struct(&CONTAINER_MOUNT)), Empty),
    ],
};

static CONTAINER_DEPENDENCY: Type = Type { name: "ContainerDependency", fields: &[f("name", STRING, Never), f("condition", STRING, Never)] };

/// `ContainerHealthcheck` with its embedded `ContainerHealthcheckType`
/// (`http`, `tcp`, `exec`) flattened, as Go encodes embedded structs.
static CONTAINER_HEALTHCHECK: Type = Type {
    name: "ContainerHealthcheck",
    fields: &[
        f("name", STRING, Never),
        f("interval", Int, Empty),
        f("grace_period", Int, Empty),
        f("success_threshold", Int, Empty),
        f("failure_threshold", Int, Empty),
        f("timeout", Int, Empty),
        f("kind", STRING, Empty),
        f("unhealthy", STRING, Empty),
        f("http", Struct(&HTTP_HEALTHCHECK), Nil),
        f("tcp", Struct(&TCP_HEALTHCHECK), Nil),
        f("exec", Struct(&EXEC_HEALTHCHECK), Nil),
    ],
};

static HTTP_HEALTHCHECK: Type = Type {
    name: "HTTPHealthcheck",
    fields: &[
        f("port", Int, Never),
        f("method", STRING, Empty),
        f("path", STRING, Empty),
        f("headers", List(&Struct(&HTTP_HEADER)), Empty),
        f("scheme", STRING, Empty),
        f("tls_skip_verify", Bool, Nil),
        f("tls_server_name", STRING, Empty),
    ],
};

static TCP_HEALTHCHECK: Type = Type { name: "TCPHealthcheck", fields: &[f("port", Int, Never)] };

static EXEC_HEALTHCHECK: Type = Type { name: "ExecHealthcheck", fields: &[f("command", STRINGS, Never)] };

static CONTAINER_MOUNT: Type = Type { name: "ContainerMount", fields: &[f("name", STRING, Never), f("path", STRING, Never)] };

/// `VolumeConfig` with its embedded `VolumeResource` flattened.
static VOLUME_CONFIG: Type =
    Type { name: "VolumeConfig", fields: &[f("name", STRING, Never), f("temp_dir", Struct(&TEMP_DIR), Nil), f("image", STRING, Empty)] };

static TEMP_DIR: Type = Type { name: "TempDirVolume", fields: &[f("storage_type", STRING, Never), f("size_mb", Uint, Empty)] };

static ROOTFS: Type = Type { name: "MachineRootfs", fields: &[f("persist", PersistRootfs, Empty), f("size_gb", Uint, Empty)] };

static CACHE_DRIVE: Type = Type { name: "MachineCacheDrive", fields: &[f("size_mb", Uint, Empty)] };

static SPOT: Type = Type { name: "MachineSpot", fields: &[f("max_price_fraction", Float, Empty)] };

/// Decodes `value` as a `ty` and encodes it back the way Go would.
/// Errors name the path of the offending key (`config.files[0]`).
pub fn round_trip(value: &Value, ty: &Type, path: &str) -> Result<Value, String> {
    decode_struct(value, ty, path)
}

fn decode_struct(value: &Value, ty: &Type, path: &str) -> Result<Value, String> {
    let empty = JsonMap::new();
    let object = match value {
        Value::Object(object) => object,
        // Go decodes null into a struct as "no change": its zero value.
        Value::Null => &empty,
        other => return Err(mismatch(path, other, ty.name)),
    };
    if let Some(unknown) = object.keys().find(|key| ty.fields.iter().all(|field| field.name != key.as_str())) {
        return Err(format!("{path}: unknown field {unknown:?} (fly-go's {} has no such field)", ty.name));
    }
    let mut out = JsonMap::new();
    for field in ty.fields {
        let field_path = format!("{path}.{}", field.name);
        let sent = object.get(field.name).unwrap_or(&Value::Null);
        if let Some(encoded) = encode_field(sent, field, &field_path)? {
            out.insert(field.name.to_string(), encoded);
        }
    }
    Ok(Value::Object(out))
}

/// The field as Go encodes it, or `None` when `omitempty` drops it.
fn encode_field(sent: &Value, field: &Field, path: &str) -> Result<Option<Value>, String> {
    if sent.is_null() {
        return Ok(match field.omit {
            Omit::Nil | Omit::Empty => None,
            Omit::NullPointer => Some(Value::Null),
            Omit::Never => Some(zero(field.kind, path)?),
        });
    }
    let decoded = decode(sent, field.kind, path)?;
    Ok(match field.omit {
        Omit::Empty if is_empty(&decoded) => None,
        _ => Some(decoded),
    })
}

fn decode(value: &Value, kind: Kind, path: &str) -> Result<Value, String> {
    match kind {
        Kind::String => match value {
            Value::String(_) => Ok(value.clone()),
            other => Err(mismatch(path, other, "string")),
        },
        Bool => match value {
            Value::Bool(_) => Ok(value.clone()),
            other => Err(mismatch(path, other, "bool")),
        },
        Int => match value.as_i64() {
            Some(_) => Ok(value.clone()),
            None => Err(mismatch(path, value, "int")),
        },
        Uint => match value.as_u64() {
            Some(_) => Ok(value.clone()),
            None => Err(mismatch(path, value, "uint")),
        },
        Float => match value {
            Value::Number(_) => Ok(value.clone()),
            other => Err(mismatch(path, other, "float64")),
        },
        Duration => decode_duration(value, path),
        Autostop => decode_autostop(value, path),
        PersistRootfs => decode_persist_rootfs(value, path),
        Any => Ok(value.clone()),
        List(item) => match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item_value)| {
                    let item_path = format!("{path}[{index}]");
                    match (item_value, *item) {
                        (Value::Null, Struct(ty)) => decode_struct(&Value::Null, ty, &item_path),
                        (Value::Null, other) => zero(other, &item_path),
                        (value, other) => decode(value, other, &item_path),
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Err(mismatch(path, other, "array")),
        },
        Map(item) => match value {
            Value::Object(entries) => entries
                .iter()
                .map(|(key, entry)| {
                    let entry_path = format!("{path}.{key}");
                    let decoded = match (entry, *item) {
                        (Value::Null, Any) => Value::Null,
                        (Value::Null, other) => zero(other, &entry_path)?,
                        (value, other) => decode(value, other, &entry_path)?,
                    };
                    Ok((key.clone(), decoded))
                })
                .collect::<Result<JsonMap<_, _>, String>>()
                .map(Value::Object),
            other => Err(mismatch(path, other, "object")),
        },
        Struct(ty) => decode_struct(value, ty, path),
    }
}

/// fly-go `Duration.ParseDuration` (`duration.go:43-65`), then `String()`.
fn decode_duration(value: &Value, path: &str) -> Result<Value, String> {
    let nanos = match value {
        // A JSON number is nanoseconds (Go truncates a float toward zero).
        Value::Number(number) => {
            number.as_i64().or_else(|| number.as_f64().map(|float| float as i64)).ok_or_else(|| format!("{path}: invalid duration {number}"))?
        }
        Value::String(text) => duration::parse_nanos(text).map_err(|e| format!("{path}: {e}"))?,
        other => {
            return Err(format!("{path}: unknown duration type: {}", json_type(other)));
        }
    };
    Ok(Value::String(duration::format_go(nanos)))
}

/// `MachineAutostop.UnmarshalJSON` then `MarshalJSON` (`machine_types.go:1243-1292`).
fn decode_autostop(value: &Value, path: &str) -> Result<Value, String> {
    match value {
        Value::Bool(_) => Ok(value.clone()),
        Value::String(text) => match text.as_str() {
            "off" => Ok(Value::Bool(false)),
            "stop" => Ok(Value::Bool(true)),
            "suspend" => Ok(Value::String("suspend".into())),
            other => Err(format!("{path}: invalid autostop string value {other:?}")),
        },
        _ => Err(format!("{path}: autostop value is not a valid bool or string")),
    }
}

/// `MachinePersistRootfs.UnmarshalJSON` (`machine_types.go:381-425`).
fn decode_persist_rootfs(value: &Value, path: &str) -> Result<Value, String> {
    let name = match value {
        Value::String(text) => match text.as_str() {
            "" | "none" => "",
            "never" => "never",
            "restart" => "restart",
            "always" => "always",
            other => {
                return Err(format!("{path}: invalid persist_rootfs string value {other:?}"));
            }
        },
        Value::Number(number) => match number.as_i64() {
            Some(0) => "",
            Some(1) => "never",
            Some(2) => "restart",
            Some(3) => "always",
            _ => return Err(format!("{path}: invalid persist_rootfs int value {number}")),
        },
        other => return Err(mismatch(path, other, "MachinePersistRootfs")),
    };
    Ok(Value::String(name.to_string()))
}

/// The Go zero value of `kind`, as encoded.
fn zero(kind: Kind, path: &str) -> Result<Value, String> {
    Ok(match kind {
        Kind::String | PersistRootfs => Value::String(String::new()),
        Bool => Value::Bool(false),
        Int | Uint | Float => Value::Number(Number::from(0)),
        Duration => Value::String("0s".into()),
        Autostop => Value::Bool(false),
        Any | List(_) | Map(_) => Value::Null,
        Struct(ty) => decode_struct(&Value::Null, ty, path)?,
    })
}

/// What `omitempty` treats as empty.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(entries) => entries.is_empty(),
    }
}

fn mismatch(path: &str, value: &Value, go_type: &str) -> String {
    format!("{path}: cannot unmarshal {} into Go value of type {go_type}", json_type(value))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trip(config: Value) -> Result<Value, String> {
        round_trip(&config, &MACHINE_CONFIG, "config")
    }

    #[test]
    fn omitempty_drops_zero_values_but_keeps_sent_pointers() {
        let echoed = trip(json!({
            "image": "x",
            "auto_destroy": false,
            "schedule": "",
            "env": {},
            "metadata": null,
            "services": [{"internal_port": 8080, "autostart": false, "min_machines_running": 0, "ports": []}],
        }))
        .unwrap();
        assert_eq!(
            echoed,
            json!({
                "image": "x",
                "init": {},
                "services": [{"internal_port": 8080, "autostart": false, "min_machines_running": 0, "force_instance_key": null}],
            })
        );
    }

    #[test]
    fn autostop_comes_back_as_fly_go_marshals_it() {
        // TestMachineAutostopMarshalJSON / UnmarshalJSON (machine_types_test.go:439-479).
        for (sent, echoed) in [
            (json!("off"), json!(false)),
            (json!("stop"), json!(true)),
            (json!("suspend"), json!("suspend")),
            (json!(true), json!(true)),
            (json!(false), json!(false)),
        ] {
            let config = trip(json!({"services": [{"autostop": sent}]})).unwrap();
            assert_eq!(config["services"][0]["autostop"], echoed, "{sent}");
        }
        let error = trip(json!({"services": [{"autostop": "sometimes"}]})).unwrap_err();
        assert!(error.contains("invalid autostop string value"), "{error}");
    }

    #[test]
    fn durations_are_encoded_as_go_prints_them() {
        let config = trip(json!({
            "checks": {"alive": {"type": "tcp", "interval": "90s", "timeout": 1_500_000_000u64}},
            "stop_config": {"timeout": "300s", "signal": "SIGTERM"},
        }))
        .unwrap();
        assert_eq!(config["checks"]["alive"]["interval"], "1m30s");
        assert_eq!(config["checks"]["alive"]["timeout"], "1.5s");
        assert_eq!(config["stop_config"]["timeout"], "5m0s");
    }

    #[test]
    fn fields_without_omitempty_are_always_present() {
        let config = trip(json!({"statics": [{"guest_path": "/app/public", "url_prefix": "/"}]})).unwrap();
        assert_eq!(config["statics"][0], json!({"guest_path": "/app/public", "url_prefix": "/", "tigris_bucket": "", "index_document": ""}));
    }

    #[test]
    fn persist_rootfs_integers_become_names() {
        // TestMachinePersistRootfsUnmarshalJSON (machine_types_test.go:279-304).
        for (sent, echoed) in [(json!(3), Some("always")), (json!("never"), Some("never")), (json!(0), None), (json!("none"), None)] {
            let config = trip(json!({"rootfs": {"persist": sent, "size_gb": 1}})).unwrap();
            assert_eq!(config["rootfs"].get("persist").and_then(Value::as_str), echoed);
        }
        assert!(trip(json!({"rootfs": {"persist": 7}})).is_err());
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_their_path() {
        let error = trip(json!({"files": [{"guest_path": "/a", "local_path": "a.txt"}]})).unwrap_err();
        assert!(error.starts_with("config.files[0]: unknown field \"local_path\""), "{error}");
        let error = trip(json!({"guest": {"cpus": "2"}})).unwrap_err();
        assert!(error.contains("config.guest.cpus") && error.contains("string"), "{error}");
        let error = trip(json!({"services": [{"internal_port": 80.5}]})).unwrap_err();
        assert!(error.contains("config.services[0].internal_port"), "{error}");
        assert!(trip(json!({"env": ["A=B"]})).is_err());
    }

    #[test]
    fn every_key_flyctl_sends_is_accepted() {
        // A config shaped like flyctl's (brief §1-§3): http/tls/proxy options,
        // mount auto-extend, statics, files, force_instance_key null.
        let config = json!({
            "init": {},
            "image": "registry.fly.io/app:v1",
            "env": {"PRIMARY_REGION": "ams"},
            "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
            "metadata": {"fly_platform_version": "v2"},
            "mounts": [{"path": "/data", "name": "data", "volume": "vol_1", "extend_threshold_percent": 80, "add_size_gb": 3, "size_gb_limit": 100}],
            "services": [{
                "protocol": "tcp", "internal_port": 8080, "autostop": "stop", "autostart": true, "min_machines_running": 0,
                "ports": [{"port": 443, "handlers": ["http", "tls"], "tls_options": {"alpn": ["h2"], "versions": ["TLSv1.3"], "default_self_signed": false},
                           "http_options": {"compress": true, "h2_backend": true, "idle_timeout": 600, "headers_read_timeout": 10,
                                            "response": {"headers": {"X-A": "b", "X-B": false}, "pristine": true},
                                            "replay_cache": [{"path_prefix": "/", "ttl_seconds": 300, "type": "cookie", "name": "s"}]},
                           "proxy_proto_options": {"version": "v2"}}],
                "checks": [{"type": "http", "interval": "15s", "timeout": "2s", "grace_period": "1s", "method": "GET", "path": "/", "protocol": "http", "tls_skip_verify": false, "headers": [{"name": "Host", "values": ["x"]}]}],
                "concurrency": {"type": "requests", "hard_limit": 25, "soft_limit": 20},
                "force_instance_key": null
            }],
            "metrics": {"port": 9091, "path": "/metrics"},
            "statics": [{"guest_path": "/app/public", "url_prefix": "/static", "tigris_bucket": "", "index_document": ""}],
            "files": [{"guest_path": "/etc/a", "raw_value": "aGk="}, {"guest_path": "/etc/b", "secret_name": "B"}],
            "restart": {"policy": "on-failure", "max_retries": 10},
            "stop_config": {"timeout": "5s", "signal": "SIGTERM"},
            "dns": {"skip_registration": true, "nameservers": ["1.1.1.1"]},
            "processes": [{"cmd": ["x"], "env": {"A": "b"}}],
            "standbys": ["m1"],
            "schedule": "daily",
            "auto_destroy": true,
            "rootfs": {"persist": "always", "size_gb": 10},
            "cache_drive": {"size_mb": 1024},
            "spot": {"max_price_fraction": 0.5},
            "containers": [{"name": "c", "image": "i", "healthchecks": [{"name": "h", "http": {"port": 80}}], "mounts": [{"name": "v", "path": "/v"}]}],
            "volumes": [{"name": "v", "temp_dir": {"storage_type": "disk", "size_mb": 10}}],
        });
        let echoed = trip(config).unwrap();
        assert_eq!(echoed["services"][0]["autostop"], true);
        assert_eq!(echoed["services"][0]["ports"][0]["http_options"]["h2_backend"], true);
        assert_eq!(echoed["mounts"][0]["size_gb_limit"], 100);
    }
}
