//! `[data]` in ferry.toml: the databases copy-data may read and copy, by
//! name. The file holds only the names of the environment variables with
//! the connection strings (CI secrets), never the strings themselves.
//!
//! ```toml
//! [data.postgres.main]
//! source_env = "FERRY_SECRET_SOURCE_DATABASE_URL"   # how ferry reaches the source
//! target_env = "FERRY_SECRET_TARGET_DATABASE_URL"
//! source_for_target_env = "FERRY_SECRET_SOURCE_FROM_TARGET"  # optional: how the target server reaches the source (logical)
//!
//! [data.postgres.vm]
//! source_env = "FERRY_SECRET_DATABASE_URL"
//! target_vm = "prod"        # instead of target_env: the Postgres provision runs on [targets.vm.prod]
//!                           # ("prod/<app>" when several apps have one there), through an SSH forward
//!
//! [data.volumes.uploads]
//! source = "/var/lib/shop/uploads"                  # a path here, or ssh://user@host:port/path
//! target = "ssh://root@203.0.113.7:22/srv/shop/uploads"
//! ssh_key_env = "FERRY_SECRET_SSH_KEY"              # the private key (when a side is remote)
//! known_hosts_env = "FERRY_SECRET_KNOWN_HOSTS"      # pinned host keys: a changed key is refused
//! ```

use std::sync::Arc;

use ferry_postgres::DbUrl;
use ferry_runtime::capabilities::data::{DataError, DataReader, DatabaseInventory, PgTableInfo, Side, VolumeInfo};
use ferry_volume::Endpoint;

use crate::vm::VmTargets;

mod config;
pub mod ops;

pub use config::*;

/// The connection strings of one database, read from the environment.
#[derive(Debug)]
pub struct DatabaseUrls {
    pub source: DbUrl,
    pub target: DbUrl,
    /// How the target server reaches the source (for a subscription).
    pub source_for_target: DbUrl,
}

/// The configured databases, answering steps' reads and giving the
/// executor their connection strings.
#[derive(Clone, Debug, Default)]
pub struct DataSources {
    databases: Vec<DatabaseConfig>,
    volumes: Vec<VolumeConfig>,
    /// The VM targets, for a database whose target is a host's Postgres.
    vm: Option<Arc<VmTargets>>,
}

impl DataSources {
    pub fn new(databases: Vec<DatabaseConfig>, volumes: Vec<VolumeConfig>) -> Self {
        DataSources { databases, volumes, vm: None }
    }

    /// Reaches `target_vm` databases through these targets' SSH sessions.
    pub fn with_vm(mut self, targets: Arc<VmTargets>) -> Self {
        self.vm = Some(targets);
        self
    }

    /// Both ends of a volume, with an SSH session open to the remote one.
    pub fn endpoints(&self, volume: &str) -> Result<(Endpoint, Endpoint), String> {
        let config = self
            .volumes
            .iter()
            .find(|v| v.name == volume)
            .ok_or_else(|| format!("volume {volume} is not configured: add it to ferry.toml under [data.volumes]"))?;
        Ok((endpoint(config, &config.source)?, endpoint(config, &config.target)?))
    }

    pub fn urls(&self, database: &str) -> Result<DatabaseUrls, String> {
        let config = self
            .databases
            .iter()
            .find(|d| d.name == database)
            .ok_or_else(|| format!("database {database} is not configured: add it to ferry.toml under [data.postgres]"))?;
        // The target first: a missing [targets.vm] section is a config mistake
        // worth naming before any variable is missing.
        let target = match &config.target {
            DatabaseTarget::Env(var) => env_url(database, var)?,
            DatabaseTarget::Vm { target, app } => {
                let targets = self.vm.as_ref().ok_or_else(|| format!("database {database}: target_vm needs [targets.vm.{target}] in ferry.toml"))?;
                DbUrl::new(targets.postgres_url(target, app.as_deref()).map_err(|e| format!("database {database}: {e}"))?)
            }
        };
        let source = env_url(database, &config.source_env)?;
        let source_for_target = match &config.source_for_target_env {
            Some(var) => env_url(database, var)?,
            None => source.clone(),
        };
        Ok(DatabaseUrls { source, target, source_for_target })
    }

    fn url(&self, database: &str, side: Side) -> Result<DbUrl, DataError> {
        let urls = self.urls(database).map_err(DataError::Unavailable)?;
        Ok(match side {
            Side::Source => urls.source,
            Side::Target => urls.target,
        })
    }
}

fn endpoint(config: &VolumeConfig, at: &Location) -> Result<Endpoint, String> {
    match at {
        Location::Local(path) => Ok(Endpoint::Local(path.clone())),
        Location::Remote { host, path } => {
            let secret = |var: &Option<String>| {
                let var = var.as_deref().unwrap_or_default();
                ferry_secrets::var(var).map(ferry_secrets::Secret::into_inner).map_err(|e| format!("volume {}: {e}", config.name))
            };
            let options = ferry_ssh::SshOptions::new(ferry_ssh::SshKey::new(secret(&config.ssh_key_env)?), secret(&config.known_hosts_env)?);
            let spec: ferry_ssh::HostSpec = host.parse().map_err(|e| format!("volume {}: {e}", config.name))?;
            let session = ferry_ssh::Session::open(spec, options).map_err(|e| format!("volume {}: {e}", config.name))?;
            Ok(Endpoint::Remote { session: std::sync::Arc::new(session), path: path.clone() })
        }
    }
}

