//! `ferry migrate create`'s checks: everything that would make a later
//! phase fail half-way is found before anything changes, each with what to
//! do about it. A failed check is an error finding; prepare runs them again
//! and refuses to plan while any fails.

use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{AppSpec, Finding, Severity};

use super::observed::{App, Observed, Read};
use super::options::Options;

/// Fly.io's region codes (current and recently retired ones, so an app
/// still in a retired region is not refused for it).
const REGIONS: &[&str] = &[
    "ams", "arn", "atl", "bog", "bom", "bos", "cdg", "den", "dfw", "ewr", "eze", "fra", "gdl", "gig", "gru", "hkg", "iad", "jnb", "lax", "lhr", "mad", "mia",
    "nrt", "ord", "otp", "phx", "qro", "scl", "sea", "sin", "sjc", "syd", "waw", "yul", "yyz",
];

/// Every check, passed ones included (as info), so the plan shows what was checked.
pub fn checks(app: &AppSpec, observed: &Observed, options: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    let source = match &observed.source {
        Read::Found(source) => {
            out.push(pass("source-app", format!("{} exists: {} machine(s), {} volume(s)", options.from, source.machines.len(), source.volumes.len())));
            Some(source)
        }
        Read::Missing => {
            out.push(fail("source-app", format!("app {} does not exist on Fly (or the token's organization cannot see it)", options.from)));
            None
        }
        Read::Denied(m) => {
            out.push(fail("token-scope", format!("the Fly token may not read {}: {m}", options.from)));
            None
        }
    };
    target(&observed.target, options, &mut out);
    region(options, &mut out);
    if let Some(source) = source {
        images(source, &mut out);
        volumes(app, source, &mut out);
        secrets(app, source, options, &[], &mut out);
        certificates(source, options, &mut out);
    }
    services(app, &mut out);
    out
}

/// Whether any check failed.
pub fn failed(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|f| f.severity == Severity::Error).collect()
}

fn target(target: &Read<App>, options: &Options, out: &mut Vec<Finding>) {
    out.push(match target {
        Read::Missing => pass("target-app", format!("the name {} is free", options.to)),
        Read::Found(_) => fail("target-app", format!("app {} exists already: choose another name with --to (ferry creates the new app itself, so it never writes into an app it did not make)", options.to)),
        Read::Denied(m) => fail(
            "token-scope",
            format!(
                "the Fly token may not look up {} ({m}): a migration creates an app, so it needs an organization token (`fly tokens create org -o {}`), not a deploy token",
                options.to, options.org
            ),
        ),
    });
}

fn region(options: &Options, out: &mut Vec<Finding>) {
    let wanted = std::iter::once(options.region()).chain(options.regions.iter().map(String::as_str));
    let unknown: Vec<&str> = wanted.filter(|r| !REGIONS.contains(r)).collect();
    out.push(match (options.region.as_deref(), unknown.as_slice()) {
        (None, _) => fail("region", "no region for the new app: set --region, or primary_region in fly.toml".into()),
        (Some(r), []) => pass("region", format!("the new app's primary region is {r}")),
        (_, unknown) => fail("region", format!("unknown Fly region(s): {} (`fly platform regions` lists them)", unknown.join(", "))),
    });
}

