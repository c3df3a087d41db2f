//! The app-spec: the inventory of an app, produced by `parse-config` and
//! read by every later step. Mirrors `types.wit`; field order matters there.

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

use crate::Finding;

/// One process group (`[processes]` in fly.toml, a Procfile line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Process {
    pub name: String,
    /// Empty means the image's CMD.
    pub command: String,
}

/// One public port of a service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Port {
    pub port: Option<u16>,
    #[component(name = "start-port")]
    pub start_port: Option<u16>,
    #[component(name = "end-port")]
    pub end_port: Option<u16>,
    pub handlers: Vec<String>,
    #[component(name = "force-https")]
    pub force_https: bool,
    #[component(name = "tls-options")]
    pub tls_options: Option<TlsOptions>,
    #[component(name = "http-options")]
    pub http_options: Option<HttpOptions>,
    #[component(name = "proxy-proto-options")]
    pub proxy_proto_options: Option<ProxyProtoOptions>,
}

/// `tls_options` of a port (fly-go `TLSOptions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct TlsOptions {
    pub alpn: Vec<String>,
    pub versions: Vec<String>,
    #[component(name = "default-self-signed")]
    pub default_self_signed: Option<bool>,
}

/// `http_options` of a port (fly-go `HTTPOptions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct HttpOptions {
    pub compress: Option<bool>,
    #[component(name = "h2-backend")]
    pub h2_backend: Option<bool>,
    #[component(name = "idle-timeout")]
    pub idle_timeout: Option<u32>,
    #[component(name = "headers-read-timeout")]
    pub headers_read_timeout: Option<u32>,
    pub response: Option<HttpResponseOptions>,
    #[component(name = "replay-cache")]
    pub replay_cache: Vec<ReplayCache>,
}

/// `http_options.response`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct HttpResponseOptions {
    /// Header name -> its value as JSON text.
    #[serde(with = "crate::pairs")]
    pub headers: Vec<(String, String)>,
    pub pristine: Option<bool>,
}

/// One `http_options.replay_cache` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ReplayCache {
    #[component(name = "path-prefix")]
    pub path_prefix: String,
    #[component(name = "ttl-seconds")]
    pub ttl_seconds: u32,
    /// `cookie` or `header`.
    pub kind: String,
    pub name: String,
    #[component(name = "allow-bypass")]
    pub allow_bypass: bool,
}

/// `proxy_proto_options` of a port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ProxyProtoOptions {
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Concurrency {
    /// `connections` or `requests`.
    pub kind: String,
    #[component(name = "soft-limit")]
    pub soft_limit: Option<u32>,
    #[component(name = "hard-limit")]
    pub hard_limit: Option<u32>,
}

