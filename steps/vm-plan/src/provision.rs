//! Provision: what a host needs before the first release, planned from the
//! host's facts. Installing Docker or nginx is an action in the plan, never
//! a surprise; a secret without a value is flagged, not invented.

use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{Operation, Risk, Severity, Undo, VmEnvFile, VmNetwork, VmPackages, VmPaths};

use crate::app::VmApp;
use crate::observed::Observed;
use crate::{Planned, action, deploy::lock_actions};

/// Below this, a deploy (image layers, logs) risks filling the disk.
const LOW_DISK_MB: u64 = 2048;

pub fn plan(app: &VmApp, observed: &Observed, provided_secrets: &[String]) -> Planned {
    let target = observed.target.name.clone();
    let mut planned = Planned::default();
    let (lock, unlock) = lock_actions(&observed.target);
    planned.actions.push(lock);
    let packages: Vec<String> = [(observed.facts.docker.is_none(), "docker.io"), (!observed.facts.nginx, "nginx")]
        .into_iter()
        .filter_map(|(missing, package)| missing.then(|| package.to_string()))
        .collect();
    if !packages.is_empty() {
        planned.actions.push(action(
            format!("vm-install-packages:{target}"),
            format!("install {} on {target} (apt-get; {})", packages.join(" and "), observed.facts.os),
            Risk::Disruptive,
            Operation::VmInstallPackages(VmPackages { target: target.clone(), packages }),
            Undo::None("installed packages stay; remove them by hand if you want them gone".into()),
        ));
    }
    let mut dirs = vec![app.paths.dir.clone(), app.paths.releases.clone()];
    dirs.extend(app.groups.iter().flat_map(|g| g.volumes.iter().map(|(host, _)| host.clone())));
    dirs.dedup();
    planned.actions.push(action(
        format!("vm-mkdir:{target}:{}", app.name),
        format!("create {} on {target}", dirs.join(", ")),
        Risk::Safe,
        Operation::VmMkdir(VmPaths { target: target.clone(), paths: dirs }),
        Undo::RestorePrevious,
    ));
    planned.actions.push(action(
        format!("vm-network:{target}:{}", app.name),
        format!("create the Docker network {} on {target}", app.name),
        Risk::Safe,
        Operation::VmNetwork(VmNetwork { target: target.clone(), name: app.name.clone() }),
        Undo::RestorePrevious,
    ));
    planned.actions.push(env_file(app, &target));
    planned.actions.push(unlock);
    planned.findings = checks(app, observed, provided_secrets);
    planned
}

fn env_file(app: &VmApp, target: &str) -> ferry_step_sdk::types::Action {
    let names = if app.secrets.is_empty() { "no secrets".to_string() } else { format!("secrets {}", app.secrets.join(", ")) };
    action(
        format!("vm-env-file:{target}:{}", app.name),
        format!("write {} (mode 600): {} value(s) from fly.toml, {names} by name", app.paths.env_file, app.env.len()),
        Risk::Safe,
        Operation::VmEnvFile(VmEnvFile { target: target.into(), path: app.paths.env_file.clone(), env: app.env.clone(), secrets: app.secrets.clone() }),
        Undo::RestorePrevious,
    )
}

fn checks(app: &VmApp, observed: &Observed, provided: &[String]) -> Vec<ferry_step_sdk::types::Finding> {
    let facts = &observed.facts;
    let mut out = vec![finding(
        "host",
        Severity::Info,
        format!(
            "{}: {} ({}), Docker {}, nginx {}, {} MB free, listening on {:?}",
            observed.target.name,
            facts.os,
            facts.arch,
            facts.docker.as_deref().unwrap_or("missing"),
            if facts.nginx { "present" } else { "missing" },
            facts.free_disk_mb.map_or("?".into(), |mb| mb.to_string()),
            facts.listening_ports
        ),
    )];
    let missing: Vec<&String> = app.secrets.iter().filter(|s| !provided.contains(s)).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        let vars: Vec<String> = names.iter().map(|n| format!("FERRY_SECRET_{n}")).collect();
        out.push(finding(
            "secret-placeholders",
            Severity::Warning,
            format!("no value for {}: the env file gets a commented placeholder for each; set {} and provision again", names.join(", "), vars.join(", ")),
        ));
    }
    if facts.free_disk_mb.is_some_and(|mb| mb < LOW_DISK_MB) {
        out.push(finding("low-disk", Severity::Warning, format!("only {} MB free under {}: images and logs may fill it", facts.free_disk_mb.unwrap_or(0), observed.target.root)));
    }
    if !facts.nginx && facts.listening_ports.contains(&80) {
        out.push(finding("port-80-taken", Severity::Error, "port 80 is in use by something other than nginx: free it, or install nginx in its place, before provisioning"));
    }
    if app.unrouted > 0 {
        out.push(finding("services-unrouted", Severity::Warning, format!("nginx routes the first service only; {} more service(s) in fly.toml are not exposed", app.unrouted)));
    }
    if app.secrets.iter().any(|s| s == "DATABASE_URL") {
        out.push(finding(
            "postgres",
            Severity::Info,
            "DATABASE_URL is a secret: ferry does not create a Postgres on the host yet; copy the data with copy-data into one you run, and give its URL as FERRY_SECRET_DATABASE_URL",
        ));
    }
    out
}
