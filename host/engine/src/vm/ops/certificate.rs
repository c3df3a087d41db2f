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
use crate::vm::{AcmeConfig, VmTargetConfig};

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

/// One file the renewal needs on the host.
pub(super) struct HostFile {
    pub path: String,
    pub contents: String,
    pub mode: u32,
}

/// The certificate's names, checked as DNS names: they go to the CA, into
/// the renewal script and the cron job's file name, and a step proposed
/// them.
fn checked_names(c: &VmCertificate) -> Result<(), ExecError> {
    if c.names.is_empty() {
        return Err(ExecError::Config("a certificate needs at least one name".into()));
    }
    for name in &c.names {
        ferry_dns::Name::new(name).map_err(|e| ExecError::Config(format!("certificate name: {e}")))?;
    }
    Ok(())
}

fn acme_of(config: &VmTargetConfig) -> Result<&AcmeConfig, ExecError> {
    config.acme.as_ref().ok_or_else(|| {
        ExecError::Config(format!("[targets.vm.{}] has no [targets.vm.{}.acme] table: ferry.toml must name the ACME server", config.name, config.name))
    })
}

/// The renewal the host installs beside a certificate: a script running
/// certbot against the same ACME server over HTTP-01 from the webroot
/// (DNS credentials never go to the host), the cron job that runs it
/// twice a day at a random minute of the hour (certbot's own schedule,
/// Debian's `certbot.timer`), and the ACME server's root when ferry.toml
/// names one. certbot keeps its own account and copy under `certbot/`
/// beside the certificate, renews within 30 days of expiry, and its deploy
/// hook installs the new files where nginx reads them and reloads nginx
/// with the target's own command. Made here from ferry.toml, never by a step.
pub(super) fn renewal_files(config: &VmTargetConfig, c: &VmCertificate) -> Result<Vec<HostFile>, ExecError> {
    use ferry_ssh::shell_quote as q;
    checked_names(c)?;
    let acme = acme_of(config)?;
    let dir = c.certificate.rsplit_once('/').map_or(".", |(dir, _)| dir).to_string();
    let subject = &c.names[0];
    // cron ignores files in cron.d whose names hold a dot.
    let job = format!("ferry-cert-{}", subject.replace(['.', '*'], "_"));
    let mut files = Vec::new();
    let mut trust = String::new();
    if let ferry_acme::Roots::Pem(path) = &acme.directory.roots {
        let pem = std::fs::read_to_string(path).map_err(|e| ExecError::Config(format!("acme.ca_bundle {}: {e}", path.display())))?;
        let on_host = format!("{dir}/acme-ca.pem");
        trust = format!(
            "REQUESTS_CA_BUNDLE={}
export REQUESTS_CA_BUNDLE
",
            q(&on_host)
        );
        files.push(HostFile { path: on_host, contents: pem, mode: 0o644 });
    }
    let domains: Vec<String> = c.names.iter().map(|n| format!("-d {}", q(n))).collect();
    let hook = format!(
        "install -m 644 \"$RENEWED_LINEAGE/fullchain.pem\" {} && install -m 600 \"$RENEWED_LINEAGE/privkey.pem\" {} && {}",
        q(&c.certificate),
        q(&c.key),
        config.nginx_reload
    );
    let contact = match acme.directory.contact.first() {
        Some(mailto) => format!("-m {}", q(mailto.trim_start_matches("mailto:"))),
        None => "--register-unsafely-without-email".into(),
    };
    let script = format!(
        "#!/bin/sh\n# Renews the certificate for {names} (installed by ferry; run by {cron}/{job}).\nset -eu\n{trust}exec certbot certonly --non-interactive --agree-tos {contact} \\\n  --config-dir {certbot} --work-dir {certbot}/work --logs-dir {certbot}/logs \\\n  --server {server} --webroot -w {webroot} --cert-name {name} --keep-until-expiring \\\n  {domains} \\\n  --deploy-hook {hook}\n",
        names = c.names.join(", "),
        cron = acme.cron_dir,
        certbot = q(&format!("{dir}/certbot")),
        server = q(&acme.directory.url),
        webroot = q(&config.acme_webroot()),
        name = q(&job),
        domains = domains.join(" "),
        hook = q(&hook),
    );
    let renew = format!("{dir}/renew");
    let cron = format!(
        "# Installed by ferry: renews the certificate for {}.\n0 */12 * * * root sleep $(shuf -i 0-3599 -n 1) && {} >> {} 2>&1\n",
        c.names.join(", "),
        q(&renew),
        q(&format!("{dir}/renew.log"))
    );
    files.push(HostFile { path: renew, contents: script, mode: 0o755 });
    files.push(HostFile { path: format!("{}/{job}", acme.cron_dir.trim_end_matches('/')), contents: cron, mode: 0o644 });
    Ok(files)
}

/// Issues the certificate and writes the chain and key; returns the
/// chain's expiry.
pub(super) fn issue(host: &DockerHost<'_>, config: &VmTargetConfig, zones: &DnsZones, c: &VmCertificate) -> Result<SystemTime, ExecError> {
    checked_names(c)?;
    let acme = acme_of(config)?;
    // Made before the order, so a bad ca_bundle fails before the CA is asked.
    let renewal = if c.renew { renewal_files(config, c)? } else { Vec::new() };
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
    for file in renewal {
        host.write_file(&file.path, file.contents.as_bytes(), file.mode)?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(names: &[&str]) -> VmCertificate {
        VmCertificate {
            target: "prod".into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            certificate: "/srv/shop/tls/fullchain.pem".into(),
            key: "/srv/shop/tls/privkey.pem".into(),
            dns_zone: None,
            reload: false,
            renew: true,
        }
    }

    /// A name becomes part of a root cron job's file name and of a script
    /// cron runs as root: only DNS names get that far.
    #[test]
    fn only_dns_names_reach_the_renewal() {
        assert!(checked_names(&certificate(&["shop.example.com", "*.example.com"])).is_ok());
        for bad in ["shop.example.com\n* * * * * root sh /tmp/x", "../../etc/cron.d/x", "a b.example.com", "x;reboot.example.com"] {
            let error = checked_names(&certificate(&["ok.example.com", bad])).unwrap_err().to_string();
            assert!(error.contains("certificate name"), "{bad:?}: {error}");
        }
        assert!(checked_names(&certificate(&[])).unwrap_err().to_string().contains("at least one name"));
    }
}
