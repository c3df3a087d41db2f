//! `MachineConfig`, kept as the JSON object the API returned.
//!
//! The Machines API has no rollback endpoint, so ferry rolls back by
//! re-applying a machine's saved previous config. A typed struct would drop
//! every field it does not know (new API features, `containers`, `files`,
//! `statics`, fields added next month) and silently change the machine on
//! rollback. So the config *is* its JSON map, and the typed views below
//! (image, env, metadata, services, checks, mounts, guest, init, restart,
//! auto_destroy) read from and write into that map. The typed sub-structs
//! keep their own unknown fields in `extra` as well.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::LAUNCH_ID_METADATA_KEY;
use crate::types::metadata;

/// A machine config (fly-go `MachineConfig`, `machine_types.go` L796-851),
/// stored losslessly.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MachineConfig(Map<String, Value>);

/// A service (`services[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// `tcp` or `udp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Port the app listens on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<u16>,
    /// `off`/`stop`/`suspend`, or a bool in older configs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostop: Option<Value>,
    /// Start on incoming traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autostart: Option<bool>,
    /// Machines autostop leaves running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_machines_running: Option<u32>,
    /// Public ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Service health checks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// Fields not modelled here (concurrency, force_instance_key…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A public port of a service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Port {
    /// The port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// First port of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_port: Option<u16>,
    /// Last port of a range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<u16>,
    /// `http`, `tls`, `proxy_proto`…
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handlers: Vec<String>,
    /// Fields not modelled here (force_https, tls_options…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A health check (`checks.{name}` or `services[].checks[]`). Durations are
