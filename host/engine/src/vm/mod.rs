//! `[targets.vm.<name>]` in ferry.toml: Docker hosts reached over SSH. The
//! file names the environment variables holding the key and the pinned
//! host keys, never the key itself.
//!
//! ```toml
//! [targets.vm.prod]
//! host = "root@203.0.113.7:22"
//! ssh_key_env = "FERRY_SECRET_SSH_KEY"
//! known_hosts_env = "FERRY_SECRET_KNOWN_HOSTS"
//! root = "/srv"                          # the app lives in <root>/<app>
//! docker = "docker"                      # or "sudo docker"
//! nginx_sites = "/etc/nginx/conf.d"
//! nginx_reload = "nginx -t && nginx -s reload"
//! lock_ttl = "2m"                        # a lock not renewed for this long is stale
//! keep = 3                               # releases kept for --rollback
//! postgres = "postgres:16"               # the image for an app that had Fly Postgres; false for none
//! read_timeout = "10s"                   # how long one read of the host (facts, containers…) may take
//! ```
//!
//! Reads of a host (a step's `vm` import, and what the apply checks before
//! and after each action) are bounded by `read_timeout`, on this side and on
//! the host (coreutils' `timeout` ends the remote command), so a hung
//! `docker` or disk cannot hold a step past its deadline: epoch interruption
//! stops guest code, not a blocking host call. Connecting is bounded by
//! ssh's `ConnectTimeout` and the session's handshake grace. Actions (a
//! build, a release command, a health wait) have their own limits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferry_runtime::capabilities::vm::{AcmeInfo, CertificateInfo, ContainerState, HostFacts, VmReader, VmTargetInfo, not_configured};
use ferry_ssh::{Session, SshKey, SshOptions};
use ferry_vm::DockerHost;

mod config;
pub mod ops;

pub use config::*;

/// The configured VM targets, with one SSH session per target opened on
/// first use and shared by the plan's reads and the apply's actions.
#[derive(Debug, Default)]
pub struct VmTargets {
    targets: Vec<VmTargetConfig>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// Connection strings of hosts' Postgres through a forward, by `target/app`.
    databases: Mutex<HashMap<String, String>>,
}

/// The label provision puts on an app's Postgres container (vm-plan's
/// `postgres` module), and the port it listens on inside it.
const POSTGRES_ROLE: &str = "ferry.role=postgres";
const POSTGRES_PORT: u16 = 5432;

impl VmTargets {
    pub fn new(targets: Vec<VmTargetConfig>) -> Self {
        VmTargets { targets, sessions: Mutex::new(HashMap::new()), databases: Mutex::new(HashMap::new()) }
    }

    pub fn config(&self, target: &str) -> Result<&VmTargetConfig, String> {
        self.targets.iter().find(|t| t.name == target).ok_or_else(|| not_configured(target))
    }

    /// The target's session, opened (and its host key checked) once.
    pub fn session(&self, target: &str) -> Result<Arc<Session>, SessionError> {
        let config = self.config(target).map_err(SessionError::Config)?;
        let mut sessions = self.sessions.lock().expect("sessions lock");
        if let Some(session) = sessions.get(target) {
            return Ok(session.clone());
        }
        let secret = |var: &str| self::secret(var).map_err(|e| SessionError::Config(format!("VM target {target}: {e}")));
        let options = SshOptions::new(SshKey::new(secret(&config.ssh_key_env)?), secret(&config.known_hosts_env)?);
        let session = Session::open(config.host.clone(), options).map_err(|source| SessionError::Ssh { target: target.to_string(), source })?;
        let session = Arc::new(session);
        sessions.insert(target.to_string(), session.clone());
        Ok(session)
    }

