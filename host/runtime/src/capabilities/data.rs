//! `ferry:step/data`: read-only facts about the databases and volumes the
//! workflow's `[data]` configures. A step names a database or a volume;
//! connection strings, keys and hosts never cross into the sandbox.

use wasmtime::component::{ComponentType, Lift, LinkerInstance, Lower};

use crate::call::CallState;

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(variant)]
pub enum DataError {
    #[component(name = "unavailable")]
    Unavailable(String),
    #[component(name = "failed")]
    Failed(String),
}

/// Which end of a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
pub enum Side {
    #[component(name = "source")]
    Source,
    #[component(name = "target")]
    Target,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct PgTableInfo {
    pub schema: String,
    pub name: String,
    pub bytes: u64,
    #[component(name = "estimated-rows")]
    pub estimated_rows: u64,
    #[component(name = "primary-key")]
    pub primary_key: Vec<String>,
    #[component(name = "replica-identity")]
    pub replica_identity: String,
    pub unlogged: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct DatabaseInventory {
    #[component(name = "server-version")]
    pub server_version: String,
    #[component(name = "wal-level")]
    pub wal_level: String,
    #[component(name = "total-bytes")]
    pub total_bytes: u64,
    pub tables: Vec<PgTableInfo>,
    pub sequences: Vec<String>,
    pub extensions: Vec<String>,
    #[component(name = "large-objects")]
    pub large_objects: u64,
    #[component(name = "materialized-views")]
    pub materialized_views: Vec<String>,
    pub objects: Vec<(String, u32)>,
}

#[derive(Clone, Debug, PartialEq, Eq, ComponentType, Lift, Lower)]
#[component(record)]
pub struct VolumeInfo {
    pub files: u64,
    pub bytes: u64,
    pub sqlite: Vec<String>,
}

/// Answers a step's data queries.
pub trait DataReader: Send + Sync {
    fn databases(&self) -> Vec<String>;
    fn pg_inventory(&self, database: &str, side: Side) -> Result<DatabaseInventory, DataError>;
    fn volumes(&self) -> Vec<String>;
    fn volume_facts(&self, volume: &str, side: Side) -> Result<VolumeInfo, DataError>;
}

/// The reader when the workflow configures no `[data]`.
#[derive(Debug, Clone, Copy)]
pub struct Unconfigured;

impl DataReader for Unconfigured {
    fn databases(&self) -> Vec<String> {
        Vec::new()
    }
    fn pg_inventory(&self, database: &str, _: Side) -> Result<DatabaseInventory, DataError> {
        Err(DataError::Unavailable(format!("database {database} is not configured: add it to ferry.toml under [data.postgres]")))
    }
    fn volumes(&self) -> Vec<String> {
        Vec::new()
    }
    fn volume_facts(&self, volume: &str, _: Side) -> Result<VolumeInfo, DataError> {
        Err(DataError::Unavailable(format!("volume {volume} is not configured: add it to ferry.toml under [data.volumes]")))
    }
}

pub(super) fn add_to_linker(linker: &mut LinkerInstance<'_, CallState>) -> wasmtime::Result<()> {
    linker.func_wrap("list-databases", |store, (): ()| Ok((store.data().host.data.databases(),)))?;
    linker.func_wrap("pg-inventory", |store, (database, side): (String, Side)| Ok((store.data().host.data.pg_inventory(&database, side),)))?;
    linker.func_wrap("list-volumes", |store, (): ()| Ok((store.data().host.data.volumes(),)))?;
    linker.func_wrap("volume-facts", |store, (volume, side): (String, Side)| Ok((store.data().host.data.volume_facts(&volume, side),)))?;
    linker.func_wrap("host-cores", |_store, (): ()| {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Ok((u32::try_from(cores).unwrap_or(u32::MAX),))
    })
}
