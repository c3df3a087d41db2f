//! Wire types of the Machines API (fly-go `machine_types.go`,
//! `volume_types.go`, `flaps/*.go`). Fields the API may send as `null` are
//! read as their default, so a sparse or partial answer (an unreachable host
//! returns `incomplete_config`) still decodes.
//!
//! [`crate::MachineConfig`] lives in its own module: it must round-trip
//! losslessly.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::machine_config::MachineConfig;

/// Metadata keys and values flyctl writes and reads, shared with the deploy
/// planner (fly-go `machine_types.go` L15-27). Writing the same keys keeps
/// `fly deploy` and the dashboard working on machines ferry deployed.
pub use ferry_fly_wire::metadata;

/// Reads `null` as the type's default (serde's `default` only covers a
/// missing field).
pub(crate) fn null_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// An app (`GET /v1/apps/{app}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct App {
    /// Internal id.
    #[serde(default, deserialize_with = "null_default")]
    pub id: String,
    /// App name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `pending`, `deployed`, `suspended`…
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// Owning organization.
    #[serde(default)]
    pub organization: Option<Organization>,
    /// Machines in the app.
    #[serde(default, deserialize_with = "null_default")]
    pub machine_count: i64,
    /// Volumes in the app.
    #[serde(default, deserialize_with = "null_default")]
    pub volume_count: i64,
    /// 6PN network name.
    #[serde(default, deserialize_with = "null_default")]
    pub network: String,
    /// A role such as `postgres_cluster`.
    #[serde(default, deserialize_with = "null_default")]
    pub app_role: String,
}

impl App {
    /// Whether the app counts as deployed (fly-go `flaps_apps.go` L50-52):
    /// a first deploy is one where this is false and there are no machines.
    pub fn is_deployed(&self) -> bool {
        self.status == "deployed" || self.status == "suspended"
    }
}

/// An organization reference.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Display name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Slug (`personal`, …).
    #[serde(default, deserialize_with = "null_default")]
    pub slug: String,
}

/// A machine (`GET /v1/apps/{app}/machines/{id}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Machine id.
    pub id: String,
    /// Machine name.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `created`, `started`, `stopped`, `destroyed`…
    #[serde(default, deserialize_with = "null_default")]
    pub state: String,
    /// Region code.
    #[serde(default, deserialize_with = "null_default")]
    pub region: String,
    /// Unique per machine version.
    #[serde(default, deserialize_with = "null_default")]
    pub instance_id: String,
    /// Machine version (what `wait?version=` takes).
    #[serde(default, deserialize_with = "null_default")]
    pub version: String,
    /// 6PN address.
    #[serde(default, deserialize_with = "null_default")]
    pub private_ip: String,
    /// The config. Absent when the host is unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<MachineConfig>,
    /// A partial config rebuilt by the API when `host_status` is not `ok`;
    /// not suitable to recreate the machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete_config: Option<MachineConfig>,
    /// The image actually running, with its digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_ref: Option<ImageRef>,
    /// Recent events, newest first.
    #[serde(default, deserialize_with = "null_default")]
    pub events: Vec<Event>,
    /// Health check results.
    #[serde(default, deserialize_with = "null_default")]
    pub checks: Vec<CheckStatus>,
    /// Lease nonce, when created with `lease_ttl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `ok`, `unknown` or `unreachable`.
    #[serde(default, deserialize_with = "null_default")]
    pub host_status: String,
    /// Cordoned machines get no proxy traffic.
    #[serde(default, deserialize_with = "null_default")]
    pub cordoned: bool,
    /// RFC 3339 creation time.
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: String,
    /// RFC 3339 update time.
    #[serde(default, deserialize_with = "null_default")]
    pub updated_at: String,
}

impl Machine {
    /// The config, or the partial one when the host is unreachable (fly-go
    /// `GetConfig`).
    pub fn config(&self) -> Option<&MachineConfig> {
        self.config.as_ref().or(self.incomplete_config.as_ref())
    }