    /// A connection string, usable from this machine, for the Postgres that
    /// provision runs on `target` for `app` (the only one there when `app`
    /// is `None`): a forward through the target's SSH session to the port
    /// it publishes on the host's loopback, with the role, database and
    /// password the container runs with. Opened once per run.
    pub fn postgres_url(&self, target: &str, app: Option<&str>) -> Result<String, String> {
        let key = format!("{target}/{}", app.unwrap_or(""));
        if let Some(url) = self.databases.lock().expect("databases lock").get(&key) {
            return Ok(url.clone());
        }
        let url = self.reading(target, |docker, _| {
            let at = |m: String| format!("VM target {target}: {m}");
            let db = host_postgres(docker, app).map_err(at)?;
            let port =
                docker.published_port(&db.name, POSTGRES_PORT).map_err(|e| at(e.to_string()))?.ok_or_else(|| at(format!("{} publishes no port", db.name)))?;
            let env = docker.environment(&db.name).map_err(|e| at(e.to_string()))?;
            let value = |key: &str| env.get(key).cloned().ok_or_else(|| at(format!("{} runs without {key}", db.name)));
            let (user, database, password) = (value("POSTGRES_USER")?, value("POSTGRES_DB")?, value("POSTGRES_PASSWORD")?);
            ferry_secrets::learn(&password);
            let local = docker.session().forward_local("127.0.0.1", port).map_err(|e| at(e.to_string()))?;
            Ok(format!("postgres://{user}:{password}@127.0.0.1:{local}/{database}?sslmode=disable"))
        })?;
        self.databases.lock().expect("databases lock").insert(key, url.clone());
        Ok(url)
    }

    /// Runs `f` with the target's Docker host, every command of it bounded
    /// by the target's `read_timeout`: for reads only.
    pub fn reading<T>(&self, target: &str, f: impl FnOnce(&DockerHost<'_>, &VmTargetConfig) -> Result<T, String>) -> Result<T, String> {
        let config = self.config(target)?;
        let session = self.session(target).map_err(|e| e.to_string())?;
        f(&DockerHost::new(&session, &config.docker).within(config.read_timeout), config)
    }
}

/// Why a target's SSH session did not open.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// ferry.toml or the environment: no such target, a variable not set.
    #[error("{0}")]
    Config(String),
    /// The connection: the address, the pinned host key, the key, the network.
    #[error("VM target {target}: {source}")]
    Ssh { target: String, source: ferry_ssh::SshError },
}

impl From<SessionError> for crate::apply::ExecError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Config(message) => crate::apply::ExecError::Config(message),
            SessionError::Ssh { target, source } => crate::apply::ExecError::Ssh { context: format!("VM target {target}"), source },
        }
    }
}

/// The one running Postgres container provision made for `app` (or for
/// any app, when there is only one) on the host.
fn host_postgres(docker: &DockerHost<'_>, app: Option<&str>) -> Result<ferry_vm::ContainerInfo, String> {
    let found = docker.containers(POSTGRES_ROLE).map_err(|e| e.to_string())?;
    let mut ours: Vec<_> = found.into_iter().filter(|c| app.is_none_or(|a| c.labels.get("ferry.app").is_some_and(|l| l == a))).collect();
    let db = match ours.len() {
        1 => ours.remove(0),
        0 => return Err(format!("no Postgres of {} runs there: provision it first (ferry deploy --target vm --provision)", app.unwrap_or("any app"))),
        _ => {
            let names: Vec<&str> = ours.iter().map(|c| c.name.as_str()).collect();
            return Err(format!("several apps' Postgres run there ({}): name one as `target_vm = \"<target>/<app>\"`", names.join(", ")));
        }
    };
    if db.state != "running" {
        return Err(format!("{} is {}: provision again to start it", db.name, db.state));
    }
    Ok(db)
}

impl VmReader for VmTargets {
    fn targets(&self) -> Vec<VmTargetInfo> {
        self.targets
            .iter()
            .map(|t| VmTargetInfo {
                name: t.name.clone(),
                root: t.root.clone(),
                nginx_sites: t.nginx_sites.clone(),
                lock_ttl_ms: u64::try_from(t.lock_ttl.as_millis()).unwrap_or(u64::MAX),
                lock_path: t.lock_path(),
                keep: t.keep,
                postgres_image: t.postgres_image.clone(),
                acme: t.acme.as_ref().map(|a| AcmeInfo { dns_zone: a.dns_zone.clone() }),
                address: t.address.clone(),
                ssh_key_env: t.ssh_key_env.clone(),
                known_hosts_env: t.known_hosts_env.clone(),
            })
            .collect()
    }

    fn facts(&self, target: &str) -> Result<HostFacts, String> {
        self.reading(target, |docker, config| {
            let f = docker.facts(&config.root).map_err(|e| e.to_string())?;
            Ok(HostFacts {
                os: f.os,
                arch: f.arch,
                docker: f.docker,
                free_disk_mb: f.free_disk_mb,
                listening_ports: f.listening_ports,
                nginx: f.nginx,
                certbot: f.certbot,
            })
        })
    }

