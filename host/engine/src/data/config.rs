//! `[data.postgres.<name>]` and `[data.volumes.<name>]` in ferry.toml.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One `[data.postgres.<name>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub name: String,
    pub source_env: String,
    pub target: DatabaseTarget,
    pub source_for_target_env: Option<String>,
}

/// Where a database is copied to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseTarget {
    /// The variable holding its connection string.
    Env(String),
    /// The Postgres that provision runs on a VM target, for `app` (or the
    /// only one there).
    Vm { target: String, app: Option<String> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawData {
    #[serde(default)]
    postgres: BTreeMap<String, RawDatabase>,
    #[serde(default)]
    volumes: BTreeMap<String, RawVolume>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolume {
    source: String,
    target: String,
    ssh_key_env: Option<String>,
    known_hosts_env: Option<String>,
}

/// One `[data.volumes.<name>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeConfig {
    pub name: String,
    pub source: Location,
    pub target: Location,
    pub ssh_key_env: Option<String>,
    pub known_hosts_env: Option<String>,
}

/// Where one side of a volume lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Local(std::path::PathBuf),
    Remote { host: String, path: String },
}

impl Location {
    fn parse(text: &str) -> Result<Location, String> {
        let Some(rest) = text.strip_prefix("ssh://") else { return Ok(Location::Local(text.into())) };
        let (host, path) = rest.split_once('/').ok_or_else(|| format!("`{text}` has no path after the host (ssh://user@host:port/path)"))?;
        host.parse::<ferry_ssh::HostSpec>().map_err(|e| format!("`{text}`: {e}"))?;
        Ok(Location::Remote { host: host.into(), path: format!("/{path}") })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    source_env: String,
    target_env: Option<String>,
    target_vm: Option<String>,
    source_for_target_env: Option<String>,
}

impl RawDatabase {
    fn target(&self, name: &str) -> Result<DatabaseTarget, String> {
        match (&self.target_env, &self.target_vm) {
            (Some(var), None) => Ok(DatabaseTarget::Env(var.clone())),
            (None, Some(vm)) => match vm.split_once('/') {
                Some((target, app)) if !target.is_empty() && !app.is_empty() => Ok(DatabaseTarget::Vm { target: target.into(), app: Some(app.into()) }),
                Some(_) => Err(format!("[data.postgres.{name}] target_vm `{vm}`: a VM target, or `<target>/<app>`")),
                None => Ok(DatabaseTarget::Vm { target: vm.clone(), app: None }),
            },
            _ => Err(format!(
                "[data.postgres.{name}]: give target_env (the variable with the target's connection string) or target_vm (the Postgres provision runs on a VM target), one of them"
            )),
        }
    }
}

impl RawData {
    pub(crate) fn parse(self) -> Result<(Vec<DatabaseConfig>, Vec<VolumeConfig>), String> {
        let volumes = self
            .volumes
            .into_iter()
            .map(|(name, raw)| {
                let at = |what: &str, text: &str| Location::parse(text).map_err(|e| format!("[data.volumes.{name}] {what}: {e}"));
                let (source, target) = (at("source", &raw.source)?, at("target", &raw.target)?);
                if matches!((&source, &target), (Location::Remote { .. }, Location::Remote { .. })) {
                    return Err(format!("[data.volumes.{name}]: rsync copies between this machine and one host; run ferry on the source or the target"));
                }
                if (matches!(source, Location::Remote { .. }) || matches!(target, Location::Remote { .. }))
                    && (raw.ssh_key_env.is_none() || raw.known_hosts_env.is_none())
                {
                    return Err(format!("[data.volumes.{name}]: a remote side needs ssh_key_env and known_hosts_env"));
                }
                let section = format!("[data.volumes.{name}]");
                for (key, var) in [("ssh_key_env", &raw.ssh_key_env), ("known_hosts_env", &raw.known_hosts_env)] {
                    if let Some(var) = var {
                        crate::workflow::credential_var(&section, key, var)?;
                    }
                }
                Ok(VolumeConfig { name, source, target, ssh_key_env: raw.ssh_key_env, known_hosts_env: raw.known_hosts_env })
            })
            .collect::<Result<_, String>>()?;
        let databases = self
            .postgres
            .into_iter()
            .map(|(name, raw)| {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                    return Err(format!("[data.postgres.{name}]: a database name is letters, digits, `-` and `_`"));
                }
                let target = raw.target(&name)?;
                let section = format!("[data.postgres.{name}]");
                let vars = [("source_env", Some(&raw.source_env)), ("source_for_target_env", raw.source_for_target_env.as_ref())];
                let target_var = match &target {
                    DatabaseTarget::Env(var) => Some(var),
                    DatabaseTarget::Vm { .. } => None,
                };
                for (key, var) in vars.into_iter().chain([("target_env", target_var)]) {
                    if let Some(var) = var {
                        crate::workflow::credential_var(&section, key, var)?;
                    }
                }
                Ok(DatabaseConfig { name, source_env: raw.source_env, target, source_for_target_env: raw.source_for_target_env })
            })
            .collect::<Result<_, String>>()?;
        Ok((databases, volumes))
    }
}