/// Go duration strings (`"15s"`), as fly-go marshals them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `tcp` or `http`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Port to probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Time between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Probe timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Wait after start before probing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<String>,
    /// HTTP method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// HTTP path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Fields not modelled here (headers, protocol, tls_skip_verify…).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A volume mount (`mounts[]`; one per machine).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Mount {
    /// Volume id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// Mount path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Volume name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Auto-extend when this full (percent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_threshold_percent: Option<u32>,
    /// Auto-extend step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add_size_gb: Option<u32>,
    /// Auto-extend ceiling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gb_limit: Option<u32>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The VM size (`guest`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Guest {
    /// `shared` or `performance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_kind: Option<String>,
    /// CPU count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// GPU count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
    /// GPU model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_kind: Option<String>,
    /// Dedicated host group; changing it forces a replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_dedication_id: Option<String>,
    /// Kernel arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernel_args: Vec<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Process start (`init`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Init {
    /// Replace the image's entrypoint and command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<Vec<String>>,
    /// Override the entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Override the command (the release command goes here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Allocate a TTY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<bool>,
    /// Swap size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_size_mb: Option<u32>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Restart policy (`restart`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Restart {
    /// `no`, `always` or `on-failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Retries for `on-failure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MachineConfig {
    /// An empty config.
    pub fn new() -> Self {
        MachineConfig::default()
    }

    /// Wraps a JSON object.
    pub fn from_map(map: Map<String, Value>) -> Self {
        MachineConfig(map)
    }

    /// The JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The JSON object, for edits the typed views do not cover.
    pub fn as_map_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// Unwraps the JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The image.
    pub fn image(&self) -> Option<&str> {
        self.0.get("image").and_then(Value::as_str)
    }

    /// Sets the image.
    pub fn set_image(&mut self, image: impl Into<String>) {
        self.0.insert("image".into(), Value::String(image.into()));
    }

    /// Environment variables (non-string values are skipped: the API only
    /// accepts strings).
    pub fn env(&self) -> BTreeMap<String, String> {
        string_map(self.0.get("env"))
    }

    /// Sets one environment variable.
    pub fn set_env(&mut self, name: impl Into<String>, value: impl Into<String>) {
        object_entry(&mut self.0, "env").insert(name.into(), Value::String(value.into()));
    }

    /// Metadata (non-string values skipped).
    pub fn metadata(&self) -> BTreeMap<String, String> {
        string_map(self.0.get("metadata"))
    }

    /// One metadata value.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.0.get("metadata")?.get(key)?.as_str()
    }

    /// Sets one metadata value.
    pub fn set_metadata(&mut self, key: impl Into<String>, value: impl Into<String>) {
        object_entry(&mut self.0, "metadata").insert(key.into(), Value::String(value.into()));
    }

    /// Removes one metadata value, returning it.
    pub fn remove_metadata(&mut self, key: &str) -> Option<Value> {
        self.0.get_mut("metadata")?.as_object_mut()?.remove(key)
    }

    /// The process group: `fly_process_group`, else the legacy
    /// `process_group` (fly-go `ProcessGroup`).
    pub fn process_group(&self) -> Option<&str> {
        self.metadata_value(metadata::PROCESS_GROUP).filter(|g| !g.is_empty()).or_else(|| self.metadata_value(metadata::LEGACY_PROCESS_GROUP))
    }

    /// Services.
    pub fn services(&self) -> Result<Vec<Service>, serde_json::Error> {
        Ok(self.typed("services")?.unwrap_or_default())
    }

    /// Replaces the services.
    pub fn set_services(&mut self, services: &[Service]) {
        self.set_typed("services", &services);
    }

    /// Top-level checks by name.
    pub fn checks(&self) -> Result<BTreeMap<String, Check>, serde_json::Error> {
        Ok(self.typed("checks")?.unwrap_or_default())
    }

    /// Replaces the top-level checks.
    pub fn set_checks(&mut self, checks: &BTreeMap<String, Check>) {
        self.set_typed("checks", checks);
    }

    /// Mounts.
    pub fn mounts(&self) -> Result<Vec<Mount>, serde_json::Error> {
        Ok(self.typed("mounts")?.unwrap_or_default())
    }

    /// Replaces the mounts.
    pub fn set_mounts(&mut self, mounts: &[Mount]) {
        self.set_typed("mounts", &mounts);
    }

    /// The guest (VM size).
    pub fn guest(&self) -> Result<Option<Guest>, serde_json::Error> {
        self.typed("guest")
    }

    /// Sets the guest.
    pub fn set_guest(&mut self, guest: &Guest) {
        self.set_typed("guest", guest);
    }

    /// The init overrides.
    pub fn init(&self) -> Result<Option<Init>, serde_json::Error> {
        self.typed("init")
    }

    /// Sets the init overrides.
    pub fn set_init(&mut self, init: &Init) {
        self.set_typed("init", init);
    }

    /// The restart policy.
    pub fn restart(&self) -> Result<Option<Restart>, serde_json::Error> {
        self.typed("restart")
    }

    /// Sets the restart policy.
    pub fn set_restart(&mut self, restart: &Restart) {
        self.set_typed("restart", restart);
    }

    /// Whether the machine destroys itself when it exits.
    pub fn auto_destroy(&self) -> bool {
        self.0.get("auto_destroy").and_then(Value::as_bool).unwrap_or(false)
    }

    /// Sets `auto_destroy`.
    pub fn set_auto_destroy(&mut self, auto_destroy: bool) {
        self.0.insert("auto_destroy".into(), Value::Bool(auto_destroy));
    }

    /// How many health checks are configured: top-level `checks` plus every
    /// `services[].checks` (what flyctl's `WaitForHealthchecksToPass`
    /// counts). Reads the raw JSON, so it works on any config.
    pub fn configured_check_count(&self) -> usize {
        let top = self.0.get("checks").and_then(Value::as_object).map_or(0, Map::len);
        let services = self
            .0
            .get("services")
            .and_then(Value::as_array)
            .map_or(0, |services| services.iter().map(|s| s.get("checks").and_then(Value::as_array).map_or(0, Vec::len)).sum());
        top + services
    }

    /// Whether the two configs would run the same machine, like flyctl's
    /// `compareConfigs` (plan.go L549-584), used to skip no-op updates:
    ///
    /// * metadata `fly_flyctl_version` is ignored (it changes with every
    ///   flyctl release), and so is [`LAUNCH_ID_METADATA_KEY`] (it names a
    ///   launch, not a configuration);
    /// * `null`, a missing field, `[]` and `{}` are equal, at any depth
    ///   (Go decodes them all to the same zero value).
    pub fn same_as(&self, other: &MachineConfig) -> bool {
        self.comparable() == other.comparable()
    }

    fn comparable(&self) -> Option<Value> {
        let mut map = self.0.clone();
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove(metadata::FLYCTL_VERSION);
            meta.remove(LAUNCH_ID_METADATA_KEY);
        }
        normalized(&Value::Object(map))
    }

    fn typed<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, serde_json::Error> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::deserialize(value).map(Some),
        }
    }

    fn set_typed<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        // The typed views have string keys only, so this cannot fail.
        let value = serde_json::to_value(value).expect("config sections serialize to JSON");
        self.0.insert(key.to_owned(), value);
    }
}

/// `None` for "empty" (null, `[]`, `{}`, or an object whose fields are all
/// empty), otherwise the value with empty fields dropped.
fn normalized(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => Some(Value::Array(items.iter().map(|v| normalized(v).unwrap_or(Value::Null)).collect())),
        Value::Object(map) => {
            let kept: Map<String, Value> = map.iter().filter_map(|(k, v)| normalized(v).map(|v| (k.clone(), v))).collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        scalar => Some(scalar.clone()),
    }
}

fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value.and_then(Value::as_object).map(|map| map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect()).unwrap_or_default()
}

/// The object at `key`, created (or replacing a non-object) as needed.
fn object_entry<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = map.entry(key.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(object) => object,
        _ => unreachable!("just made an object"),
    }
}
