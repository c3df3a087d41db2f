//! The emulated platform's data: apps and everything they own. It lives in
//! one mutex (see `emulator.rs`); nothing here blocks or awaits.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::config::MachineConfig;
use crate::ids;
use crate::image::{ImageBehaviour, ImageRef};
use crate::lifecycle::Op;
use crate::registry::RegistryLink;
use crate::settings::Settings;

/// Events kept per machine.
const MAX_EVENTS: usize = 100;

#[derive(Debug, Default)]
pub struct State {
    pub apps: BTreeMap<String, App>,
    /// Registered images by exact reference; anything else is a bad image.
    pub images: HashMap<String, ImageBehaviour>,
    /// The registry standing in for registry.fly.io, when a test linked one.
    pub registry: Option<RegistryLink>,
    pub settings: Settings,
    /// Counter for unique addresses across apps.
    pub next_address: u32,
    /// Volume snapshots, oldest first. They outlive their volume (and its
    /// app), as Fly keeps them for their retention days, and restore into
    /// a volume of any app (whether Fly allows a cross-app restore is
    /// unverified, brief §5).
    pub snapshots: Vec<Snapshot>,
    /// App names held by organizations the caller cannot see, with their
    /// org: `GET /v1/apps/{name}` answers 403 for them (fly-go
    /// `AppNameAvailable`, `flaps/flaps_apps.go:92-127`).
    pub foreign_apps: BTreeMap<String, String>,
}

impl State {
    pub fn app(&self, name: &str) -> Option<&App> {
        self.apps.get(name)
    }

    pub fn app_mut(&mut self, name: &str) -> Option<&mut App> {
        self.apps.get_mut(name)
    }

    pub fn machine_mut(&mut self, app: &str, id: &str) -> Option<&mut Machine> {
        self.apps.get_mut(app)?.machine_mut(id)
    }

    /// The volume with `id` in whichever app holds it.
    pub fn any_volume_mut(&mut self, id: &str) -> Option<&mut Volume> {
        self.apps.values_mut().flat_map(|app| app.volumes.iter_mut()).find(|v| v.id == id)
    }

    pub fn next_address(&mut self) -> u32 {
        self.next_address += 1;
        self.next_address
    }
}

#[derive(Debug)]
pub struct App {
    pub id: String,
    pub name: String,
    pub org_slug: String,
    pub network: String,
    pub app_role: String,
    pub created_at: SystemTime,
    /// Until then the app answers 404 (the create's eventual consistency).
    pub visible_from: Instant,
    /// Apps are `pending` until their first machine is created.
    pub had_machine: bool,
    pub machines: Vec<Machine>,
    pub volumes: Vec<Volume>,
    /// The current secrets.
    pub secrets: BTreeMap<String, Secret>,
    pub secrets_version: u64,
    /// Every secrets version since the app was created, oldest first, with
    /// when it was made: machines launched without `min_secrets_version`
    /// get the newest one that has propagated.
    pub secret_versions: Vec<SecretsVersion>,
    pub ips: Vec<IpAssignment>,
    pub releases: Vec<Release>,
    /// The app's release counter: a failed release keeps its number.
    pub release_counter: u64,
    pub certificates: Vec<Certificate>,
}

#[derive(Debug, Clone)]
pub struct SecretsVersion {
    pub version: u64,
    pub secrets: BTreeMap<String, Secret>,
    /// When the version has reached everywhere (`secrets_propagation_ms`
    /// after it was made, as set at the time).
    pub propagated_at: Instant,
}

impl App {
    pub fn new(name: String, org_slug: String, network: String, visible_after: Duration) -> App {
        let now = Instant::now();
        App {
            id: format!("{:016x}", fastrand::u64(..)),
            name,
            org_slug,
            network,
            app_role: String::new(),
            created_at: SystemTime::now(),
            visible_from: now + visible_after,
            had_machine: false,
            machines: Vec::new(),
            volumes: Vec::new(),
            secrets: BTreeMap::new(),
            secrets_version: 0,
            secret_versions: vec![SecretsVersion { version: 0, secrets: BTreeMap::new(), propagated_at: now }],
            ips: Vec::new(),
            releases: Vec::new(),
            release_counter: 0,
            certificates: Vec::new(),
        }
    }

