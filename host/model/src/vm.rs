//! Actions on a VM target: a Docker host reached over SSH (the mirror of
//! the `vm-*` records in wit/types.wit).

use serde::{Deserialize, Serialize};
use wasmtime::component::{ComponentType, Lift, Lower};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmPort {
    #[component(name = "host-ip")]
    pub host_ip: String,
    #[component(name = "host-port")]
    pub host_port: u16,
    #[component(name = "container-port")]
    pub container_port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmHealth {
    pub port: u16,
    pub path: String,
    #[component(name = "timeout-ms")]
    pub timeout_ms: u64,
    #[serde(default)]
    pub exec: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmContainer {
    pub target: String,
    pub name: String,
    pub image: String,
    #[component(name = "env-file")]
    pub env_file: Option<String>,
    pub env: Vec<(String, String)>,
    pub ports: Vec<VmPort>,
    pub volumes: Vec<(String, String)>,
    pub network: Option<String>,
    pub labels: Vec<(String, String)>,
    pub command: Vec<String>,
    pub health: Option<VmHealth>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmContainers {
    pub target: String,
    pub names: Vec<String>,
    #[component(name = "grace-secs")]
    pub grace_secs: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmFile {
    pub target: String,
    pub path: String,
    pub contents: String,
    pub mode: u32,
    pub then: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmEnvFile {
    pub target: String,
    pub path: String,
    pub env: Vec<(String, String)>,
    pub secrets: Vec<String>,
    #[component(name = "from-files")]
    #[serde(default)]
    pub from_files: Vec<VmFileValue>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmFileValue {
    pub name: String,
    pub path: String,
    pub template: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmSecret {
    pub target: String,
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmPaths {
    pub target: String,
    pub paths: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmPackages {
    pub target: String,
    pub packages: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmNetwork {
    pub target: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(variant)]
#[serde(rename_all = "kebab-case")]
pub enum VmImageSource {
    /// A checkout directory and an optional Dockerfile in it.
    #[component(name = "build")]
    Build((String, Option<String>)),
    #[component(name = "load")]
    Load(String),
    #[component(name = "pull")]
    Pull(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmImage {
    pub target: String,
    pub tag: String,
    pub source: VmImageSource,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmLock {
    pub target: String,
    pub path: String,
    #[component(name = "ttl-ms")]
    pub ttl_ms: u64,
}
