//! `[targets.vm.<name>]` in ferry.toml: a Docker host, and the variables holding its key and pinned host keys.

use ferry_ssh::HostSpec;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// One `[targets.vm.<name>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmTargetConfig {
    pub name: String,
    pub host: HostSpec,
    pub ssh_key_env: String,
    pub known_hosts_env: String,
    pub root: String,
    pub docker: String,
    pub nginx_sites: String,
    pub nginx_reload: String,
    pub lock_ttl: Duration,
    pub keep: u32,
    /// The Postgres container's image; `None` when the target wants none.
    pub postgres_image: Option<String>,
    /// How long one read of the host may take.
    pub read_timeout: Duration,
    /// `[targets.vm.<name>.acme]`: where the host's certificate comes from.
    pub acme: Option<AcmeConfig>,
    /// The public address DNS points at (a migration's finalize), which
    /// machines on Fly reach the host at to copy volumes.
    pub address: Option<String>,
    /// The SSH user's `authorized_keys` (relative: to its home), where a
    /// volume copy's one-time key is authorized while it runs.
    pub authorized_keys: String,
}

/// `[targets.vm.<name>.acme]`: the ACME server that issues this host's
/// certificates. Only the trusted ferry.toml says where ferry registers an
/// account and sends the names it proves; a step only asks for a
/// certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcmeConfig {
    pub directory: ferry_acme::Directory,
    /// DNS-01 through this `[dns.zones]` zone; none: HTTP-01 from the
    /// target's webroot, which works only once DNS points at the host.
    pub dns_zone: Option<String>,
    /// Where the renewal's cron job goes on the host.
    pub cron_dir: String,
}

impl VmTargetConfig {
    /// Where HTTP-01 challenge files go: nginx serves
    /// `/.well-known/acme-challenge/` of every site from here on port 80
    /// (the vm-plan step's `nginx::acme_dir` writes that location).
    pub fn acme_webroot(&self) -> String {
        format!("{}/acme", self.root)
    }

    /// The host lock every deploy to this target holds.
    pub fn lock_path(&self) -> String {
        format!("{}/.ferry.lock", self.root)
    }
}

/// How long one read of a host may take unless the target says otherwise:
/// a step's default deadline, so a hung host fails the read, by name,
/// rather than the step.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The image provision runs Postgres from unless the target names another.
pub const DEFAULT_POSTGRES_IMAGE: &str = "postgres:16";

/// `postgres = "image"`, `true` (the default image) or `false` (none).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawPostgres {
    Enabled(bool),
    Image(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTargets {
    #[serde(default)]
    vm: BTreeMap<String, RawVmTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVmTarget {
    host: String,
    ssh_key_env: String,
    known_hosts_env: String,
    root: Option<String>,
    docker: Option<String>,
    nginx_sites: Option<String>,
    nginx_reload: Option<String>,
    lock_ttl: Option<String>,
    keep: Option<u32>,
    postgres: Option<RawPostgres>,
    read_timeout: Option<String>,
    acme: Option<RawAcme>,
    address: Option<String>,
    authorized_keys: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcme {
    /// Default: Let's Encrypt's production directory.
    directory: Option<String>,
    /// A PEM file (on the machine running ferry) of the root the ACME
    /// server's own TLS chains to: a private CA, or Pebble in tests.
    ca_bundle: Option<std::path::PathBuf>,
    #[serde(default)]
    contact: Vec<String>,
    dns_zone: Option<String>,
    /// Default `/etc/cron.d`.
    cron_dir: Option<String>,
}

impl RawAcme {
    fn parse(self, at: &impl Fn(String) -> String) -> Result<AcmeConfig, String> {
        let url = self.directory.unwrap_or_else(|| ferry_acme::Directory::LETS_ENCRYPT.into());
        if !url.starts_with("https://") {
            return Err(at(format!("acme.directory `{url}` must be an https:// URL (RFC 8555 §6.1)")));
        }
        if let Some(bad) = self.contact.iter().find(|c| !c.starts_with("mailto:")) {
            return Err(at(format!("acme.contact `{bad}` must be a mailto: address")));
        }
        let roots = self.ca_bundle.map_or(ferry_acme::Roots::System, ferry_acme::Roots::Pem);
        let cron_dir = self.cron_dir.unwrap_or_else(|| "/etc/cron.d".into());
        if !cron_dir.starts_with('/') {
            return Err(at(format!("acme.cron_dir `{cron_dir}` must be an absolute path")));
        }
        Ok(AcmeConfig { directory: ferry_acme::Directory { url, roots, contact: self.contact }, dns_zone: self.dns_zone, cron_dir })
    }
}

impl RawTargets {
    pub(crate) fn parse(self) -> Result<Vec<VmTargetConfig>, String> {
        self.vm.into_iter().map(|(name, raw)| raw.parse(name)).collect()
    }
}

impl RawVmTarget {
    fn parse(self, name: String) -> Result<VmTargetConfig, String> {
        let at = |m: String| format!("[targets.vm.{name}] {m}");
        let host = self.host.parse::<HostSpec>().map_err(|e| at(format!("host: {e}")))?;
        let section = format!("[targets.vm.{name}]");
        crate::workflow::credential_var(&section, "ssh_key_env", &self.ssh_key_env)?;
        crate::workflow::credential_var(&section, "known_hosts_env", &self.known_hosts_env)?;
        let lock_ttl = match &self.lock_ttl {
            Some(text) => humantime::parse_duration(text).map_err(|e| at(format!("lock_ttl `{text}`: {e}")))?,
            None => Duration::from_secs(120),
        };
        let read_timeout = match &self.read_timeout {
            Some(text) => humantime::parse_duration(text).map_err(|e| at(format!("read_timeout `{text}`: {e}")))?,
            None => DEFAULT_READ_TIMEOUT,
        };
        if read_timeout.is_zero() {
            return Err(at("read_timeout must be more than zero".into()));
        }
        let root = self.root.unwrap_or_else(|| "/srv".into());
        if !root.starts_with('/') {
            return Err(at(format!("root `{root}` must be an absolute path")));
        }
        let address = match self.address {
            Some(address) => Some(address.parse::<std::net::IpAddr>().map_err(|_| at(format!("address `{address}` is not an IP address")))?.to_string()),
            None => host.host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string()),
        };
        Ok(VmTargetConfig {
            host,
            ssh_key_env: self.ssh_key_env,
            known_hosts_env: self.known_hosts_env,
            root: root.trim_end_matches('/').to_string(),
            docker: self.docker.unwrap_or_else(|| "docker".into()),
            nginx_sites: self.nginx_sites.unwrap_or_else(|| "/etc/nginx/conf.d".into()),
            nginx_reload: self.nginx_reload.unwrap_or_else(|| "nginx -t && nginx -s reload".into()),
            lock_ttl,
            keep: self.keep.unwrap_or(3).max(1),
            postgres_image: match self.postgres {
                None | Some(RawPostgres::Enabled(true)) => Some(DEFAULT_POSTGRES_IMAGE.into()),
                Some(RawPostgres::Enabled(false)) => None,
                Some(RawPostgres::Image(image)) if image.trim().is_empty() => {
                    return Err(at("postgres: an empty image name; give one, or `false` for no Postgres".into()));
                }
                Some(RawPostgres::Image(image)) => Some(image),
            },
            read_timeout,
            acme: self.acme.map(|a| a.parse(&at)).transpose()?,
            address,
            authorized_keys: self.authorized_keys.unwrap_or_else(|| ".ssh/authorized_keys".into()),
            name,
        })
    }
}