    /// Whether the create has become visible to reads.
    pub fn is_visible(&self) -> bool {
        Instant::now() >= self.visible_from
    }

    /// `pending` until a machine was created; `suspended` when every live
    /// machine is suspended (assumed), else `deployed`. fly-go counts
    /// `deployed` and `suspended` as deployed (`flaps/flaps_apps.go:50-52`).
    pub fn status(&self) -> &'static str {
        if !self.had_machine {
            return "pending";
        }
        let mut live = self.live_machines().peekable();
        if live.peek().is_some() && live.all(|m| m.state == MachineState::Suspended) { "suspended" } else { "deployed" }
    }

    /// Records the current secrets as a new version, which takes
    /// `propagation` to reach everywhere, and returns its number.
    pub fn bump_secrets_version(&mut self, propagation: Duration) -> u64 {
        self.secrets_version += 1;
        self.secret_versions.push(SecretsVersion { version: self.secrets_version, secrets: self.secrets.clone(), propagated_at: Instant::now() + propagation });
        self.secrets_version
    }

    /// The newest secrets version that has reached everywhere.
    pub fn propagated_secrets(&self) -> &SecretsVersion {
        let now = Instant::now();
        self.secret_versions.iter().rev().find(|version| version.propagated_at <= now).unwrap_or(&self.secret_versions[0])
    }

    /// The secrets a reader asking for at least `minimum` sees: the current
    /// ones when it names a newer version than has propagated, else the
    /// propagated ones.
    pub fn secrets_for(&self, minimum: Option<u64>) -> &SecretsVersion {
        let propagated = self.propagated_secrets();
        match minimum {
            Some(minimum) if minimum > propagated.version => self.secret_versions.last().unwrap_or(propagated),
            _ => propagated,
        }
    }

    pub fn machine(&self, id: &str) -> Option<&Machine> {
        self.machines.iter().find(|m| m.id == id)
    }

    pub fn machine_mut(&mut self, id: &str) -> Option<&mut Machine> {
        self.machines.iter_mut().find(|m| m.id == id)
    }

    /// Machines that are not destroyed (nor being destroyed).
    pub fn live_machines(&self) -> impl Iterator<Item = &Machine> {
        self.machines.iter().filter(|m| !m.state.is_gone())
    }

    pub fn volume(&self, id: &str) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.id == id)
    }

    /// The live machine whose config mounts `volume_id`: attachment follows
    /// the configs, so destroying or re-configuring a machine detaches.
    pub fn attached_machine(&self, volume_id: &str) -> Option<&str> {
        self.live_machines().find(|m| m.spec.volume() == Some(volume_id)).map(|m| m.id.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MachineState {
    Created,
    Starting,
    Started,
    Stopping,
    Stopped,
    Replacing,
    Suspending,
    Suspended,
    Destroying,
    Destroyed,
    Failed,
}

impl MachineState {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineState::Created => "created",
            MachineState::Starting => "starting",
            MachineState::Started => "started",
            MachineState::Stopping => "stopping",
            MachineState::Stopped => "stopped",
            MachineState::Replacing => "replacing",
            MachineState::Suspending => "suspending",
            MachineState::Suspended => "suspended",
            MachineState::Destroying => "destroying",
            MachineState::Destroyed => "destroyed",
            MachineState::Failed => "failed",
        }
    }

    /// Destroyed or on its way there: refuses every further mutation.
    pub fn is_gone(self) -> bool {
        matches!(self, MachineState::Destroying | MachineState::Destroyed)
    }

    /// Has (or is about to have) a running process: destroy needs `kill`.
    pub fn is_active(self) -> bool {
        matches!(self, MachineState::Starting | MachineState::Started | MachineState::Stopping | MachineState::Suspending | MachineState::Replacing)
    }
}

