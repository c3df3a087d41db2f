//! What the API stores and echoes for a machine config: the config as sent,
//! round-tripped through fly-go's types (`wire.rs`), with the platform's
//! defaults filled in and the file entries checked.
//!
//! Defaults come from Fly's documented responses; where they disagree the
//! newest wins, and an older one applies where the newest says nothing:
//! - `dns: {}` when none was sent (2023 create,
//!   `docs:reference/machines/_machines_create_resp.erb`);
//! - `guest: {cpu_kind: shared, cpus: 1, memory_mb: 256}` and
//!   `restart: {policy: ""}` when none was sent, and `policy: ""` in a sent
//!   `restart` without one (2022 create with services,
//!   `docs:reference/machines/_machines_create_serv_resp.erb`; flyctl's
//!   `fly machine status` dereferences `config.guest` without a nil check,
//!   `flyctl:internal/command/machine/status.go:126-128`);
//! - the 2022 example's `"metadata": null` and `init` with explicit nulls are
//!   superseded by the 2023 example, which omits unset keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::wire;

/// The config the API stores for `sent`, or why it refuses it.
pub fn machine_config(sent: &Value) -> Result<Value, String> {
    if !sent.is_object() {
        return Err("config must be an object".to_string());
    }
    let mut config = wire::round_trip(sent, &wire::MACHINE_CONFIG, "config")?;
    check_files(&config["files"], "config.files")?;
    if let Some(containers) = config["containers"].as_array() {
        for (index, container) in containers.iter().enumerate() {
            check_files(&container["files"], &format!("config.containers[{index}].files"))?;
        }
    }
    let object = config.as_object_mut().ok_or("config must be an object")?;
    object.entry("guest").or_insert_with(|| json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}));
    // The example shows `policy` even when empty: the server's type has no
    // omitempty on it, so a sent `restart: {}` comes back with it too (and
    // the echo of an echo is the same echo).
    let restart = object.entry("restart").or_insert_with(|| json!({}));
    if let Some(restart) = restart.as_object_mut() {
        restart.entry("policy").or_insert_with(|| json!(""));
    }
    object.entry("dns").or_insert_with(|| json!({}));
    Ok(config)
}

/// A file entry names an absolute `guest_path` and exactly one source:
/// `raw_value` (standard base64), `secret_name` or `image_config`.
///
/// fly-go says "One of RawValue or SecretName must be set"
/// (`machine_types.go:914`) and that the guest path "must be an absolute
/// path"; `image_config` is the third source (`:926-927`). Whether flaps
/// refuses a file without a source is unverified (flyctl can send one for
/// `--file-literal /path=`, brief §3); the emulator refuses it so that a
/// client which drops a file's content (as `local_path` without reading the
/// file would) fails loudly. Validating the base64 is assumed too: the file
/// could not be written otherwise.
fn check_files(files: &Value, path: &str) -> Result<(), String> {
    let Some(files) = files.as_array() else {
        return Ok(());
    };
    for (index, file) in files.iter().enumerate() {
        let here = format!("{path}[{index}]");
        let guest_path = file["guest_path"].as_str().unwrap_or_default();
        if !guest_path.starts_with('/') {
            return Err(format!("{here}: guest_path must be an absolute path, got {guest_path:?}"));
        }
        let sources: Vec<&str> = ["raw_value", "secret_name", "image_config"].into_iter().filter(|key| file.get(*key).is_some()).collect();
        if sources.len() != 1 {
            return Err(format!(
                "{here} ({guest_path}): a file needs exactly one of raw_value, secret_name or image_config, got {}",
                if sources.is_empty() { "none".to_string() } else { sources.join(" and ") }
            ));
        }
        if let Some(raw) = file["raw_value"].as_str() {
            STANDARD.decode(raw).map_err(|e| format!("{here} ({guest_path}): raw_value is not valid base64: {e}"))?;
        }
    }
    Ok(())
}