    /// One metadata value.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.config()?.metadata_value(key)
    }

    /// The process group, falling back to the legacy key.
    pub fn process_group(&self) -> Option<&str> {
        self.config()?.process_group()
    }

    /// Not destroyed or being destroyed.
    pub fn is_active(&self) -> bool {
        self.state != "destroyed" && self.state != "destroying"
    }

    /// Managed by Fly Launch (`fly_platform_version=v2`) and active: the
    /// machines `fly deploy` would touch (fly-go `IsFlyAppsPlatform`).
    pub fn is_fly_launch_managed(&self) -> bool {
        self.is_active() && self.metadata_value(metadata::PLATFORM_VERSION) == Some(metadata::PLATFORM_V2)
    }

    /// A release-command machine (also the legacy `process_group=release_command`).
    pub fn is_release_command(&self) -> bool {
        self.process_group() == Some(metadata::RELEASE_COMMAND_GROUP) || self.metadata_value(metadata::LEGACY_PROCESS_GROUP) == Some("release_command")
    }

    /// A `fly console` machine.
    pub fn is_console(&self) -> bool {
        self.process_group() == Some(metadata::CONSOLE_GROUP)
    }

    /// Whether the host answers; when not, the machine cannot be leased,
    /// stopped or updated, only replaced or force-destroyed.
    pub fn host_is_ok(&self) -> bool {
        self.host_status.is_empty() || self.host_status == "ok"
    }

    /// The exit code of the last run (see [`last_exit_after_start`]).
    pub fn exit_code(&self) -> Option<i64> {
        last_exit_after_start(&self.events).and_then(Event::exit_code)
    }
}

/// The image reference of a running machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    /// Registry host.
    #[serde(default, deserialize_with = "null_default")]
    pub registry: String,
    /// Repository.
    #[serde(default, deserialize_with = "null_default")]
    pub repository: String,
    /// Tag.
    #[serde(default, deserialize_with = "null_default")]
    pub tag: String,
    /// Content digest; pin this to roll back to exactly this image.
    #[serde(default, deserialize_with = "null_default")]
    pub digest: String,
    /// Image labels.
    #[serde(default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
}

/// A machine event (`launch`, `start`, `exit`, `update`…).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Event id, when the API sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The event type.
    #[serde(rename = "type", default, deserialize_with = "null_default")]
    pub kind: String,
    /// Status, e.g. `started`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// `flyd` or `user`.
    #[serde(default, deserialize_with = "null_default")]
    pub source: String,
    /// Unix milliseconds.
    #[serde(default, deserialize_with = "null_default")]
    pub timestamp: i64,
    /// Event details, kept as JSON (its shape varies by event type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
}

impl Event {
    /// The exit event inside `request`: `request.MonitorEvent.exit_event`,
    /// falling back to `request.exit_event` (fly-go `machine_types.go`
    /// L305-321, `GetExitCode`).
    fn exit_event(&self) -> Option<&Value> {
        let request = self.request.as_ref()?;
        request.get("MonitorEvent").and_then(|m| m.get("exit_event")).filter(|e| e.is_object()).or_else(|| request.get("exit_event").filter(|e| e.is_object()))
    }

    /// The exit code this event reports, if it is an exit.
    pub fn exit_code(&self) -> Option<i64> {
        // fly-go's ExitCode is `omitempty`: a present exit event without
        // `exit_code` means 0.
        self.exit_event().map(|e| e.get("exit_code").and_then(Value::as_i64).unwrap_or(0))
    }

    /// Whether this exit was requested (a stop, an update), as opposed to
    /// the process exiting or crashing on its own.
    pub fn requested_stop(&self) -> bool {
        self.exit_event().and_then(|e| e.get("requested_stop")).and_then(Value::as_bool).unwrap_or(false)
    }
}

/// The last `exit` event after the last `start` (fly-go
/// `GetLatestEventOfTypeAfterType("exit", "start")`), which is how flyctl
/// reads a release command's result. Events are ordered newest first by
/// timestamp (the API's order breaks ties); `None` when the machine has no
/// start event or has not exited since.
pub fn last_exit_after_start(events: &[Event]) -> Option<&Event> {
    let mut ordered: Vec<&Event> = events.iter().collect();
    ordered.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
    let start = ordered.iter().position(|e| e.kind == "start")?;
    ordered[..start].iter().find(|e| e.kind == "exit").copied()
}

/// One health check result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckStatus {
    /// Check name (`servicecheck-00-http-8080` for service checks).
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `passing`, `warning` or `critical`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// The check's last output (the useful part of a failure).
    #[serde(default, deserialize_with = "null_default")]
    pub output: String,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

