//! `ferry:step/fly`: read-only Fly.io queries. The host answers them through
//! a [`FlyReader`]; the Fly provider implements it with the Machines API.
//! Secret values are never reachable, only names.

use wasmtime::component::{ComponentType, Lift, LinkerInstance, Lower};

use crate::call::CallState;

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(variant)]
pub enum QueryError {
    #[component(name = "unavailable")]
    Unavailable(String),
    #[component(name = "not-found")]
    NotFound(String),
    #[component(name = "denied")]
    Denied(String),
    #[component(name = "failed")]
    Failed(String),
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct MachineInfo {
    pub id: String,
    pub name: String,
    pub state: String,
    pub region: String,
    pub image: String,
    #[component(name = "process-group")]
    pub process_group: Option<String>,
    pub metadata: Vec<(String, String)>,
    /// The `MachineConfig` as JSON.
    pub config: String,
    pub cordoned: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VolumeInfo {
    pub id: String,
    pub name: String,
    pub region: String,
    #[component(name = "size-gb")]
    pub size_gb: u32,
    #[component(name = "attached-machine")]
    pub attached_machine: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct IpInfo {
    pub address: String,
    pub kind: String,
    pub region: String,
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct CertificateInfo {
    pub hostname: String,
    pub status: String,
}

/// Answers a step's Fly queries.
pub trait FlyReader: Send + Sync {
    fn list_machines(&self, app: &str) -> Result<Vec<MachineInfo>, QueryError>;
    fn list_volumes(&self, app: &str) -> Result<Vec<VolumeInfo>, QueryError>;
    fn list_secret_names(&self, app: &str) -> Result<Vec<String>, QueryError>;
    fn list_ips(&self, app: &str) -> Result<Vec<IpInfo>, QueryError>;
    fn list_certificates(&self, app: &str) -> Result<Vec<CertificateInfo>, QueryError>;
}

/// The reader when no Fly API token is configured: every query says so.
#[derive(Debug, Clone, Copy)]
pub struct Unconfigured;

impl Unconfigured {
    fn error() -> QueryError {
        QueryError::Unavailable("no Fly.io API access is configured: set FLY_API_TOKEN".into())
    }
}

impl FlyReader for Unconfigured {
    fn list_machines(&self, _: &str) -> Result<Vec<MachineInfo>, QueryError> {
        Err(Self::error())
    }
    fn list_volumes(&self, _: &str) -> Result<Vec<VolumeInfo>, QueryError> {
        Err(Self::error())
    }
    fn list_secret_names(&self, _: &str) -> Result<Vec<String>, QueryError> {
        Err(Self::error())
    }
    fn list_ips(&self, _: &str) -> Result<Vec<IpInfo>, QueryError> {
        Err(Self::error())
    }
    fn list_certificates(&self, _: &str) -> Result<Vec<CertificateInfo>, QueryError> {
        Err(Self::error())
    }
}

pub(super) fn add_to_linker(linker: &mut LinkerInstance<'_, CallState>) -> wasmtime::Result<()> {
    linker.func_wrap("list-machines", |store, (app,): (String,)| Ok((store.data().host.fly.list_machines(&app),)))?;
    linker.func_wrap("list-volumes", |store, (app,): (String,)| Ok((store.data().host.fly.list_volumes(&app),)))?;
    linker.func_wrap("list-secret-names", |store, (app,): (String,)| Ok((store.data().host.fly.list_secret_names(&app),)))?;
    linker.func_wrap("list-ips", |store, (app,): (String,)| Ok((store.data().host.fly.list_ips(&app),)))?;
    linker.func_wrap("list-certificates", |store, (app,): (String,)| Ok((store.data().host.fly.list_certificates(&app),)))
}