/// The bytes of a `raw_value` file (already validated).
pub fn decode_raw_value(raw: &str) -> Vec<u8> {
    STANDARD.decode(raw).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_documented_defaults() {
        let config = machine_config(&json!({"image": "x"})).unwrap();
        assert_eq!(
            config,
            json!({
                "image": "x",
                "init": {},
                "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
                "restart": {"policy": ""},
                "dns": {},
            })
        );
        let sent = json!({"image": "x", "guest": {"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096}, "restart": {"policy": "no"}, "dns": {"skip_registration": true}});
        let config = machine_config(&sent).unwrap();
        assert_eq!(machine_config(&config).unwrap(), config, "the echo of an echo is the same");
        assert_eq!(machine_config(&json!({"restart": {"max_retries": 2}})).unwrap()["restart"], json!({"policy": "", "max_retries": 2}));
        assert_eq!(config["guest"], sent["guest"]);
        assert_eq!(config["restart"], sent["restart"]);
        assert_eq!(config["dns"], sent["dns"]);
    }

    #[test]
    fn echoing_an_echo_changes_nothing() {
        // A client that sends back what it read must see no difference, or
        // every comparison against the echo finds a change.
        let sent = json!({
            "image": "x",
            "env": {"A": "b"},
            "init": {"cmd": ["serve"], "swap_size_mb": 0},
            "services": [{"internal_port": 8080, "autostop": "off", "autostart": true, "ports": [{"port": 80, "handlers": ["http"]}],
                          "checks": [{"type": "tcp", "interval": 90_000_000_000u64}]}],
            "checks": {"alive": {"type": "http", "timeout": "1500ms"}},
            "statics": [{"guest_path": "/p", "url_prefix": "/"}],
            "files": [{"guest_path": "/f", "raw_value": "aGk="}],
            "restart": {},
            "stop_config": {"timeout": 0},
            "mounts": [{"volume": "vol_1", "path": "/data", "extend_threshold_percent": 0}],
            "rootfs": {"persist": 2},
        });
        let echoed = machine_config(&sent).unwrap();
        assert_ne!(echoed, sent);
        assert_eq!(machine_config(&echoed).unwrap(), echoed);
        assert_eq!(echoed["stop_config"]["timeout"], "0s");
        assert_eq!(echoed["rootfs"]["persist"], "restart");
        assert_eq!(echoed["init"]["swap_size_mb"], 0, "a sent pointer stays even when zero");
    }

    #[test]
    fn a_file_needs_exactly_one_source_and_valid_base64() {
        let file = |entry: Value| machine_config(&json!({"image": "x", "files": [entry]}));
        assert!(file(json!({"guest_path": "/etc/a", "raw_value": "aGVsbG8="})).is_ok());
        assert!(file(json!({"guest_path": "/etc/a", "secret_name": "A"})).is_ok());
        assert!(file(json!({"guest_path": "/etc/a", "image_config": "registry.fly.io/app:v1"})).is_ok());
        let none = file(json!({"guest_path": "/etc/a"})).unwrap_err();
        assert!(none.contains("exactly one of") && none.contains("none"), "{none}");
        let two = file(json!({"guest_path": "/etc/a", "raw_value": "aGk=", "secret_name": "A"})).unwrap_err();
        assert!(two.contains("raw_value and secret_name"), "{two}");
        let bad = file(json!({"guest_path": "/etc/a", "raw_value": "not base64!"})).unwrap_err();
        assert!(bad.contains("not valid base64"), "{bad}");
        let relative = file(json!({"guest_path": "etc/a", "raw_value": "aGk="})).unwrap_err();
        assert!(relative.contains("absolute"), "{relative}");
        let local = file(json!({"guest_path": "/etc/a", "local_path": "a.txt"})).unwrap_err();
        assert!(local.contains("unknown field \"local_path\""), "{local}");
    }
}