/// A closed set of fly.toml (`types.wit`): a Rust enum that crosses the
/// sandbox as the WIT enum, serialises as fly.toml spells it, and prints so.
macro_rules! closed_set {
    ($(#[$doc:meta])* $name:ident { $($(#[$case_doc:meta])* $case:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
        #[component(enum)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$case_doc])* #[component(name = $text)] #[serde(rename = $text)] $case,)+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$case => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

closed_set!(
    /// A service's transport.
    ServiceProtocol { Tcp = "tcp", Udp = "udp" }
);

closed_set!(
    /// What the proxy does with a service's idle machines.
    AutoStop { Off = "off", Stop = "stop", Suspend = "suspend" }
);

closed_set!(
    /// What a health check does.
    CheckKind { Http = "http", Tcp = "tcp" }
);

closed_set!(
    /// When the platform starts a machine that exited.
    RestartPolicy { Always = "always", Never = "never", OnFailure = "on-failure" }
);

/// An internal port exposed through public ports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Service {
    pub protocol: ServiceProtocol,
    #[component(name = "internal-port")]
    pub internal_port: u16,
    pub ports: Vec<Port>,
    /// Empty means every process group.
    pub processes: Vec<String>,
    #[component(name = "http-service")]
    pub http_service: bool,
    #[component(name = "auto-stop-machines")]
    pub auto_stop_machines: Option<AutoStop>,
    #[component(name = "auto-start-machines")]
    pub auto_start_machines: Option<bool>,
    #[component(name = "min-machines-running")]
    pub min_machines_running: Option<u32>,
    pub concurrency: Option<Concurrency>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "kebab-case")]
pub enum CheckScope {
    /// Gates traffic (a service check).
    #[component(name = "service")]
    Service,
    /// Reports only (top-level `[checks]`).
    #[component(name = "machine")]
    Machine,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Check {
    pub name: String,
    pub kind: CheckKind,
    pub scope: CheckScope,
    pub port: Option<u16>,
    pub path: Option<String>,
    pub method: Option<String>,
    pub protocol: Option<String>,
    #[component(name = "interval-ms")]
    pub interval_ms: Option<u64>,
    #[component(name = "timeout-ms")]
    pub timeout_ms: Option<u64>,
    #[component(name = "grace-period-ms")]
    pub grace_period_ms: Option<u64>,
    #[serde(with = "crate::pairs")]
    pub headers: Vec<(String, String)>,
    #[component(name = "tls-skip-verify")]
    pub tls_skip_verify: Option<bool>,
    #[component(name = "tls-server-name")]
    pub tls_server_name: Option<String>,
    pub processes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Mount {
    pub source: String,
    pub destination: String,
    #[component(name = "initial-size")]
    pub initial_size: Option<String>,
    #[component(name = "auto-extend-size-threshold")]
    pub auto_extend_size_threshold: Option<u32>,
    #[component(name = "auto-extend-size-increment-gb")]
    pub auto_extend_size_increment_gb: Option<u32>,
    #[component(name = "auto-extend-size-limit-gb")]
    pub auto_extend_size_limit_gb: Option<u32>,
    pub processes: Vec<String>,
    #[component(name = "snapshot-retention")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_retention: Option<u32>,
    #[component(name = "scheduled-snapshots")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_snapshots: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Vm {
    pub size: Option<String>,
    #[component(name = "memory-mb")]
    pub memory_mb: Option<u32>,
    pub cpus: Option<u32>,
    #[component(name = "cpu-kind")]
    pub cpu_kind: Option<String>,
    pub gpus: Option<u32>,
    #[component(name = "gpu-kind")]
    pub gpu_kind: Option<String>,
    #[component(name = "max-memory-mb")]
    pub max_memory_mb: Option<u32>,
    #[component(name = "host-dedication-id")]
    pub host_dedication_id: Option<String>,
    #[component(name = "kernel-args")]
    pub kernel_args: Vec<String>,
    #[component(name = "persist-rootfs")]
    pub persist_rootfs: Option<String>,
    pub processes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Deploy {
    pub strategy: Option<String>,
    #[component(name = "release-command")]
    pub release_command: Option<String>,
    #[component(name = "max-unavailable")]
    pub max_unavailable: Option<f64>,
    #[component(name = "wait-timeout-ms")]
    pub wait_timeout_ms: Option<u64>,
    #[component(name = "release-command-timeout-ms")]
    pub release_command_timeout_ms: Option<u64>,
    #[component(name = "release-command-vm")]
    pub release_command_vm: Option<Vm>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Build {
    pub image: Option<String>,
    pub dockerfile: Option<String>,
    pub builder: Option<String>,
    pub buildpacks: Vec<String>,
    #[serde(with = "crate::pairs")]
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
    pub ignorefile: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Dockerfile {
    pub path: String,
    pub stages: Vec<String>,
    #[component(name = "base-image")]
    pub base_image: Option<String>,
    #[component(name = "exposed-ports")]
    pub exposed_ports: Vec<u16>,
    pub cmd: Option<String>,
    pub entrypoint: Option<String>,
    pub user: Option<String>,
    pub volumes: Vec<String>,
    pub healthcheck: Option<String>,
    #[serde(with = "crate::pairs")]
    pub args: Vec<(String, Option<String>)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Restart {
    pub policy: RestartPolicy,
    pub retries: Option<u32>,
    pub processes: Vec<String>,
}

/// A checkout file read for `[[files]] local_path`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct LocalFile {
    pub path: String,
    /// Its contents, base64.
    pub base64: String,
}

/// Where a `[[files]]` entry's contents come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "snake_case")]
pub enum FileSource {
    #[component(name = "local-path")]
    LocalPath(LocalFile),
    #[component(name = "secret-name")]
    SecretName(String),
    #[component(name = "raw-value")]
    RawValue(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct File {
    #[component(name = "guest-path")]
    pub guest_path: String,
    pub source: FileSource,
    pub processes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Metrics {
    pub port: u16,
    pub path: String,
    pub https: bool,
    pub processes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Static {
    #[component(name = "guest-path")]
    pub guest_path: String,
    #[component(name = "url-prefix")]
    pub url_prefix: String,
    #[component(name = "tigris-bucket")]
    pub tigris_bucket: Option<String>,
    #[component(name = "index-document")]
    pub index_document: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Experimental {
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub exec: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct MachineDefaults {
    #[component(name = "kill-signal")]
    pub kill_signal: Option<String>,
    #[component(name = "kill-timeout-ms")]
    pub kill_timeout_ms: Option<u64>,
    #[component(name = "swap-size-mb")]
    pub swap_size_mb: Option<u32>,
    #[component(name = "console-command")]
    pub console_command: Option<String>,
    #[component(name = "host-dedication-id")]
    pub host_dedication_id: Option<String>,
    /// `machine_config` as compact JSON, local files already read.
    #[component(name = "machine-config")]
    pub machine_config: Option<String>,
}

/// One process group with everything that applies to it (flyctl's `Flatten`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ProcessGroup {
    pub name: String,
    pub command: String,
    pub services: Vec<Service>,
    pub checks: Vec<Check>,
    pub mount: Option<Mount>,
    pub vm: Option<Vm>,
    pub restart: Option<Restart>,
    pub files: Vec<File>,
    pub metrics: Vec<Metrics>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Addon {
    pub name: String,
    pub plan: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct Formation {
    pub process: String,
    pub quantity: Option<u32>,
    pub size: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct LiveVolume {
    pub name: String,
    pub region: String,
    #[component(name = "size-gb")]
    pub size_gb: u32,
    pub attached: bool,
}

/// What Fly reports about the running app.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct LiveState {
    pub regions: Vec<String>,
    pub machines: u32,
    pub images: Vec<String>,
    pub volumes: Vec<LiveVolume>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "kebab-case")]
pub enum AppKind {
    #[component(name = "single-service")]
    SingleService,
    #[component(name = "multi-service")]
    MultiService,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    #[component(name = "fly")]
    Fly,
    #[component(name = "vm")]
    Vm,
    #[component(name = "kubernetes")]
    Kubernetes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    #[component(name = "fly")]
    Fly,
    #[component(name = "heroku")]
    Heroku,
}

/// The inventory of an app.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct AppSpec {
    pub source: String,
    pub sources: Vec<String>,
    pub platform: Platform,
    pub app: Option<String>,
    #[component(name = "primary-region")]
    pub primary_region: Option<String>,
    /// Name -> command in JSON.
    #[serde(with = "processes_as_map")]
    pub processes: Vec<Process>,
    pub services: Vec<Service>,
    pub checks: Vec<Check>,
    pub mounts: Vec<Mount>,
    #[serde(with = "crate::pairs")]
    pub env: Vec<(String, String)>,
    pub secrets: Vec<String>,
    pub vm: Vec<Vm>,
    pub restart: Vec<Restart>,
    pub files: Vec<File>,
    pub metrics: Vec<Metrics>,
    pub statics: Vec<Static>,
    pub experimental: Experimental,
    pub machine: MachineDefaults,
    pub deploy: Deploy,
    pub build: Build,
    pub dockerfile: Option<Dockerfile>,
    pub groups: Vec<ProcessGroup>,
    pub addons: Vec<Addon>,
    pub formation: Vec<Formation>,
    #[serde(with = "crate::pairs")]
    pub scripts: Vec<(String, String)>,
    pub live: Option<LiveState>,
    pub kind: AppKind,
    #[component(name = "recommended-target")]
    pub recommended_target: TargetKind,
    pub warnings: Vec<Finding>,
}

/// `processes` is `{"web": "bin/server", "worker": "bin/jobs"}` in JSON.
mod processes_as_map {
    use super::Process;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(processes: &[Process], s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(processes.iter().map(|p| (&p.name, &p.command)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Process>, D::Error> {
        let pairs: Vec<(String, String)> = crate::pairs::deserialize(d)?;
        Ok(pairs.into_iter().map(|(name, command)| Process { name, command }).collect())
    }
}
