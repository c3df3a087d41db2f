//! `create` for a move to a VM: everything checked before anything
//! changes, each check a finding that names what to fix.

use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{AppSpec, Finding, Severity};

use super::Host;
use super::phases::hostnames;
use crate::migration::preflight::{fail, pass, secrets};
use crate::migration::{App, Options, Read};

/// Room for the image, logs and growth beyond the copied data, in MB.
const DISK_MARGIN_MB: u64 = 2048;

/// The preflight's findings; any `Error` stops `create`.
pub fn checks(
    app: &AppSpec,
    source: &Read<App>,
    host: &Host,
    postgres_app: &Option<Read<App>>,
    zone: Option<&Result<u32, String>>,
    options: &Options,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let target = &host.target.name;
    let source = match source {
        Read::Found(s) => {
            out.push(pass("source", format!("{} exists on Fly: {} machine(s), {} volume(s)", options.from, s.managed().count(), s.volumes.len())));
            Some(s)
        }
        Read::Missing => {
            out.push(fail("source", format!("app {} does not exist on Fly (or the token cannot see it)", options.from)));
            None
        }
        Read::Denied(why) => {
            out.push(fail("source", format!("the token may not read {}: {why}", options.from)));
            None
        }
    };
    match &host.facts {
        Ok(facts) => {
            out.push(pass("host", format!("{target} answers over SSH with its pinned host key: {} ({})", facts.os, facts.arch)));
            if let Some(source) = source {
                disk(source, facts.free_disk_mb, target, &mut out);
            }
            for port in [80, 443] {
                if facts.listening_ports.contains(&port) && !facts.nginx {
                    out.push(fail("ports", format!("port {port} on {target} is taken by something other than nginx: free it, nginx serves the app there")));
                }
            }
        }
        Err(why) => out.push(fail("host", format!("cannot read {target}: {why}"))),
    }
    match (&options.dns_zone, zone) {
        (Some(name), Some(Ok(size))) => out.push(pass("dns-zone", format!("zone {name} is configured and readable ({size} record sets)"))),
        (Some(name), Some(Err(why))) => out.push(fail("dns-zone", format!("zone {name}: {why}"))),
        (Some(name), None) => out.push(fail("dns-zone", format!("zone {name}: {}", why_missing()))),
        (None, _) => out.push(finding(
            "dns-zone",
            Severity::Warning,
            "no --dns-zone: finalize lists the records to point at the host instead of switching them".to_string(),
        )),
    }
    if host.target.address.is_none() {
        out.push(fail("address", format!("[targets.vm.{target}] has no `address`: set the public IP address DNS should point at")));
    }
    if let Some(source) = source {
        // Fly Postgres moves into a Postgres the host runs, whose
        // DATABASE_URL the host makes (vm-plan's provision).
        let database_url = ferry_vm_plan::postgres::DATABASE_URL;
        let fly_postgres = source.secrets.iter().any(|s| s == database_url) && !options.provided_secrets.iter().any(|s| s == database_url);
        let made_there: &[&str] = match (&host.target.postgres_image, fly_postgres) {
            (Some(image), true) => {
                out.push(finding(
                    "postgres",
                    Severity::Info,
                    format!("{database_url} is a secret (Fly Postgres): {target} runs {image} for the app, and the data phase copies the database into it"),
                ));
                &[database_url]
            }
            (None, _) | (_, false) => &[],
        };
        secrets(app, source, options, made_there, &mut out);
        match (&options.postgres_app, postgres_app) {
            (Some(name), Some(Read::Found(_))) => {
                out.push(pass("postgres-app", format!("Fly Postgres app {name} exists: decommission deletes it with {}", options.from)))
            }
            (Some(name), Some(Read::Missing)) => {
                out.push(fail("postgres-app", format!("Fly Postgres app {name} does not exist (or the token cannot see it): check --postgres-app")))
            }
            (Some(name), Some(Read::Denied(why))) => out.push(fail("postgres-app", format!("the token may not read Fly Postgres app {name}: {why}"))),
            (None, _) if fly_postgres => out.push(finding(
                "postgres-app",
                Severity::Info,
                "decommission leaves the Fly Postgres app: name it with `--postgres-app` at create to have it deleted then".to_string(),
            )),
            (Some(_), None) | (None, _) => {}
        }
        names(source, host, &mut out);
        what_changes(app, source, target, &mut out);
    }
    out
}

fn why_missing() -> String {
    "not configured: add it to ferry.toml under [dns.zones]".into()
}

/// Free disk against the volumes the data phase copies, plus a margin.
fn disk(source: &App, free_mb: Option<u64>, target: &str, out: &mut Vec<Finding>) {
    let volumes_mb: u64 = source.attached_volumes().map(|v| u64::from(v.size_gb) * 1024).sum();
    let needed = volumes_mb + DISK_MARGIN_MB;
    match free_mb {
        Some(free) if free < needed => out.push(fail(
            "disk",
            format!("{target} has {free} MB free; the volumes take up to {volumes_mb} MB, and {DISK_MARGIN_MB} MB more are needed for the image and growth"),
        )),
        Some(free) => out.push(pass("disk", format!("{target} has {free} MB free for {volumes_mb} MB of volumes"))),
        None => out.push(finding("disk", Severity::Warning, format!("could not read {target}'s free disk: make sure {needed} MB are free"))),
    }
}

/// The names the host serves: the source's certificates' hostnames.
fn names(source: &App, host: &Host, out: &mut Vec<Finding>) {
    let target = &host.target.name;
    let names = hostnames(source);
    if names.is_empty() {
        out.push(finding(
            "hostnames",
            Severity::Warning,
            format!("the app has no certificates on Fly, so no names to move: nginx on {target} answers every name"),
        ));
        return;
    }
    match &host.target.acme {
        Some(acme) => out.push(pass(
            "tls",
            format!(
                "prepare issues a certificate for {} from [targets.vm.{target}.acme]{}",
                names.join(", "),
                if acme.dns_zone.is_some() { " by DNS-01, before DNS moves" } else { " by HTTP-01, which works only once DNS points at the host" }
            ),
        )),
        None => out.push(finding(
            "tls",
            Severity::Warning,
            format!("[targets.vm.{target}] has no [acme] table: the host serves {} over HTTP only until you give it a certificate", names.join(", ")),
        )),
    }
}

/// What does not carry over as it runs on Fly.
fn what_changes(app: &AppSpec, source: &App, target: &str, out: &mut Vec<Finding>) {
    let mut groups: Vec<String> = source.managed().map(|m| m.process_group.clone().unwrap_or_else(|| "app".into())).collect();
    groups.sort();
    groups.dedup();
    for group in &groups {
        let n = source.in_group(group).count();
        if n > 1 {
            out.push(finding("scale", Severity::Warning, format!("group {group} runs {n} machines on Fly; on {target} it runs as one container")));
        }
    }
    let mut regions: Vec<&str> = source.managed().map(|m| m.region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    if regions.len() > 1 {
        out.push(finding("regions", Severity::Warning, format!("the app runs in {} regions ({}); {target} is one place", regions.len(), regions.join(", "))));
    }
    for v in source.attached_volumes() {
        out.push(finding("volume", Severity::Info, format!("volume {} ({} GB): the data phase copies it to {target}", v.name, v.size_gb)));
    }
    if app.services.iter().any(|s| s.protocol != ferry_step_sdk::types::ServiceProtocol::Tcp) {
        out.push(finding("udp", Severity::Warning, format!("a UDP service does not go through nginx on {target}: publish its port yourself")));
    }
}
