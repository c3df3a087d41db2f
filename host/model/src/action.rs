//! Actions: the only way a step can ask for a change. Mirrors `types.wit`.

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

/// What an action can cost if it goes wrong. Ordered from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    #[component(name = "safe")]
    Safe,
    #[component(name = "disruptive")]
    Disruptive,
    #[component(name = "destructive")]
    Destructive,
    #[component(name = "irreversible")]
    Irreversible,
}

impl Risk {
    pub const ALL: [Risk; 4] = [Risk::Safe, Risk::Disruptive, Risk::Destructive, Risk::Irreversible];

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Safe => "safe",
            Risk::Disruptive => "disruptive",
            Risk::Destructive => "destructive",
            Risk::Irreversible => "irreversible",
        }
    }
}

/// A change to one key of a TOML file in the checkout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ConfigEdit {
    pub file: String,
    pub key: String,
    /// A TOML literal; `None` removes the key.
    pub value: Option<String>,
}

/// A whole file of the checkout, written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FileWrite {
    pub file: String,
    pub contents: String,
}

use crate::vm::{VmContainer, VmContainers, VmEnvFile, VmFile, VmImage, VmLock, VmNetwork, VmPackages, VmPaths, VmSecret};

/// What the host knows how to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    #[component(name = "edit-config")]
    EditConfig(ConfigEdit),
    #[component(name = "approval")]
    Approval(String),
    #[component(name = "wait-ms")]
    WaitMs(u64),
    #[component(name = "fly-release-command")]
    FlyReleaseCommand(FlyReleaseCommand),
    #[component(name = "fly-create-machines")]
    FlyCreateMachines(FlyMachines),
    #[component(name = "fly-update-machines")]
    FlyUpdateMachines(FlyMachines),
    #[component(name = "fly-destroy-machines")]
    FlyDestroyMachines(FlyMachineRefs),
    #[component(name = "fly-stop-machines")]
    FlyStopMachines(FlyMachineRefs),
    #[component(name = "fly-start-machines")]
    FlyStartMachines(FlyMachineRefs),
    #[component(name = "fly-cordon")]
    FlyCordon(FlyMachineRefs),
    #[component(name = "fly-uncordon")]
    FlyUncordon(FlyMachineRefs),
    #[component(name = "fly-set-metadata")]
    FlySetMetadata(FlyMetadata),
    #[component(name = "fly-create-volume")]
    FlyCreateVolume(FlyVolume),
    #[component(name = "fly-allocate-ip")]
    FlyAllocateIp(FlyIp),
    #[component(name = "fly-create-app")]
    FlyCreateApp(FlyApp),
    #[component(name = "fly-destroy-app")]
    FlyDestroyApp(String),
    #[component(name = "fly-set-secrets")]
    FlySetSecrets(FlySecrets),
    #[component(name = "fly-add-certificate")]
    FlyAddCertificate(FlyCertificate),
    #[component(name = "fly-copy-volume")]
    FlyCopyVolume(FlyVolumeCopy),
    #[component(name = "fly-create-release")]
    FlyCreateRelease(FlyRelease),
    #[component(name = "fly-complete-release")]
    FlyCompleteRelease(String),
    #[component(name = "fly-wait-certificate")]
    FlyWaitCertificate(FlyCertificateWait),
    #[component(name = "dns-change")]
    DnsChange(DnsChange),
    #[component(name = "tls-check")]
    TlsCheck(TlsCheck),
    #[component(name = "dns-verify")]
    DnsVerify(DnsVerify),
    #[component(name = "pg-freeze")]
    PgFreeze(String),
    #[component(name = "pg-dump-restore")]
    PgDumpRestore(PgCopy),
    #[component(name = "pg-copy-schema")]
    PgCopySchema(String),
    #[component(name = "pg-replica-identity-full")]
    PgReplicaIdentityFull(PgTable),
    #[component(name = "pg-subscribe")]
    PgSubscribe(PgLogical),
    #[component(name = "pg-catch-up")]
    PgCatchUp(PgLogical),
    #[component(name = "pg-finish-logical")]
    PgFinishLogical(PgLogical),
    #[component(name = "pg-verify")]
    PgVerify(PgVerify),
    #[component(name = "volume-sync")]
    VolumeSync(VolumeSync),
    #[component(name = "sqlite-copy")]
    SqliteCopy(SqliteCopy),
    #[component(name = "volume-verify")]
    VolumeVerify(VolumeVerify),
    #[component(name = "write-file")]
    WriteFile(FileWrite),
    #[component(name = "vm-lock")]
    VmLock(VmLock),
    #[component(name = "vm-unlock")]
    VmUnlock(VmLock),
    #[component(name = "vm-install-packages")]
    VmInstallPackages(VmPackages),
    #[component(name = "vm-mkdir")]
    VmMkdir(VmPaths),
    #[component(name = "vm-network")]
    VmNetwork(VmNetwork),
    #[component(name = "vm-write-file")]
    VmWriteFile(VmFile),
    #[component(name = "vm-env-file")]
    VmEnvFile(VmEnvFile),
    #[component(name = "vm-secret")]
    VmSecret(VmSecret),
    #[component(name = "vm-image")]
    VmImage(VmImage),
    #[component(name = "vm-release-command")]
    VmReleaseCommand(VmContainer),
    #[component(name = "vm-run")]
    VmRun(VmContainer),
    #[component(name = "vm-stop")]
    VmStop(VmContainers),
    #[component(name = "vm-remove")]
    VmRemove(VmContainers),
}