impl CheckStatus {
    /// Whether the check passes.
    pub fn is_passing(&self) -> bool {
        self.status == "passing"
    }
}

/// A create or update request (fly-go `LaunchMachineInput`,
/// `machine_types.go` L1127-1143).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchInput {
    /// The machine config.
    pub config: MachineConfig,
    /// Region (create only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Machine name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Create (or update) without starting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_launch: bool,
    /// Do not register services with the proxy (bluegreen greens, canaries).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_service_registration: bool,
    /// Do not inject app secrets.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_secrets: bool,
    /// Only start once secrets of at least this version are available; use
    /// the version returned by [`crate::FlyClient::update_secrets`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_secrets_version: Option<u64>,
    /// Seconds: the create returns with a lease already held
    /// ([`Machine::nonce`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ttl: Option<u64>,
}

/// `POST …/stop` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StopInput {
    /// `SIGINT`, `SIGTERM`…; the machine's `stop_config` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Grace period before the machine is killed.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "go_duration")]
    pub timeout: Option<Duration>,
}

/// Formats a duration as Go's `time.Duration.String()` (`10s`, `1m30s`,
/// `1.5s`), which is how fly-go's `Duration` marshals.
fn go_duration<S: Serializer>(d: &Option<Duration>, ser: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser.serialize_str(&ferry_fly_wire::duration::format_ns(d.as_nanos())),
        None => ser.serialize_none(),
    }
}

/// A lease (`POST …/lease`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// `success` when granted.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// The lease itself.
    #[serde(default)]
    pub data: Option<LeaseData>,
    /// Error or info text.
    #[serde(default, deserialize_with = "null_default")]
    pub message: String,
    /// Error code.
    #[serde(default, deserialize_with = "null_default")]
    pub code: String,
}

/// The granted lease.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseData {
    /// Send as `fly-machine-lease-nonce` on mutations.
    #[serde(default, deserialize_with = "null_default")]
    pub nonce: String,
    /// Unix seconds.
    #[serde(default, deserialize_with = "null_default")]
    pub expires_at: i64,
    /// Who holds it (an email or token id).
    #[serde(default, deserialize_with = "null_default")]
    pub owner: String,
    /// Machine version when leased.
    #[serde(default, deserialize_with = "null_default")]
    pub version: String,
    /// What the holder said it was doing.
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
}

/// A volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    /// `vol_…`.
    pub id: String,
    /// Name (what `[mounts] source` refers to).
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// `created`, `hydrating`, `pending_destroy`…
    #[serde(default, deserialize_with = "null_default")]
    pub state: String,
    /// Size.
    #[serde(default, deserialize_with = "null_default")]
    pub size_gb: u64,
    /// Region.
    #[serde(default, deserialize_with = "null_default")]
    pub region: String,
    /// Availability zone (the host group).
    #[serde(default, deserialize_with = "null_default")]
    pub zone: String,
    /// Encrypted at rest.
    #[serde(default, deserialize_with = "null_default")]
    pub encrypted: bool,
    /// The machine it is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_machine_id: Option<String>,
    /// Legacy (Nomad) attachment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_alloc_id: Option<String>,
    /// `ok`, `unknown`, `unreachable`.
    #[serde(default, deserialize_with = "null_default")]
    pub host_status: String,
    /// Days of snapshots kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_retention: Option<u32>,
    /// Daily snapshots on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_backup_enabled: Option<bool>,
    /// Filesystem type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fstype: Option<String>,
    /// RFC 3339 creation time.
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: String,
}

/// `POST /v1/apps/{app}/volumes` (fly-go `volume_types.go`). Set
/// `source_volume_id` to fork a volume, `snapshot_id` to restore one.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CreateVolumeRequest {
    /// Volume name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Size (a fork defaults to the source's size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_gb: Option<u64>,
    /// Encrypt at rest (the API's default is true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Place in a zone without another volume of this name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_unique_zone: Option<bool>,
    /// Apply the unique-zone rule across the app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unique_zone_app_wide: Option<bool>,
    /// Days of snapshots to keep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_retention: Option<u32>,
    /// Daily snapshots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_backup_enabled: Option<bool>,
    /// Filesystem type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fstype: Option<String>,
    /// Restore from this snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// Fork this volume. Across hosts or regions this can fail with "is not
    /// a valid candidate" (no room on that worker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_volume_id: Option<String>,
    /// The guest of the machine that will mount it, to place the volume
    /// where that machine fits (flyctl `deploy_first.go`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute: Option<Value>,
    /// The image that machine will run, for the same reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compute_image: Option<String>,
}