#[derive(Debug)]
pub struct Machine {
    pub id: String,
    pub name: String,
    pub region: String,
    pub state: MachineState,
    /// The config as the API echoes it (see `echo.rs`).
    pub config: Value,
    /// The typed view of `config` the emulator acts on.
    pub spec: MachineConfig,
    /// "An identifier for the current running/ready version of the Machine.
    /// Every Update request potentially changes the `instance_id`"
    /// (`docs:machines/api/machines-resource.html.markerb:95`). Leases carry
    /// it as `data.version` (flyctl `internal/machine/lease.go:116-119`) and
    /// `wait?instance_id=` / `?version=` match it.
    pub instance_id: String,
    /// The machine version (`GET …/versions`); a different value from
    /// `instance_id`, also new on every update.
    pub version: String,
    /// `min_secrets_version` of the last create or update.
    pub min_secrets_version: Option<u64>,
    /// The secrets version the running process was started with.
    pub booted_secrets_version: Option<u64>,
    /// What `GET` shows until `Instant` right after an update (the stale
    /// read of brief §14), when `update_stale_read_ms` is set.
    pub stale_view: Option<(Value, Instant)>,
    pub private_ip: String,
    pub image_ref: ImageRef,
    /// Newest first, as Fly returns them (fly-go relies on the order).
    pub events: Vec<Event>,
    /// Newest first.
    pub versions: Vec<MachineVersion>,
    pub checks: Vec<CheckStatus>,
    pub cordoned: bool,
    pub lease: Option<Lease>,
    pub skip_secrets: bool,
    pub created_at: SystemTime,
    /// Monotonic creation time, for the eventual-consistency 404 window.
    pub created: Instant,
    pub updated_at: SystemTime,
    pub process: Option<ProcessInfo>,
    /// Bumped on every process start; check results from older runs are dropped.
    pub run_id: u64,
    /// The machine's lifecycle actor (see `lifecycle.rs`).
    pub ops: UnboundedSender<Op>,
}

/// The running process of a machine.
#[derive(Debug, Clone)]
pub struct ProcessInfo {
    pub pid: u32,
    /// Internal port → loopback port the process listens on.
    pub ports: BTreeMap<u16, u16>,
}

impl Machine {
    /// Records an event; only the newest [`MAX_EVENTS`] are kept, so a
    /// machine in a restart loop does not grow without bound.
    pub fn push_event(&mut self, kind: &'static str, status: &'static str, source: &'static str, request: Value) {
        self.events.insert(0, Event { kind, status, source, timestamp: ids::now_ms(), request });
        self.events.truncate(MAX_EVENTS);
        self.updated_at = SystemTime::now();
    }

    pub fn active_lease(&self) -> Option<&Lease> {
        self.lease.as_ref().filter(|lease| lease.is_active())
    }

    /// Resets every configured check to `critical` with `output`.
    pub fn reset_checks(&mut self, output: &str) {
        self.checks = self.spec.check_plans().into_iter().map(|plan| CheckStatus::critical(plan.name, output)).collect();
    }

    /// True when every configured check passes (vacuously with no checks).
    pub fn checks_passing(&self) -> bool {
        self.checks.iter().all(|check| check.status == CheckState::Passing)
    }

    /// Whether the eventual-consistency window still hides this machine.
    pub fn hidden_by_404_window(&self, settings: &Settings) -> bool {
        self.created.elapsed() < Duration::from_millis(settings.create_404_window_ms)
    }

