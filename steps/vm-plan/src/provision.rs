//! Provision: what a host needs before the first release, planned from the
//! host's facts. Installing Docker or nginx is an action in the plan, never
//! a surprise; a secret without a value is flagged, not invented. An app
//! that had Fly Postgres gets one on the host (see [`crate::postgres`]).

use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{Operation, Risk, Severity, Undo, VmEnvFile, VmNetwork, VmOp, VmPackages, VmPaths};

use crate::app::VmApp;
use crate::observed::Observed;
use crate::postgres::{DATABASE_URL, Postgres};
use crate::{Planned, action, deploy::lock_actions};

/// Below this, a deploy (image layers, logs) risks filling the disk.
const LOW_DISK_MB: u64 = 2048;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Secret names ferry has a value for (`FERRY_SECRET_<NAME>`).
    pub provided_secrets: Vec<String>,
    /// How long the database container has to become ready.
    pub wait_timeout_ms: u64,
}

pub fn plan(app: &VmApp, observed: &Observed, options: &Options) -> Planned {
    let target = observed.target.name.clone();
    let postgres = postgres(app, observed, &options.provided_secrets);
    let mut planned = Planned::default();
    let (lock, unlock) = lock_actions(&observed.target);
    planned.actions.push(lock);
    let certbot = observed.target.acme.is_some() && !observed.facts.certbot;
    let packages: Vec<String> = [(observed.facts.docker.is_none(), "docker.io"), (!observed.facts.nginx, "nginx"), (certbot, "certbot")]
        .into_iter()
        .filter(|(missing, _)| *missing)
        .map(|(_, package)| package.to_string())
        .collect();
    if !packages.is_empty() {
        planned.actions.push(action(
            format!("vm-install-packages:{target}"),
            format!("install {} on {target} (apt-get; {})", packages.join(", "), observed.facts.os),
            Risk::Disruptive,
            Operation::Vm(VmOp::InstallPackages(VmPackages { target: target.clone(), packages })),
            Undo::None("installed packages stay; remove them by hand if you want them gone".into()),
        ));
    }
    let mut dirs = vec![app.paths.dir.clone(), app.paths.releases.clone(), crate::nginx::acme_dir(&observed.target.root)];
    if observed.target.acme.is_some() {
        // Where the managed certificate goes: made here, so an undo removes it.
        dirs.push(app.paths.tls());
    }
    dirs.extend(app.groups.iter().flat_map(|g| g.volumes.iter().map(|(host, _)| host.clone())));
    dirs.extend(postgres.iter().map(|pg| pg.data_dir.clone()));
    dirs.dedup();
    planned.actions.push(action(
        format!("vm-mkdir:{target}:{}", app.name),
        format!("create {} on {target}", dirs.join(", ")),
        Risk::Safe,
        Operation::Vm(VmOp::Mkdir(VmPaths { target: target.clone(), paths: dirs })),
        Undo::RestorePrevious,
    ));
    planned.actions.push(action(
        format!("vm-network:{target}:{}", app.name),
        format!("create the Docker network {} on {target}", app.name),
        Risk::Safe,
        Operation::Vm(VmOp::Network(VmNetwork { target: target.clone(), name: app.name.clone() })),
        Undo::RestorePrevious,
    ));
    if let Some(pg) = &postgres {
        planned.actions.extend(pg.actions(app, observed, options.wait_timeout_ms));
    }
    planned.actions.push(env_file(app, &target, postgres.as_ref()));
    planned.actions.push(unlock);
    planned.findings = checks(app, observed, &options.provided_secrets, postgres.as_ref());
    planned
}

/// The database to run when DATABASE_URL is a secret nobody gave a value
/// for (a given one means the app keeps that database) and the target
/// allows it.
pub fn postgres(app: &VmApp, observed: &Observed, provided: &[String]) -> Option<Postgres> {
    let wanted = app.secrets.iter().any(|s| s == DATABASE_URL) && !provided.iter().any(|s| s == DATABASE_URL);
    let image = observed.target.postgres_image.as_deref().filter(|_| wanted)?;
    Some(Postgres::new(app, image, &observed.facts.listening_ports))
}

fn env_file(app: &VmApp, target: &str, postgres: Option<&Postgres>) -> ferry_step_sdk::types::Action {
    let secrets: Vec<String> = app.secrets.iter().filter(|s| postgres.is_none() || *s != DATABASE_URL).cloned().collect();
    let names = if secrets.is_empty() { "no secrets".to_string() } else { format!("secrets {} by name", secrets.join(", ")) };
    let database = postgres.map_or(String::new(), |pg| format!(", DATABASE_URL pointing at {}", pg.container));
    action(
        format!("vm-env-file:{target}:{}", app.name),
        format!("write {} (mode 600): {} value(s) from fly.toml, {names}{database}", app.paths.env_file, app.env.len()),
        Risk::Safe,
        Operation::Vm(VmOp::EnvFile(VmEnvFile {
            target: target.into(),
            path: app.paths.env_file.clone(),
            env: app.env.clone(),
            secrets,
            from_files: postgres.map(Postgres::url_value).into_iter().collect(),
        })),
        Undo::RestorePrevious,
    )
}

fn checks(app: &VmApp, observed: &Observed, provided: &[String], postgres: Option<&Postgres>) -> Vec<ferry_step_sdk::types::Finding> {
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
    let missing: Vec<&String> = app.secrets.iter().filter(|s| !provided.contains(s) && (postgres.is_none() || *s != DATABASE_URL)).collect();
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
        out.push(finding(
            "low-disk",
            Severity::Warning,
            format!("only {} MB free under {}: images and logs may fill it", facts.free_disk_mb.unwrap_or(0), observed.target.root),
        ));
    }
    if !facts.nginx && facts.listening_ports.contains(&80) {
        out.push(finding(
            "port-80-taken",
            Severity::Error,
            "port 80 is in use by something other than nginx: free it, or install nginx in its place, before provisioning",
        ));
    }
    if app.unrouted > 0 {
        out.push(finding(
            "services-unrouted",
            Severity::Warning,
            format!("nginx routes the first service only; {} more service(s) in fly.toml are not exposed", app.unrouted),
        ));
    }
    if let Some(note) = postgres_note(app, observed, provided, postgres) {
        out.push(finding("postgres", Severity::Info, note));
    }
    out
}

fn postgres_note(app: &VmApp, observed: &Observed, provided: &[String], postgres: Option<&Postgres>) -> Option<String> {
    if !app.secrets.iter().any(|s| s == DATABASE_URL) {
        return None;
    }
    Some(match postgres {
        Some(pg) => {
            let target = &observed.target.name;
            format!(
                "DATABASE_URL was a secret (Fly Postgres): {target} runs {} as database {} on this host, reachable by the app as {}:5432 and from the host on 127.0.0.1:{}; its password stays in {}. Move the data in before the first deploy: copy-data with `target_vm = \"{target}\"` under [data.postgres.<name>]",
                pg.image, pg.name, pg.container, pg.host_port, pg.password_file
            )
        }
        None if provided.iter().any(|s| s == DATABASE_URL) => {
            "DATABASE_URL is given (FERRY_SECRET_DATABASE_URL): the app keeps that database; no Postgres runs on the host".into()
        }
        None => {
            format!("[targets.vm.{}] says postgres = false: DATABASE_URL stays a placeholder until FERRY_SECRET_DATABASE_URL gives it", observed.target.name)
        }
    })
}
