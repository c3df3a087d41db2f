//! `vm-certificate`: a certificate issued with ACME by this machine and
//! written to the host. The key is made here for the order and crosses the
//! network once, over SSH, into a mode-600 file; the journal holds only the
//! paths of the files it replaced (kept on the host for the undo).

use std::time::{Duration, SystemTime};

use ferry_acme::{Challenge, DnsChallenge, HttpChallenge, Webroot};
use ferry_model::VmCertificate;
use ferry_vm::{DockerHost, commands};

use crate::apply::executor::ExecError;
use crate::dns::DnsZones;
use crate::vm::VmTargetConfig;

/// How long the zone's authoritative servers may take to serve a
/// challenge record before the CA is told to look.
const PROPAGATION_TIMEOUT: Duration = Duration::from_secs(120);

/// A renewal is due within this long of expiry (certbot's rule; a third of
/// Let's Encrypt's 90 days).
pub const RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);

/// The target's webroot, written over SSH.
#[derive(Debug)]
struct HostWebroot<'a> {
    host: &'a DockerHost<'a>,
    dir: String,
}

impl Webroot for HostWebroot<'_> {
    fn put(&self, path: &str, contents: &str) -> Result<(), String> {
        self.host.write_file(&format!("{}/{path}", self.dir), contents.as_bytes(), 0o644).map_err(|e| e.to_string())
    }

    fn remove(&self, path: &str) -> Result<(), String> {
        self.host.run(&commands::remove_file(&format!("{}/{path}", self.dir))).map(drop).map_err(|e| e.to_string())
    }
}

/// Issues the certificate and writes the chain and key; returns the
/// chain's expiry.
pub(super) fn issue(host: &DockerHost<'_>, config: &VmTargetConfig, zones: &DnsZones, c: &VmCertificate) -> Result<SystemTime, ExecError> {
    let acme = config.acme.as_ref().ok_or_else(|| {
        ExecError::Config(format!("[targets.vm.{}] has no [targets.vm.{}.acme] table: ferry.toml must name the ACME server", config.name, config.name))
    })?;
    let issued = match &c.dns_zone {
        Some(zone) => {
            let provider = zones.provider(zone).map_err(ExecError::Config)?;
            let verify = zones.verify_servers(zone).map_err(ExecError::Config)?;
            let zone = ferry_dns::Name::new(zone).map_err(|e| ExecError::Config(format!("zone {zone}: {e}")))?;
            let challenge = Challenge::Dns(DnsChallenge { provider: provider.as_ref(), zone, verify, propagation_timeout: PROPAGATION_TIMEOUT });
            ferry_acme::issue(&acme.directory, &c.names, &challenge)
        }
        None => {
            let webroot = HostWebroot { host, dir: config.acme_webroot() };
            ferry_acme::issue(&acme.directory, &c.names, &Challenge::Http(HttpChallenge { webroot: &webroot }))
        }
    }
    .map_err(|e| ExecError::Failed(format!("{}: {e}", config.name)))?;
    // The key first: a chain without its key would make nginx refuse to load.
    host.write_file(&c.key, issued.key_pem.as_bytes(), 0o600)?;
    host.write_file(&c.certificate, issued.chain_pem.as_bytes(), 0o644)?;
    Ok(issued.not_after)
}

/// Whether the certificate at `c.certificate` is one this action would
/// have written: the same names, and not due for renewal.
pub(super) fn in_place(host: &DockerHost<'_>, c: &VmCertificate) -> Result<bool, ExecError> {
    let pem = host.run(&commands::read_if_present(&c.certificate))?;
    if pem.trim().is_empty() {
        return Ok(false);
    }
    let Ok(found) = ferry_acme::summary(&pem) else { return Ok(false) };
    let (mut want, mut have) = (c.names.clone(), found.names);
    want.sort();
    have.sort();
    Ok(want == have && found.not_after > SystemTime::now() + RENEW_BEFORE)
}