fn env_url(database: &str, var: &str) -> Result<DbUrl, String> {
    match ferry_secrets::var(var) {
        Ok(url) => Ok(DbUrl::new(url.into_inner())),
        Err(e @ ferry_secrets::SecretError::Withheld { .. }) => Err(format!("database {database}: {e}")),
        Err(ferry_secrets::SecretError::Missing { .. }) => {
            Err(format!("database {database}: the environment variable {var} (its connection string) is not set"))
        }
    }
}

impl DataReader for DataSources {
    fn databases(&self) -> Vec<String> {
        self.databases.iter().map(|d| d.name.clone()).collect()
    }

    fn pg_inventory(&self, database: &str, side: Side) -> Result<DatabaseInventory, DataError> {
        let url = self.url(database, side)?;
        let inv = ferry_postgres::inventory(&url).map_err(|e| DataError::Failed(format!("{} database {database}: {e}", side.as_str())))?;
        Ok(to_wit(inv))
    }

    fn volumes(&self) -> Vec<String> {
        self.volumes.iter().map(|v| v.name.clone()).collect()
    }

    fn volume_facts(&self, volume: &str, side: Side) -> Result<VolumeInfo, DataError> {
        let (source, target) = self.endpoints(volume).map_err(DataError::Unavailable)?;
        let ep = if side == Side::Source { source } else { target };
        match ferry_volume::scan(&ep) {
            Ok(f) => Ok(VolumeInfo { files: f.files, bytes: f.bytes, sqlite: f.sqlite }),
            // A target directory that does not exist yet is an empty one.
            Err(ferry_volume::VolumeError::MissingDirectory { .. }) if side == Side::Target => Ok(VolumeInfo { files: 0, bytes: 0, sqlite: Vec::new() }),
            Err(e) => Err(DataError::Failed(format!("{} of volume {volume}: {e}", side.as_str()))),
        }
    }
}

fn to_wit(inv: ferry_postgres::Inventory) -> DatabaseInventory {
    DatabaseInventory {
        server_version: inv.server_version,
        wal_level: inv.wal_level,
        total_bytes: inv.total_bytes,
        tables: inv
            .tables
            .into_iter()
            .map(|t| PgTableInfo {
                replica_identity: format!("{:?}", t.replica_identity).to_lowercase(),
                schema: t.schema,
                name: t.name,
                bytes: t.bytes,
                estimated_rows: t.estimated_rows,
                primary_key: t.primary_key,
                unlogged: t.unlogged,
            })
            .collect(),
        sequences: inv.sequences.into_iter().map(|s| ferry_postgres::qualified_name(&s.schema, &s.name)).collect(),
        extensions: inv.extensions,
        large_objects: inv.large_objects,
        materialized_views: inv.materialized_views,
        objects: inv.objects.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(body: &str) -> Result<DatabaseConfig, String> {
        let raw: RawData = toml::from_str(&format!("[postgres.main]\nsource_env = \"FERRY_SECRET_SOURCE\"\n{body}")).map_err(|e| e.to_string())?;
        raw.parse().map(|(mut databases, _)| databases.remove(0))
    }

    #[test]
    fn a_database_goes_to_a_connection_string_or_a_vm_targets_postgres() {
        assert_eq!(database("target_env = \"FERRY_SECRET_T\"").unwrap().target, DatabaseTarget::Env("FERRY_SECRET_T".into()));
        assert_eq!(database("target_vm = \"prod\"").unwrap().target, DatabaseTarget::Vm { target: "prod".into(), app: None });
        assert_eq!(database("target_vm = \"prod/shop\"").unwrap().target, DatabaseTarget::Vm { target: "prod".into(), app: Some("shop".into()) });
        let half = database("target_vm = \"prod/\"").unwrap_err();
        assert!(half.contains("target_vm `prod/`: a VM target, or `<target>/<app>`"), "{half}");
        for both_or_neither in ["target_env = \"FERRY_SECRET_T\"\ntarget_vm = \"prod\"", ""] {
            let err = database(both_or_neither).unwrap_err();
            assert!(err.contains("[data.postgres.main]: give target_env") && err.contains("or target_vm"), "{err}");
        }
    }

    #[test]
    fn a_vm_target_without_vm_targets_says_what_is_missing() {
        let sources = DataSources::new(vec![database("target_vm = \"prod\"").unwrap()], Vec::new());
        // The target is checked before any variable is read.
        let err = sources.urls("main").unwrap_err();
        assert!(err.contains("database main: target_vm needs [targets.vm.prod]"), "{err}");
    }
}