    /// The pre-update rendering while the stale-read window lasts.
    pub fn stale_view(&self) -> Option<&Value> {
        self.stale_view.as_ref().filter(|(_, until)| Instant::now() < *until).map(|(view, _)| view)
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: &'static str,
    pub status: &'static str,
    pub source: &'static str,
    pub timestamp: i64,
    pub request: Value,
}

impl Event {
    pub fn to_json(&self) -> Value {
        json!({
            "type": self.kind,
            "status": self.status,
            "source": self.source,
            "timestamp": self.timestamp,
            "request": self.request,
        })
    }
}

#[derive(Debug, Clone)]
pub struct MachineVersion {
    pub version: String,
    pub config: Value,
    pub created_at: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    Passing,
    Warning,
    Critical,
}

#[derive(Debug, Clone)]
pub struct CheckStatus {
    pub name: String,
    pub status: CheckState,
    pub output: String,
    pub updated_at: SystemTime,
}

impl CheckStatus {
    pub fn critical(name: String, output: &str) -> CheckStatus {
        CheckStatus { name, status: CheckState::Critical, output: output.to_string(), updated_at: SystemTime::now() }
    }
}

#[derive(Debug, Clone)]
pub struct Lease {
    pub nonce: String,
    pub owner: String,
    pub description: String,
    pub version: String,
    pub expires_at: SystemTime,
}

impl Lease {
    pub fn is_active(&self) -> bool {
        self.expires_at > SystemTime::now()
    }
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub id: String,
    pub name: String,
    pub region: String,
    pub zone: String,
    pub size_gb: u64,
    pub encrypted: bool,
    pub fstype: String,
    pub snapshot_retention: u64,
    pub auto_backup_enabled: bool,
    pub source_volume_id: Option<String>,
    pub created_at: SystemTime,
    /// The bytes "on" the volume: tests put them there through the control
    /// API and read them back to see that a fork or restore carried them.
    pub content: Vec<u8>,
}

/// A point-in-time copy of a volume's size and content. "The state of the
/// new snapshot will go from `waiting` to `running` to `created`"
/// (`docs:volumes/snapshots.html.markerb:58`); the content is the volume's
/// at the moment the snapshot was asked for.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: String,
    pub app: String,
    pub volume_id: String,
    pub size_gb: u64,
    pub content: Vec<u8>,
    pub created_at: SystemTime,
    pub running_from: Instant,
    pub created_from: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotStatus {
    Waiting,
    Running,
    Created,
}

impl SnapshotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SnapshotStatus::Waiting => "waiting",
            SnapshotStatus::Running => "running",
            SnapshotStatus::Created => "created",
        }
    }
}

impl Snapshot {
    pub fn status(&self) -> SnapshotStatus {
        let now = Instant::now();
        if now >= self.created_from {
            SnapshotStatus::Created
        } else if now >= self.running_from {
            SnapshotStatus::Running
        } else {
            SnapshotStatus::Waiting
        }
    }
}

/// A hostname of the app and its certificates. Issuance waits for DNS the
/// emulator cannot see, so a certificate is pending until a test issues it
/// (`POST /_emulator/apps/{app}/certificates/{hostname}/issue`) or, with
/// `certificate_issue_ms` set, until that time has passed.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub hostname: String,
    /// Added through `POST …/acme` (Let's Encrypt issuance requested).
    pub acme_requested: bool,
    /// Imported through `POST …/custom`.
    pub custom: bool,
    /// Validated: by the control API, or by time with `certificate_issue_ms`.
    pub issued: bool,
    pub issue_at: Option<Instant>,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

impl Certificate {
    pub fn is_active(&self) -> bool {
        self.issued || self.issue_at.is_some_and(|at| Instant::now() >= at)
    }
}

#[derive(Debug, Clone)]
pub struct Secret {
    pub value: String,
    pub digest: String,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

#[derive(Debug, Clone)]
pub struct IpAssignment {
    pub ip: String,
    pub region: String,
    pub service_name: String,
    pub shared: bool,
    /// Flycast (`private_v6`) addresses belong to an org network.
    pub network_org: Option<String>,
    pub created_at: SystemTime,
}

#[derive(Debug, Clone)]
pub struct Release {
    pub id: String,
    pub version: u64,
    pub app_name: String,
    pub status: String,
    pub strategy: String,
    pub image: String,
    pub build_id: i64,
    pub definition: Value,
    pub metadata: Value,
    /// Who created it (the caller's owner name).
    pub user: String,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}

impl Release {
    /// flyctl's release statuses after creation (`machines_deploymachinesapp.go:71-119`).
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "complete" | "failed" | "interrupted")
    }
}