fn images(source: &App, out: &mut Vec<Finding>) {
    let mut images: Vec<String> = source.managed().map(|m| format!("{} ({})", m.image, m.id)).collect();
    let mut distinct: Vec<&str> = source.managed().map(|m| m.image.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    images.sort();
    out.push(match distinct.len() {
        0 => {
            fail("images", "the source runs no Apps V2 machine: nothing says which image to run (adopt its machines first: `ferry plan --phase adopt`)".into())
        }
        1 => pass("images", format!("every machine runs {}", distinct[0])),
        _ => fail(
            "images",
            format!(
                "the machines run {} images: {}. A deploy gives every machine one image: deploy once to settle on one, then migrate",
                distinct.len(),
                images.join(", ")
            ),
        ),
    });
    let unmanaged: Vec<&str> = source.unmanaged().map(|m| m.id.as_str()).collect();
    if !unmanaged.is_empty() {
        out.push(fail(
            "unmanaged-machines",
            format!(
                "machine(s) {} are outside Apps V2 (no fly_platform_version=v2) and would not be carried over: adopt them first (`ferry plan --phase adopt`)",
                unmanaged.join(", ")
            ),
        ));
    }
}

fn volumes(app: &AppSpec, source: &App, out: &mut Vec<Finding>) {
    for v in &source.volumes {
        let mounted = app.mounts.iter().any(|m| m.source == v.name);
        if !mounted {
            out.push(finding(
                "volumes",
                Severity::Warning,
                format!("volume {} ({}, {}) is mounted by no [mounts] of fly.toml: it is not carried over", v.name, v.id, v.region),
            ));
        } else if v.attached_machine.is_none() {
            out.push(finding(
                "volumes",
                Severity::Warning,
                format!("volume {} ({}, {}) is attached to no machine: it is not carried over", v.name, v.id, v.region),
            ));
        }
    }
    let carried: Vec<String> = source.attached_volumes().map(|v| format!("{} ({} GB, {})", v.name, v.size_gb, v.region)).collect();
    if !carried.is_empty() {
        out.push(pass("volumes", format!("{} volume(s) carried over by snapshot once the source is stopped: {}", carried.len(), carried.join(", "))));
    }
}

/// A value for every secret name of the source and fly.toml but those the
/// target makes itself (`made_there`): Fly never gives them back (either
/// kind of migration).
pub(crate) fn secrets(app: &AppSpec, source: &App, options: &Options, made_there: &[&str], out: &mut Vec<Finding>) {
    let mut names: Vec<&String> = source.secrets.iter().chain(&app.secrets).filter(|n| !made_there.contains(&n.as_str())).collect();
    names.sort();
    names.dedup();
    let missing: Vec<&String> = names.iter().copied().filter(|n| !options.provided_secrets.contains(n)).collect();
    out.push(if missing.is_empty() {
        pass("secrets", format!("a value is given for each of the {} secret(s)", names.len()))
    } else {
        let vars: Vec<String> = missing.iter().map(|n| format!("FERRY_SECRET_{n}")).collect();
        fail(
            "secrets",
            format!(
                "no value for {} secret(s): {}. Set {} in ferry's environment (ferry never reads secret values back from Fly)",
                missing.len(),
                missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                vars.join(", ")
            ),
        )
    });
}

fn certificates(source: &App, options: &Options, out: &mut Vec<Finding>) {
    for c in &source.certificates {
        // The REST API's statuses: `active` is issued; `pending_*` is not.
        if c.status != "active" {
            out.push(finding(
                "certificates",
                Severity::Warning,
                format!("the certificate for {} is `{}` on {}: the domain may not point at Fly yet", c.hostname, c.status, options.from),
            ));
        }
        if let Some(zone) = &options.dns_zone {
            let zone = zone.trim_end_matches('.');
            if !(c.hostname == zone || c.hostname.ends_with(&format!(".{zone}"))) {
                out.push(fail(
                    "certificates",
                    format!("{} is not in the zone {zone}: finalize cannot switch its records (drop --dns-zone to switch them by hand)", c.hostname),
                ));
            }
        }
    }
    if !source.certificates.is_empty() {
        let hosts: Vec<&str> = source.certificates.iter().map(|c| c.hostname.as_str()).collect();
        let how = if options.dns_zone.is_some() { "finalize switches their records" } else { "finalize lists the records to change by hand (no --dns-zone)" };
        out.push(pass("certificates", format!("certificate(s) re-added on {}: {}; {how}", options.to, hosts.join(", "))));
    }
}

/// A service that names a process group no `[processes]` defines gets no
/// machine: flyctl deploys it nowhere, silently.
fn services(app: &AppSpec, out: &mut Vec<Finding>) {
    let known = |name: &str| app.groups.iter().any(|g| g.name == name);
    let mut ok = true;
    for s in &app.services {
        for p in s.processes.iter().filter(|p| !known(p)) {
            ok = false;
            out.push(fail(
                "services",
                format!(
                    "a service on internal port {} names process group `{p}`, which [processes] does not define: no machine would serve it",
                    s.internal_port
                ),
            ));
        }
    }
    if ok {
        out.push(pass("services", format!("every service has a process group to run it ({} group(s))", app.groups.len())));
    }
}

pub(crate) fn pass(code: &str, message: String) -> Finding {
    finding(&format!("preflight-{code}"), Severity::Info, format!("✔ {message}"))
}

pub(crate) fn fail(code: &str, message: String) -> Finding {
    finding(&format!("preflight-{code}"), Severity::Error, message)
}
