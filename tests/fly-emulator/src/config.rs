//! The parts of a machine config the emulator acts on. The config itself is
//! stored as the JSON the client sent (so unknown fields round-trip); this is
//! a lenient typed view of it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::duration::GoDuration;

/// The process group flyctl gives its release-command machine.
pub const RELEASE_COMMAND_GROUP: &str = "fly_app_release_command";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MachineConfig {
    pub image: String,
    #[serde(deserialize_with = "null_as_default")]
    pub env: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_as_default")]
    pub init: Init,
    #[serde(deserialize_with = "null_as_default")]
    pub services: Vec<Service>,
    #[serde(deserialize_with = "null_as_default")]
    pub checks: BTreeMap<String, CheckSpec>,
    pub restart: Option<Restart>,
    pub stop_config: Option<StopConfig>,
    pub auto_destroy: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub mounts: Vec<Mount>,
    #[serde(deserialize_with = "null_as_default")]
    pub files: Vec<MachineFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Init {
    #[serde(deserialize_with = "null_as_default")]
    pub exec: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub entrypoint: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub cmd: Vec<String>,
}

impl Init {
    /// The command the machine runs: `exec` when set, which replaces the
    /// image's whole command line, else `entrypoint` followed by `cmd`
    /// (fly-go `MachineInit`, `machine_types.go`). Empty when none is set:
    /// an emulated image has no OCI config to take a default from.
    pub fn command(&self) -> Vec<String> {
        if self.exec.is_empty() { self.entrypoint.iter().chain(&self.cmd).cloned().collect() } else { self.exec.clone() }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Service {
    pub internal_port: Option<u16>,
    #[serde(deserialize_with = "null_as_default")]
    pub checks: Vec<CheckSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CheckSpec {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub port: Option<u16>,
    pub path: Option<String>,
    pub method: Option<String>,
    pub interval: Option<GoDuration>,
    pub timeout: Option<GoDuration>,
    pub grace_period: Option<GoDuration>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Restart {
    pub policy: Option<String>,
    pub max_retries: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StopConfig {
    pub signal: Option<String>,
    pub timeout: Option<GoDuration>,
}

/// One of `config.files`: "One of RawValue or SecretName must be set"
/// (fly-go `machine_types.go:914, 926-927`); `mode` is the file's
/// permission bits as a number (384 = 0600).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MachineFile {
    pub guest_path: String,
    pub raw_value: Option<String>,
    pub secret_name: Option<String>,
    pub image_config: Option<String>,
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Mount {
    pub volume: String,
    pub path: String,
}

/// A check with every default applied, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckPlan {
    pub name: String,
    pub http: bool,
    /// The port inside the "VM" (mapped to a loopback port at start).
    pub port: Option<u16>,
    pub path: String,
    pub method: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub grace_period: Duration,
}

/// What flyd does when the main process exits on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartPolicy {
    No,
    /// Restart after a non-zero exit, at most `max_retries` times.
    OnFailure {
        max_retries: u32,
    },
    Always,
}

/// Checks run at least this often apart, whatever the config says, so a
/// misconfigured test cannot spin; tests use short intervals to run fast.
const MIN_CHECK_INTERVAL: Duration = Duration::from_millis(100);
const DEFAULT_MAX_RETRIES: u32 = 3;

impl MachineConfig {
    pub fn parse(config: &Value) -> Result<MachineConfig, String> {
        MachineConfig::deserialize(config).map_err(|e| format!("invalid machine config: {e}"))
    }

    /// `fly_process_group` metadata, falling back to the legacy `process_group`.
    pub fn process_group(&self) -> Option<&str> {
        self.metadata.get("fly_process_group").or_else(|| self.metadata.get("process_group")).map(String::as_str)
    }

    /// flyctl's release-command machine: a command override in the release group.
    pub fn is_release_command(&self) -> bool {
        (!self.init.cmd.is_empty() || !self.init.exec.is_empty()) && self.process_group() == Some(RELEASE_COMMAND_GROUP)
    }

    /// Every port inside the machine that something connects to: service
    /// ports and the ports named by checks.
    pub fn internal_ports(&self) -> BTreeSet<u16> {
        let services = self.services.iter().flat_map(|service| {
            let checks = service.checks.iter().filter_map(|check| check.port);
            service.internal_port.into_iter().chain(checks)
        });
        let top_level = self.checks.values().filter_map(|check| check.port);
        services.chain(top_level).collect()
    }

    /// The port the app's proxy sends traffic to: the first service's.
    pub fn service_port(&self) -> Option<u16> {
        self.services.iter().find_map(|service| service.internal_port)
    }

    /// Top-level checks by name, then service checks named the way flyd
    /// names them (`servicecheck-00-http-8080`).
    pub fn check_plans(&self) -> Vec<CheckPlan> {
        let top_level = self.checks.iter().map(|(name, spec)| plan(name.clone(), spec, spec.port));
        let service_checks =
            self.services.iter().flat_map(|service| service.checks.iter().map(move |check| (service, check))).enumerate().map(|(index, (service, spec))| {
                let port = spec.port.or(service.internal_port);
                let kind = spec.kind.as_deref().unwrap_or("tcp");
                let port_label = port.map_or_else(String::new, |p| p.to_string());
                plan(format!("servicecheck-{index:02}-{kind}-{port_label}"), spec, port)
            });
        top_level.chain(service_checks).collect()
    }

    /// The restart policy; Fly's default when none is set is `on-failure`.
    pub fn restart_policy(&self) -> RestartPolicy {
        let restart = self.restart.clone().unwrap_or_default();
        match restart.policy.as_deref() {
            Some("no") => RestartPolicy::No,
            Some("always") => RestartPolicy::Always,
            _ => RestartPolicy::OnFailure { max_retries: restart.max_retries.unwrap_or(DEFAULT_MAX_RETRIES) },
        }
    }

    /// The volume this machine mounts, if any.
    pub fn volume(&self) -> Option<&str> {
        self.mounts.first().map(|mount| mount.volume.as_str())
    }
}

fn plan(name: String, spec: &CheckSpec, port: Option<u16>) -> CheckPlan {
    let duration = |value: Option<GoDuration>, default: Duration| value.map_or(default, |d| d.0);
    let http = spec.kind.as_deref() == Some("http");
    CheckPlan {
        name,
        http,
        port,
        path: spec.path.clone().unwrap_or_else(|| "/".to_string()),
        method: spec.method.clone().unwrap_or_else(|| "GET".to_string()).to_uppercase(),
        interval: duration(spec.interval, Duration::from_secs(15)).max(MIN_CHECK_INTERVAL),
        timeout: duration(spec.timeout, Duration::from_secs(2)),
        grace_period: duration(spec.grace_period, Duration::ZERO),
    }
}

/// Go clients send `null` for empty maps and slices; treat it as empty.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_ports_and_checks_from_services_and_top_level() {
        let config = MachineConfig::parse(&json!({
            "image": "x",
            "services": [{"internal_port": 8080, "checks": [{"type": "http", "path": "/up", "interval": "50ms"}]}],
            "checks": {"alive": {"type": "tcp", "port": 9090, "grace_period": "1s"}},
            "env": null,
            "unknown_field": {"kept": true},
        }))
        .unwrap();
        assert_eq!(config.internal_ports().into_iter().collect::<Vec<_>>(), vec![8080, 9090]);
        let plans = config.check_plans();
        assert_eq!(plans[0].name, "alive");
        assert!(!plans[0].http);
        assert_eq!(plans[0].grace_period, Duration::from_secs(1));
        assert_eq!(plans[1].name, "servicecheck-00-http-8080");
        assert_eq!(plans[1].port, Some(8080));
        assert_eq!(plans[1].path, "/up");
        assert_eq!(plans[1].interval, MIN_CHECK_INTERVAL, "intervals are clamped");
    }

    #[test]
    fn recognises_the_release_command_machine() {
        let release = MachineConfig::parse(&json!({
            "init": {"cmd": ["bin/migrate"]},
            "metadata": {"fly_process_group": "fly_app_release_command"},
        }))
        .unwrap();
        assert!(release.is_release_command());
        let app = MachineConfig::parse(&json!({"init": {"cmd": ["bin/migrate"]}})).unwrap();
        assert!(!app.is_release_command());
    }

    #[test]
    fn restart_policy_defaults_to_on_failure() {
        let default = MachineConfig::parse(&json!({})).unwrap();
        assert_eq!(default.restart_policy(), RestartPolicy::OnFailure { max_retries: 3 });
        let no = MachineConfig::parse(&json!({"restart": {"policy": "no"}})).unwrap();
        assert_eq!(no.restart_policy(), RestartPolicy::No);
    }

    #[test]
    fn the_command_is_exec_else_entrypoint_and_cmd() {
        let exec = MachineConfig::parse(&json!({"init": {"exec": ["/bin/sh", "-c", "true"], "cmd": ["ignored"]}})).unwrap();
        assert_eq!(exec.init.command(), ["/bin/sh", "-c", "true"]);
        let split = MachineConfig::parse(&json!({"init": {"entrypoint": ["/bin/sh", "-c"], "cmd": ["true"]}})).unwrap();
        assert_eq!(split.init.command(), ["/bin/sh", "-c", "true"]);
        assert!(MachineConfig::parse(&json!({"init": {}})).unwrap().init.command().is_empty());
    }

    #[test]
    fn parses_files_with_their_mode() {
        let config = MachineConfig::parse(
            &json!({"files": [{"guest_path": "/mnt/key", "raw_value": "aGk=", "mode": 384}, {"guest_path": "/mnt/s", "secret_name": "S"}]}),
        )
        .unwrap();
        assert_eq!((config.files[0].guest_path.as_str(), config.files[0].mode), ("/mnt/key", Some(384)));
        assert_eq!(config.files[1].secret_name.as_deref(), Some("S"));
    }

    #[test]
    fn rejects_configs_of_the_wrong_shape() {
        assert!(MachineConfig::parse(&json!({"env": ["A=B"]})).is_err());
    }
}