/// The answer to a volume extend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ExtendedVolume {
    /// The volume after the change.
    pub volume: Volume,
    /// The attached machine must restart to see the new size.
    #[serde(default, deserialize_with = "null_default")]
    pub needs_restart: bool,
}

/// An IP address of an app.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IpAssignment {
    /// The address.
    #[serde(default, deserialize_with = "null_default")]
    pub ip: String,
    /// Region (`global` for anycast).
    #[serde(default, deserialize_with = "null_default")]
    pub region: String,
    /// Service name, when scoped to one.
    #[serde(default, deserialize_with = "null_default")]
    pub service_name: String,
    /// A shared IPv4.
    #[serde(default, deserialize_with = "null_default")]
    pub shared: bool,
    /// An egress address.
    #[serde(default, deserialize_with = "null_default")]
    pub egress: bool,
    /// RFC 3339 allocation time.
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: String,
    /// Network of a Flycast (`private_v6`) address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Value>,
}

/// Kinds of address to allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpType {
    /// Dedicated IPv4.
    V4,
    /// Dedicated IPv6.
    V6,
    /// Shared anycast IPv4 (HTTP/TLS only).
    SharedV4,
    /// Flycast (private IPv6 on the org network).
    PrivateV6,
}

/// `POST /v1/apps/{app}/ip_assignments` body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AllocateIp {
    /// What to allocate.
    #[serde(rename = "type")]
    pub kind: IpType,
    /// Region, for regional addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Organization (Flycast).
    #[serde(rename = "org_slug", skip_serializing_if = "Option::is_none")]
    pub org_slug: Option<String>,
    /// Network (Flycast).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Scope to one service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
}

impl AllocateIp {
    /// An allocation of `kind` with no other options.
    pub fn new(kind: IpType) -> Self {
        AllocateIp { kind, region: None, org_slug: None, network: None, service_name: None }
    }
}

/// A secret's name and digest. The value is never read: the listing is
/// requested without `show_secrets` and this type has no field for it, so a
/// value cannot be logged or serialized by mistake.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    /// Secret name (the env var).
    pub name: String,
    /// Digest of the value: compare to see whether it changed.
    #[serde(default, deserialize_with = "null_default")]
    pub digest: String,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339 update time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// The result of a bulk secrets update.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct SecretsUpdate {
    /// The new secrets version: pass it as
    /// [`LaunchInput::min_secrets_version`] so new machines see the change.
    #[serde(default, deserialize_with = "null_default")]
    pub version: u64,
    /// Names and digests after the update.
    #[serde(default, deserialize_with = "null_default")]
    pub secrets: Vec<Secret>,
}

/// A previous version of a machine (`GET …/versions`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct MachineVersion {
    /// The version id.
    #[serde(default, deserialize_with = "null_default")]
    pub version: String,
    /// The config of that version.
    #[serde(default)]
    pub user_config: Option<MachineConfig>,
}

/// A process inside a machine (`GET …/ps`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ProcessStat {
    /// PID.
    #[serde(default, deserialize_with = "null_default")]
    pub pid: i64,
    /// Command line.
    #[serde(default, deserialize_with = "null_default")]
    pub command: String,
    /// Working directory.
    #[serde(default, deserialize_with = "null_default")]
    pub directory: String,
    /// Resident memory, bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub rss: u64,
    /// Sockets it listens on; flyctl warns when none is `0.0.0.0:<internal_port>`.
    #[serde(default, deserialize_with = "null_default")]
    pub listen_sockets: Vec<ListenSocket>,
}

/// A listening socket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ListenSocket {
    /// `tcp` or `udp`.
    #[serde(default, deserialize_with = "null_default")]
    pub proto: String,
    /// `address:port`.
    #[serde(default, deserialize_with = "null_default")]
    pub address: String,
}