    fn containers(&self, target: &str, app: &str) -> Result<Vec<ContainerState>, String> {
        self.reading(target, |docker, _| {
            let listed = docker.containers(&format!("ferry.app={app}")).map_err(|e| e.to_string())?;
            Ok(listed.into_iter().map(|c| ContainerState { name: c.name, image: c.image, state: c.state, labels: c.labels.into_iter().collect() }).collect())
        })
    }

    fn releases(&self, target: &str, app: &str) -> Result<Vec<String>, String> {
        self.reading(target, |docker, config| {
            let dir = ferry_ssh::shell_quote(&format!("{}/{app}/releases", config.root));
            // One record per line: the step writes them as single-line JSON.
            let script = format!("[ -d {dir} ] || exit 0; for f in $(ls {dir} | grep -E '^[0-9]+\\.json$' | sort -n); do cat {dir}/$f; echo; done");
            let out = docker.run(&script).map_err(|e| e.to_string())?;
            Ok(out.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
        })
    }

    fn certificate(&self, target: &str, path: &str) -> Result<Option<CertificateInfo>, String> {
        self.reading(target, |docker, _| {
            let pem = docker.run(&ferry_vm::commands::read_if_present(path)).map_err(|e| e.to_string())?;
            if pem.trim().is_empty() {
                return Ok(None);
            }
            let summary = ferry_acme::summary(&pem).map_err(|e| format!("{path} on {target}: {e}"))?;
            let days_left = match summary.not_after.duration_since(std::time::SystemTime::now()) {
                Ok(left) => i64::try_from(left.as_secs() / 86_400).unwrap_or(i64::MAX),
                Err(past) => -i64::try_from(past.duration().as_secs().div_ceil(86_400)).unwrap_or(i64::MAX),
            };
            let not_after = humantime::format_rfc3339_seconds(summary.not_after).to_string();
            Ok(Some(CertificateInfo { names: summary.names, not_after, days_left }))
        })
    }
}

/// A credential a target names by its variable (its SSH key, its pinned
/// known_hosts).
pub(crate) fn secret(var: &str) -> Result<String, String> {
    ferry_secrets::var(var).map(ferry_secrets::Secret::into_inner).map_err(|e| e.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::*;

    pub(crate) fn parse(extra: &str) -> Result<VmTargetConfig, String> {
        let text = format!("[vm.prod]\nhost = \"root@203.0.113.7\"\nssh_key_env = \"FERRY_SECRET_K\"\nknown_hosts_env = \"FERRY_SECRET_H\"\n{extra}");
        let raw: RawTargets = toml::from_str(&text).map_err(|e| e.to_string())?;
        raw.parse().map(|mut targets| targets.remove(0))
    }

    #[test]
    fn postgres_is_the_default_image_an_image_or_false() {
        assert_eq!(parse("").unwrap().postgres_image.as_deref(), Some(DEFAULT_POSTGRES_IMAGE));
        assert_eq!(parse("postgres = true").unwrap().postgres_image.as_deref(), Some(DEFAULT_POSTGRES_IMAGE));
        assert_eq!(parse("postgres = \"postgres:17-alpine\"").unwrap().postgres_image.as_deref(), Some("postgres:17-alpine"));
        assert_eq!(parse("postgres = false").unwrap().postgres_image, None);
        let empty = parse("postgres = \" \"").unwrap_err();
        assert!(empty.contains("[targets.vm.prod] postgres: an empty image name"), "{empty}");
    }

    #[test]
    fn defaults_and_errors_name_the_target() {
        let target = parse("").unwrap();
        assert_eq!((target.root.as_str(), target.keep, target.lock_ttl, target.read_timeout), ("/srv", 3, Duration::from_secs(120), DEFAULT_READ_TIMEOUT));
        assert_eq!(parse("read_timeout = \"2s\"").unwrap().read_timeout, Duration::from_secs(2));
        let zero = parse("read_timeout = \"0s\"").unwrap_err();
        assert!(zero.contains("[targets.vm.prod] read_timeout must be more than zero"), "{zero}");
        let relative = parse("root = \"srv\"").unwrap_err();
        assert!(relative.contains("[targets.vm.prod] root `srv` must be an absolute path"), "{relative}");
        let ttl = parse("lock_ttl = \"soon\"").unwrap_err();
        assert!(ttl.contains("[targets.vm.prod] lock_ttl `soon`"), "{ttl}");
    }
}
