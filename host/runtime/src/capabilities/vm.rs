//! `ferry:step/vm`: read-only facts about the VM targets the workflow
//! configures. A step names a target; its address, user and key stay here.

use wasmtime::component::{ComponentType, Lift, LinkerInstance, Lower};

use crate::call::CallState;

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VmTargetInfo {
    pub name: String,
    pub root: String,
    #[component(name = "nginx-sites")]
    pub nginx_sites: String,
    #[component(name = "lock-ttl-ms")]
    pub lock_ttl_ms: u64,
    #[component(name = "lock-path")]
    pub lock_path: String,
    pub keep: u32,
    #[component(name = "postgres-image")]
    pub postgres_image: Option<String>,
    pub acme: Option<AcmeInfo>,
    pub address: Option<String>,
    #[component(name = "ssh-key-env")]
    pub ssh_key_env: String,
    #[component(name = "known-hosts-env")]
    pub known_hosts_env: String,
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct AcmeInfo {
    #[component(name = "dns-zone")]
    pub dns_zone: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct CertificateInfo {
    pub names: Vec<String>,
    #[component(name = "not-after")]
    pub not_after: String,
    #[component(name = "days-left")]
    pub days_left: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct HostFacts {
    pub os: String,
    pub arch: String,
    pub docker: Option<String>,
    #[component(name = "free-disk-mb")]
    pub free_disk_mb: Option<u64>,
    #[component(name = "listening-ports")]
    pub listening_ports: Vec<u16>,
    pub nginx: bool,
    pub certbot: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct ContainerState {
    pub name: String,
    pub image: String,
    pub state: String,
    pub labels: Vec<(String, String)>,
}

/// Answers a step's VM queries.
pub trait VmReader: Send + Sync {
    fn targets(&self) -> Vec<VmTargetInfo>;
    fn facts(&self, target: &str) -> Result<HostFacts, String>;
    fn containers(&self, target: &str, app: &str) -> Result<Vec<ContainerState>, String>;
    fn releases(&self, target: &str, app: &str) -> Result<Vec<String>, String>;
    fn certificate(&self, target: &str, path: &str) -> Result<Option<CertificateInfo>, String>;
}

/// The reader when the workflow configures no VM target.
#[derive(Debug, Clone, Copy)]
pub struct Unconfigured;

impl VmReader for Unconfigured {
    fn targets(&self) -> Vec<VmTargetInfo> {
        Vec::new()
    }
    fn facts(&self, target: &str) -> Result<HostFacts, String> {
        Err(not_configured(target))
    }
    fn containers(&self, target: &str, _: &str) -> Result<Vec<ContainerState>, String> {
        Err(not_configured(target))
    }
    fn releases(&self, target: &str, _: &str) -> Result<Vec<String>, String> {
        Err(not_configured(target))
    }
    fn certificate(&self, target: &str, _: &str) -> Result<Option<CertificateInfo>, String> {
        Err(not_configured(target))
    }
}

pub fn not_configured(target: &str) -> String {
    format!("VM target {target} is not configured: add it to ferry.toml under [targets.vm.{target}]")
}

pub(super) fn add_to_linker(linker: &mut LinkerInstance<'_, CallState>) -> wasmtime::Result<()> {
    linker.func_wrap("list-targets", |store, (): ()| Ok((store.data().host.vm.targets(),)))?;
    linker.func_wrap("facts", |store, (target,): (String,)| Ok((store.data().host.vm.facts(&target),)))?;
    linker.func_wrap("containers", |store, (target, app): (String, String)| Ok((store.data().host.vm.containers(&target, &app),)))?;
    linker.func_wrap("releases", |store, (target, app): (String, String)| Ok((store.data().host.vm.releases(&target, &app),)))?;
    linker.func_wrap("certificate", |store, (target, path): (String, String)| Ok((store.data().host.vm.certificate(&target, &path),)))
}
