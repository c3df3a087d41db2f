//! Is a machine up to date? The config ferry would send, compared with the
//! config the Machines API reports for the machine, after both are put in
//! one normal form, because the API does not echo a config as it was sent:
//!
//! - `autostop` comes back as a boolean for off/stop ("for backward
//!   compatibility", fly-go `machine_types.go`): `true` = `"stop"`,
//!   `false` = `"off"`; an absent autostop is off;
//! - durations may come back in another spelling (`"90s"` / `"1m30s"`, or
//!   a number of nanoseconds): all become nanoseconds;
//! - a field fly-go omits when empty may come back empty (`null`, `""`,
//!   `0`, `false`, `{}`, `[]`, `"init": {"cmd": null, "tty": false}`,
//!   `"restart": {"policy": ""}`, `"metadata": null`): absent and empty are
//!   the same, except for fields that are Go pointers, where `false` or
//!   `0` is a setting (`autostart = false`);
//! - a config without a guest runs on the default shared-cpu-1x;
//! - check headers come from a Go map, in any order;
//! - metadata that names the release (id, version, the deploying tool's
//!   version, a create's launch id) changes on every deploy by design.
//!
//! flyctl itself never needs this: it decodes both sides into typed Go
//! structs (`plan.go` `compareConfigs`).

use serde_json::{Map, Value, json};

use crate::config::{meta, wire};

/// Metadata that says which release a machine runs, not what it runs.
const RELEASE_KEYS: [&str; 5] = [meta::RELEASE_ID, meta::RELEASE_VERSION, meta::FLYCTL_VERSION, meta::LAUNCH_ID, meta::FERRY_VERSION];

/// Keys whose values are durations (`MachineCheck`, `StopConfig`).
const DURATIONS: [&str; 3] = ["interval", "timeout", "grace_period"];

/// Keys of Go pointer fields (`*bool`, `*int`, `*uint32`, `*MachineAutostop`):
/// fly-go sends `false` or `0` for them, and that differs from unset.
const POINTERS: [&str; 14] = [
    "autostart",
    "min_machines_running",
    "default_self_signed",
    "compress",
    "h2_backend",
    "pristine",
    "idle_timeout",
    "headers_read_timeout",
    "tls_skip_verify",
    "swap_size_mb",
    "disable_machine_autostart",
    "port",
    "start_port",
    "end_port",
];

/// Whether a machine whose config the API reports as `actual` already
/// runs what `desired` describes.
pub fn up_to_date(desired: &Value, actual: &Value) -> bool {
    normal(desired) == normal(actual)
}

/// The normal form of a `MachineConfig`.
pub fn normal(config: &Value) -> Value {
    let mut config = prune(config.clone());
    let Value::Object(map) = &mut config else { return config };
    if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
        for key in RELEASE_KEYS {
            metadata.remove(key);
        }
    }
    if !map.contains_key("guest") {
        map.insert("guest".into(), wire::default_guest());
    }
    if let Some(Value::Array(services)) = map.get_mut("services") {
        for service in services.iter_mut().filter_map(Value::as_object_mut) {
            let stop = match service.remove("autostop") {
                Some(Value::Bool(true)) => json!("stop"),
                Some(Value::Bool(false)) | None => json!("off"),
                Some(other) => other,
            };
            service.insert("autostop".into(), stop);
        }
    }
    prune(config)
}

/// Empty values dropped, durations as nanoseconds, header lists sorted.
fn prune(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                let v = if DURATIONS.contains(&key.as_str()) { duration_ns(v) } else { prune(v) };
                let v = if key == "headers" { sorted(v) } else { v };
                if !is_empty(&v, POINTERS.contains(&key.as_str())) {
                    out.insert(key, v);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(prune).collect()),
        other => other,
    }
}

fn is_empty(v: &Value, pointer: bool) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b && !pointer,
        Value::Number(n) => n.as_f64() == Some(0.0) && !pointer,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A duration as fly-go reads one: a Go duration string, or a number of
/// nanoseconds.
fn duration_ns(v: Value) -> Value {
    match &v {
        Value::String(s) => ferry_step_sdk::units::go_duration_ns(s).map(|ns| json!(ns)).unwrap_or(v),
        Value::Number(n) => n.as_f64().map(|ns| json!(ns as u64)).unwrap_or(v),
        _ => prune(v),
    }
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Array(mut items) => {
            items.sort_by_key(|h| h.to_string());
            Value::Array(items)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autostop_booleans_and_strings_are_the_same_setting() {
        let sent = json!({"services": [{"internal_port": 8080, "autostop": "stop"}]});
        let echoed = json!({"services": [{"internal_port": 8080, "autostop": true}]});
        assert!(up_to_date(&sent, &echoed));
        let off = json!({"services": [{"internal_port": 8080}]});
        assert!(up_to_date(&off, &json!({"services": [{"internal_port": 8080, "autostop": false}]})));
        assert!(!up_to_date(&sent, &off), "stop is not off");
        assert!(!up_to_date(&json!({"services": [{"autostop": "suspend"}]}), &echoed));
    }

    #[test]
    fn durations_compare_by_length_not_spelling() {
        let sent = json!({"checks": {"a": {"interval": "1m30s", "timeout": "500ms"}}, "stop_config": {"timeout": "1m0s"}});
        let echoed = json!({"checks": {"a": {"interval": "90s", "timeout": 500_000_000}}, "stop_config": {"timeout": "60s"}});
        assert!(up_to_date(&sent, &echoed));
        assert!(!up_to_date(&sent, &json!({"checks": {"a": {"interval": "91s", "timeout": "500ms"}}, "stop_config": {"timeout": "60s"}})));
    }

    #[test]
    fn empty_is_absent_except_for_pointer_fields() {
        let sent = json!({"image": "a:1", "init": {}, "services": [{"internal_port": 80, "force_instance_key": null, "ports": [{"port": 80}]}]});
        let echoed = json!({
            "image": "a:1",
            "init": {"exec": null, "entrypoint": null, "cmd": null, "tty": false},
            "restart": {"policy": ""},
            "metadata": null,
            "dns": {},
            "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
            "services": [{"internal_port": 80, "ports": [{"port": 80, "force_https": false}]}],
        });
        assert!(up_to_date(&sent, &echoed));
        let no_autostart = json!({"services": [{"internal_port": 80}]});
        let autostart_off = json!({"services": [{"internal_port": 80, "autostart": false}]});
        assert!(!up_to_date(&no_autostart, &autostart_off), "autostart = false is a setting");
    }

    #[test]
    fn release_metadata_and_header_order_do_not_matter() {
        let a = json!({"metadata": {"fly_release_id": "a", "fly_process_group": "app"}, "checks": {"h": {"headers": [{"name": "A", "values": ["1"]}, {"name": "B", "values": ["2"]}]}}});
        let b = json!({"metadata": {"fly_release_id": "b", "fly_process_group": "app", "ferry_launch_id": "k", "fly_flyctl_version": "0.3"}, "checks": {"h": {"headers": [{"name": "B", "values": ["2"]}, {"name": "A", "values": ["1"]}]}}});
        assert!(up_to_date(&a, &b));
        assert!(!up_to_date(&a, &json!({"metadata": {"fly_process_group": "web"}})));
    }
}
