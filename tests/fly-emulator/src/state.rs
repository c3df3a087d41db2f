//! The emulated platform's data: apps and everything they own. It lives in
//! one mutex (see `emulator.rs`); nothing here blocks or awaits.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use crate::config::MachineConfig;
use crate::ids;
use crate::image::{ImageBehaviour, ImageRef};
use crate::lifecycle::Op;

/// Events kept per machine.
const MAX_EVENTS: usize = 100;

#[derive(Debug, Default)]
pub struct State {
    pub apps: BTreeMap<String, App>,
    /// Registered images by exact reference; anything else is a bad image.
    pub images: HashMap<String, ImageBehaviour>,
    pub settings: Settings,
    /// Counter for unique addresses across apps.
    pub next_address: u32,
    /// Volume snapshots, oldest first. They outlive their volume (and its
    /// app), as Fly keeps them for their retention days, and restore into
    /// a volume of any app.
    pub snapshots: Vec<Snapshot>,
}

/// Knobs for the API's quirks, set through `POST /_emulator/settings`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long a just-created machine answers 404 on `GET` and `wait`.
    pub create_404_window_ms: u64,
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
        self.apps
            .values_mut()
            .flat_map(|app| app.volumes.iter_mut())
            .find(|v| v.id == id)
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
    pub created_at: SystemTime,
    /// Apps are `pending` until their first machine is created.
    pub had_machine: bool,
    pub machines: Vec<Machine>,
    pub volumes: Vec<Volume>,
    pub secrets: BTreeMap<String, Secret>,
    pub secrets_version: u64,
    pub ips: Vec<IpAssignment>,
    pub releases: Vec<Release>,
    pub certificates: Vec<Certificate>,
}

impl App {
    pub fn new(name: String, org_slug: String, network: String) -> App {
        App {
            id: format!("{:016x}", fastrand::u64(..)),
            name,
            org_slug,
            network,
            created_at: SystemTime::now(),
            had_machine: false,
            machines: Vec::new(),
            volumes: Vec::new(),
            secrets: BTreeMap::new(),
            secrets_version: 0,
            ips: Vec::new(),
            releases: Vec::new(),
            certificates: Vec::new(),
        }
    }

    pub fn status(&self) -> &'static str {
        if self.had_machine {
            "deployed"
        } else {
            "pending"
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
        self.live_machines()
            .find(|m| m.spec.volume() == Some(volume_id))
            .map(|m| m.id.as_str())
    }

    pub fn secret_env(&self) -> impl Iterator<Item = (&String, &String)> {
        self.secrets
            .iter()
            .map(|(name, secret)| (name, &secret.value))
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
        matches!(
            self,
            MachineState::Starting
                | MachineState::Started
                | MachineState::Stopping
                | MachineState::Replacing
        )
    }
}

#[derive(Debug)]
pub struct Machine {
    pub id: String,
    pub name: String,
    pub region: String,
    pub state: MachineState,
    /// The config exactly as the client sent it.
    pub config: Value,
    /// The typed view of `config` the emulator acts on.
    pub spec: MachineConfig,
    /// Changes on every update; also the instance id.
    pub version: String,
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
    pub fn push_event(
        &mut self,
        kind: &'static str,
        status: &'static str,
        source: &'static str,
        request: Value,
    ) {
        self.events.insert(
            0,
            Event {
                kind,
                status,
                source,
                timestamp: ids::now_ms(),
                request,
            },
        );
        self.events.truncate(MAX_EVENTS);
        self.updated_at = SystemTime::now();
    }

    pub fn active_lease(&self) -> Option<&Lease> {
        self.lease.as_ref().filter(|lease| lease.is_active())
    }

    /// Resets every configured check to `critical` with `output`.
    pub fn reset_checks(&mut self, output: &str) {
        self.checks = self
            .spec
            .check_plans()
            .into_iter()
            .map(|plan| CheckStatus::critical(plan.name, output))
            .collect();
    }

    /// True when every configured check passes (vacuously with no checks).
    pub fn checks_passing(&self) -> bool {
        self.checks
            .iter()
            .all(|check| check.status == CheckState::Passing)
    }

    /// Whether the eventual-consistency window still hides this machine.
    pub fn hidden_by_404_window(&self, settings: &Settings) -> bool {
        self.created.elapsed() < Duration::from_millis(settings.create_404_window_ms)
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
        CheckStatus {
            name,
            status: CheckState::Critical,
            output: output.to_string(),
            updated_at: SystemTime::now(),
        }
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

/// A point-in-time copy of a volume's size and content.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: String,
    pub app: String,
    pub volume_id: String,
    pub size_gb: u64,
    pub content: Vec<u8>,
    pub created_at: SystemTime,
}

/// A custom-domain certificate. Issuance waits for DNS the emulator cannot
/// see, so it stays "Awaiting configuration" until a test says it is
/// issued (`POST /_emulator/apps/{app}/certificates/{hostname}/issue`).
#[derive(Debug, Clone)]
pub struct Certificate {
    pub hostname: String,
    pub issued: bool,
    pub created_at: SystemTime,
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
    pub definition: Value,
    pub metadata: Value,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
}