/// A DNS record set: every value of one name and type, with its TTL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct DnsRrset {
    pub name: String,
    pub rtype: String,
    pub ttl: u32,
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct DnsChange {
    pub zone: String,
    pub expected: Option<DnsRrset>,
    pub new: Option<DnsRrset>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct TlsCheck {
    pub address: String,
    #[component(name = "server-name")]
    pub server_name: String,
    #[component(name = "min-days-left")]
    pub min_days_left: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct DnsVerify {
    pub zone: String,
    pub expected: DnsRrset,
    #[component(name = "previous-ttl")]
    pub previous_ttl: u32,
    #[component(name = "timeout-ms")]
    pub timeout_ms: u64,
}

/// One Fly Machine as a deploy wants it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyMachine {
    pub id: Option<String>,
    #[component(name = "launch-id")]
    pub launch_id: Option<String>,
    pub name: Option<String>,
    pub region: String,
    pub group: String,
    /// The Machines API `MachineConfig`, as JSON.
    pub config: String,
    #[component(name = "skip-launch")]
    pub skip_launch: bool,
    #[component(name = "skip-service-registration")]
    pub skip_service_registration: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyWait {
    pub health: bool,
    #[component(name = "timeout-ms")]
    pub timeout_ms: u64,
    /// flyctl's smoke check: how long after the change a started machine
    /// must stay up without an unrequested exit; 0 for none. Plans written
    /// before the field existed read as 0.
    #[component(name = "smoke-check-ms")]
    #[serde(default)]
    pub smoke_check_ms: u64,
    /// `--deploy-retries`: further tries of a machine whose update or wait
    /// failed before the batch fails.
    #[serde(default)]
    pub retries: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyMachines {
    pub app: String,
    pub machines: Vec<FlyMachine>,
    pub wait: FlyWait,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyMachineRefs {
    pub app: String,
    pub ids: Vec<String>,
    #[component(name = "launch-ids")]
    pub launch_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyMetadata {
    pub machines: FlyMachineRefs,
    pub key: String,
    pub value: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyReleaseCommand {
    pub app: String,
    pub region: String,
    pub config: String,
    #[component(name = "timeout-ms")]
    pub timeout_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyVolume {
    pub app: String,
    pub name: String,
    pub region: String,
    #[component(name = "size-gb")]
    pub size_gb: u32,
    /// The mounting machine's guest, as `MachineGuest` JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
    #[component(name = "compute-image")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_image: Option<String>,
    #[component(name = "snapshot-retention")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_retention: Option<u32>,
    #[component(name = "auto-backup")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_backup: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyIp {
    pub app: String,
    pub kind: String,
    pub region: Option<String>,
}

/// A new Fly app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyApp {
    pub name: String,
    pub org: String,
}

/// Secrets set by name; the host reads each value from its environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlySecrets {
    pub app: String,
    pub names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyCertificate {
    pub app: String,
    pub hostname: String,
}

/// Another app's volume, snapshotted and restored into a new volume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyVolumeCopy {
    #[component(name = "source-app")]
    pub source_app: String,
    #[component(name = "source-volume")]
    pub source_volume: String,
    pub app: String,
    pub name: String,
    pub region: String,
    #[component(name = "size-gb")]
    pub size_gb: u32,
}

/// A release record for a deploy; the platform assigns its id and version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyRelease {
    pub app: String,
    pub image: String,
    pub strategy: String,
    /// fly.toml as JSON.
    pub definition: String,
}

/// A wait for an app's certificate of a hostname to be issued.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct FlyCertificateWait {
    pub app: String,
    pub hostname: String,
    #[component(name = "timeout-ms")]
    pub timeout_ms: u64,
}

/// How an action is reversed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "kebab-case")]
pub enum Undo {
    #[component(name = "run")]
    Run(Operation),
    #[component(name = "restore-previous")]
    RestorePrevious,
    #[component(name = "none")]
    None(String),
}

/// One change in a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Action {
    pub id: String,
    pub summary: String,
    pub risk: Risk,
    pub operation: Operation,
    pub undo: Undo,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct PgCopy {
    pub database: String,
    pub jobs: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct PgTable {
    pub database: String,
    pub table: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct PgLogical {
    pub database: String,
    pub name: String,
    #[component(name = "max-lag-bytes")]
    pub max_lag_bytes: u64,
    #[component(name = "timeout-ms")]
    pub timeout_ms: u64,
    /// Tables this copy sets to REPLICA IDENTITY FULL: the finish puts
    /// DEFAULT back once replication is dropped.
    #[component(name = "identity-full")]
    pub identity_full: Vec<String>,
    /// UNLOGGED tables: replication never carries their rows, so the
    /// finish copies them with `pg_dump --data-only` inside the freeze.
    pub unlogged: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct PgVerify {
    pub database: String,
    pub tables: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "kebab-case")]
pub enum VolumePass {
    #[component(name = "bulk")]
    Bulk,
    #[component(name = "final")]
    Final,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VolumeSync {
    pub volume: String,
    pub pass: VolumePass,
    pub exclude: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct SqliteCopy {
    pub volume: String,
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VolumeVerify {
    pub volume: String,
    pub exclude: Vec<String>,
    pub sqlite: Vec<String>,
}
