//! A release on a VM, Kamal-style but without its sharp edges: the new
//! containers start beside the serving ones and must pass their health
//! check before nginx is switched (by a graceful reload), the old release
//! is stopped, not deleted, so a rollback needs no registry and no rebuild,
//! the release command runs in a one-off container before anything
//! switches, and the host lock is renewed by every action and stale once a
//! killed run stops renewing it.

use ferry_step_sdk::host::vm::VmTargetInfo;
use ferry_step_sdk::params::{finding, precondition};
use ferry_step_sdk::types::{
    Action, Operation, Risk, Severity, StepError, Undo, VmBuild, VmContainer, VmContainers, VmFile, VmHealth, VmImage, VmImageSource, VmImages, VmLock, VmOp,
    VmPort,
};

use crate::app::{Group, VmApp};
use crate::checked;
use crate::observed::{LABEL_APP, LABEL_GROUP, LABEL_RELEASE, Observed, ReleaseRecord};
use crate::{Planned, action, certificate, nginx};

/// Ports the web group's releases take on 127.0.0.1: one per release
/// number, so the new one never collides with the one serving.
const PORT_BASE: u16 = 20000;
const PORT_SPAN: u16 = 1000;

/// Where the image comes from.
#[derive(Clone, Debug)]
pub enum ImageFrom {
    /// Built on the host from the checkout, as fly.toml's `[build]` says.
    Build(VmBuild),
    /// `docker save` of this machine's engine, loaded on the host.
    Load(String),
    Pull(String),
}

#[derive(Clone, Debug)]
pub struct Options {
    pub image: ImageFrom,
    pub hostnames: Vec<String>,
    pub wait_timeout_ms: u64,
    /// Also serve 443 with this certificate (paths on the host). Unset on
    /// a target with `[acme]`: the deploy issues one ([`certificate`]).
    pub tls: Option<nginx::Tls>,
}

impl Options {
    /// The certificate the site serves: the one given, else the one the
    /// target's ACME server issues.
    pub fn serving_tls(&self, app: &VmApp, target: &VmTargetInfo) -> Option<nginx::Tls> {
        self.tls.clone().or_else(|| certificate::managed(&app.name, target, &self.hostnames))
    }

    /// Refuses hostnames and TLS paths outside their grammar ([`checked`]):
    /// both are written into the nginx site as they are, so a `;` or `}`
    /// there would be nginx configuration of the caller's choosing.
    pub fn check(&self) -> Result<(), String> {
        for name in &self.hostnames {
            checked::hostname(name)?;
        }
        if let Some(tls) = &self.tls {
            checked::host_path("tls-certificate", &tls.certificate)?;
            checked::host_path("tls-key", &tls.key)?;
        }
        Ok(())
    }
}

/// Refuses a target whose root or nginx site directory is not a plain
/// absolute path: both are written into nginx's config and name host paths.
pub fn check_target(target: &VmTargetInfo) -> Result<(), String> {
    let at = |m: String| format!("[targets.vm.{}] {m}", target.name);
    checked::host_path("root", &target.root).map_err(at)?;
    checked::host_path("nginx_sites", &target.nginx_sites).map_err(at)
}

pub fn plan(app: &VmApp, observed: &Observed, options: &Options) -> Planned {
    let n = observed.next_release();
    let serving = observed.serving();
    let target = &observed.target;
    let mut planned = Planned::default();
    let (lock, unlock) = lock_actions(target);
    planned.actions.push(lock);
    let tls = options.serving_tls(app, target);
    if let Some(tls) = &tls {
        // Issued first: a refused order stops the deploy before anything runs.
        if options.tls.is_none()
            && let Some(why) = certificate::due(observed.certificate.as_ref(), &options.hostnames)
        {
            planned.actions.push(certificate::issue(target, tls, &options.hostnames, &why));
            if !observed.facts.certbot {
                planned.findings.push(finding(
                    "certbot-missing",
                    Severity::Warning,
                    format!("certbot is not installed on {}: the certificate is issued, but nothing renews it there until `ferry deploy --target vm --provision` installs it", target.name),
                ));
            }
        }
        planned.findings.push(certificate::expiry(tls, observed.certificate.as_ref()));
    }
    let tag = app.image_tag(n);
    planned.actions.push(image_action(&target.name, &tag, &options.image));
    if !app.release_command.is_empty() {
        planned.actions.push(release_command(app, &target.name, &tag, n));
    }
    let port = free_port(n, &observed.facts.listening_ports);
    planned.actions.extend(app.groups.iter().map(|g| run(app, &target.name, g, &tag, n, port, options.wait_timeout_ms)));
    if app.web().is_some() {
        planned.actions.push(switch(app, target, n, port, &options.hostnames, tls.as_ref()));
    }
    if app.force_https() && tls.is_none() {
        planned.findings.push(finding(
            "force-https-without-certificate",
            Severity::Warning,
            format!(
                "fly.toml sets force_https, but there is no certificate: port 80 serves the app unencrypted. Add [targets.vm.{}.acme] to ferry.toml and deploy with --hostnames, and ferry issues one; or issue one with `certbot certonly --webroot -w {} -d <hostname>` and deploy with --tls-certificate and --tls-key",
                target.name,
                nginx::acme_dir(&target.root)
            ),
        ));
    }
    planned.actions.extend(stop_others(app, observed, &target.name, &[n]));
    planned.actions.push(record(
        app,
        &target.name,
        &ReleaseRecord { number: n, image: tag.clone(), port: app.web().map(|_| port), source: describe(&options.image) },
    ));
    planned.actions.extend(prune(app, observed, &target.name, n));
    planned.actions.push(unlock);
    let from = serving.map_or("nothing serves yet".to_string(), |s| format!("replaces release {s}"));
    planned.findings.push(finding("release", Severity::Info, format!("release {n} of {} on {} ({from}); {}", app.name, target.name, describe(&options.image))));
    planned
}

/// The release before the serving one, started again and switched to.
pub fn rollback(app: &VmApp, observed: &Observed, options: &Options) -> Result<Planned, StepError> {
    let serving = observed
        .serving()
        .ok_or_else(|| precondition(format!("no release of {} runs on {}: there is nothing to roll back from", app.name, observed.target.name)))?;
    let previous = observed.release_before(serving).ok_or_else(|| {
        precondition(format!("release {serving} is the oldest ferry kept on {}: there is no earlier one to roll back to", observed.target.name))
    })?;
    let target = &observed.target;
    let mut planned = Planned::default();
    let (lock, unlock) = lock_actions(target);
    planned.actions.push(lock);
    let port = previous.port.unwrap_or_else(|| free_port(previous.number, &observed.facts.listening_ports));
    planned.actions.extend(app.groups.iter().map(|g| run(app, &target.name, g, &previous.image, previous.number, port, options.wait_timeout_ms)));
    if app.web().is_some() {
        planned.actions.push(switch(app, target, previous.number, port, &options.hostnames, options.serving_tls(app, target).as_ref()));
    }
    planned.actions.extend(stop_others(app, observed, &target.name, &[previous.number]));
    planned.actions.push(unlock);
    planned.findings.push(finding(
        "rollback",
        Severity::Info,
        format!("rolls {} on {} back from release {serving} to {} ({})", app.name, target.name, previous.number, previous.source),
    ));
    Ok(planned)
}

/// fly.toml's `[build]` for a build on the host: the Dockerfile
/// parse-config read, the stage, the args and the ignorefile (paths
/// relative to the checkout, the context).
pub fn build_from(spec: &ferry_step_sdk::types::AppSpec) -> VmBuild {
    VmBuild {
        dir: ".".into(),
        dockerfile: spec.dockerfile.as_ref().map(|d| d.path.clone()).filter(|path| path != "Dockerfile"),
        target: spec.build.target.clone(),
        args: spec.build.args.clone(),
        ignorefile: spec.build.ignorefile.clone(),
    }
}

/// The lock at the start of a plan and its release at the end.
pub fn lock_actions(target: &VmTargetInfo) -> (Action, Action) {
    let lock = VmLock { target: target.name.clone(), path: target.lock_path.clone(), ttl_ms: target.lock_ttl_ms };
    let ttl = lock.ttl_ms / 1000;
    (
        action(
            format!("vm-lock:{}", target.name),
            format!("lock {} ({}; stale {ttl} s after its holder stops renewing it)", target.name, lock.path),
            Risk::Safe,
            Operation::Vm(VmOp::Lock(lock.clone())),
            Undo::RestorePrevious,
        ),
        action(
            format!("vm-unlock:{}", target.name),
            format!("unlock {}", target.name),
            Risk::Safe,
            Operation::Vm(VmOp::Unlock(lock)),
            Undo::None("the lock is released".into()),
        ),
    )
}

fn describe(image: &ImageFrom) -> String {
    match image {
        ImageFrom::Build(b) => format!(
            "image built on the host from {}{}",
            b.dockerfile.as_deref().unwrap_or("the Dockerfile"),
            b.target.as_ref().map_or(String::new(), |t| format!(" (stage {t})"))
        ),
        ImageFrom::Load(image) => format!("image {image} shipped from here (docker save | docker load)"),
        ImageFrom::Pull(image) => format!("image {image} pulled by the host"),
    }
}

fn image_action(target: &str, tag: &str, from: &ImageFrom) -> Action {
    let source = match from {
        ImageFrom::Build(b) => VmImageSource::Build(b.clone()),
        ImageFrom::Load(image) => VmImageSource::Load(image.clone()),
        ImageFrom::Pull(image) => VmImageSource::Pull(image.clone()),
    };
    action(
        format!("vm-image:{target}:{tag}"),
        format!("{} as {tag}", describe(from)),
        Risk::Safe,
        Operation::Vm(VmOp::Image(VmImage { target: target.into(), tag: tag.into(), source })),
        Undo::None("the image stays on the host until a later deploy removes it with its release".into()),
    )
}

fn release_command(app: &VmApp, target: &str, tag: &str, n: u32) -> Action {
    let container = VmContainer {
        target: target.into(),
        name: format!("{}-release-{n}", app.name),
        image: tag.into(),
        env_file: Some(app.paths.env_file.clone()),
        env: Vec::new(),
        ports: Vec::new(),
        volumes: Vec::new(),
        network: Some(app.name.clone()),
        labels: vec![(LABEL_APP.into(), app.name.clone())],
        command: app.release_command.clone(),
        health: None,
    };
    action(
        format!("vm-release-command:{target}:{n}"),
        format!("run the release command `{}` in a one-off container of release {n}", shell_words(&app.release_command)),
        Risk::Disruptive,
        Operation::Vm(VmOp::ReleaseCommand(container)),
        Undo::None("a release command's changes (e.g. migrations) are the app's to reverse".into()),
    )
}

fn run(app: &VmApp, target: &str, group: &Group, image: &str, n: u32, port: u16, wait_timeout_ms: u64) -> Action {
    let name = app.container(&group.name, n);
    let ports = group.web.iter().map(|w| VmPort { host_ip: "127.0.0.1".into(), host_port: port, container_port: w.internal_port }).collect();
    let health = group.web.as_ref().map(|w| VmHealth { port, path: w.health_path.clone().unwrap_or_default(), timeout_ms: wait_timeout_ms, exec: Vec::new() });
    let gate = match &health {
        Some(h) if !h.path.is_empty() => format!(", healthy when 127.0.0.1:{port}{} answers", h.path),
        Some(_) => format!(", healthy when 127.0.0.1:{port} accepts"),
        None => String::new(),
    };
    let container = VmContainer {
        target: target.into(),
        name: name.clone(),
        image: image.into(),
        env_file: Some(app.paths.env_file.clone()),
        env: Vec::new(),
        ports,
        volumes: group.volumes.clone(),
        network: Some(app.name.clone()),
        labels: vec![(LABEL_APP.into(), app.name.clone()), (LABEL_GROUP.into(), group.name.clone()), (LABEL_RELEASE.into(), n.to_string())],
        command: group.command.clone(),
        health,
    };
    action(format!("vm-run:{target}:{name}"), format!("start {name} ({image}){gate}"), Risk::Safe, Operation::Vm(VmOp::Run(container)), Undo::RestorePrevious)
}

fn switch(app: &VmApp, target: &VmTargetInfo, n: u32, port: u16, hostnames: &[String], tls: Option<&nginx::Tls>) -> Action {
    let path = app.site_file(&target.nginx_sites);
    let acme_dir = nginx::acme_dir(&target.root);
    let site = nginx::Site { app: &app.name, release: n, port, hostnames, tls, acme_dir: &acme_dir, force_https: app.force_https() };
    let ports = match (tls.is_some(), site.redirects()) {
        (true, true) => "443, with 80 redirecting to it",
        (true, false) => "80 and 443",
        _ => "80",
    };
    action(
        format!("vm-switch:{}:{}", target.name, app.name),
        format!("point nginx ({ports}) at release {n} (127.0.0.1:{port}) in {path}, graceful reload"),
        Risk::Disruptive,
        Operation::Vm(VmOp::WriteFile(VmFile { target: target.name.clone(), path, contents: site.render(), mode: 0o644, reload: true })),
        Undo::RestorePrevious,
    )
}

/// Stops the app's running containers of every release but `keep`.
fn stop_others(app: &VmApp, observed: &Observed, target: &str, keep: &[u32]) -> Option<Action> {
    let names: Vec<String> = observed
        .containers
        .iter()
        .filter(|c| c.state == "running" && Observed::label(c, LABEL_GROUP).is_some())
        .filter(|c| Observed::release_of(c).is_some_and(|r| !keep.contains(&r)))
        .map(|c| c.name.clone())
        .collect();
    (!names.is_empty()).then(|| {
        action(
            format!("vm-stop:{target}:{}", names.join(",")),
            format!("stop {} ({} s to finish after SIGTERM; kept for a rollback)", names.join(", "), app.grace_secs),
            Risk::Disruptive,
            Operation::Vm(VmOp::Stop(VmContainers { target: target.into(), names, grace_secs: app.grace_secs })),
            Undo::RestorePrevious,
        )
    })
}

fn record(app: &VmApp, target: &str, release: &ReleaseRecord) -> Action {
    let path = format!("{}/{}.json", app.paths.releases, release.number);
    let contents = format!("{}\n", serde_json::to_string(release).expect("a release record serializes"));
    action(
        format!("vm-record:{target}:{}", release.number),
        format!("record release {} in {path}", release.number),
        Risk::Safe,
        Operation::Vm(VmOp::WriteFile(VmFile { target: target.into(), path, contents, mode: 0o644, reload: false })),
        Undo::RestorePrevious,
    )
}

/// Removes the stopped containers of releases older than the newest
/// `keep` (counting the new one), then every image of the app but the kept
/// releases', so a small server's disk does not fill one image per deploy.
/// The image `--rollback` would start after this deploy (the release
/// before the new one) stays even when its container goes.
fn prune(app: &VmApp, observed: &Observed, target: &str, new: u32) -> Vec<Action> {
    let mut releases: Vec<u32> = observed.containers.iter().filter_map(Observed::release_of).chain([new]).collect();
    releases.sort_unstable();
    releases.dedup();
    let Some(cutoff) = releases.iter().rev().nth(observed.target.keep as usize).copied() else {
        return Vec::new();
    };
    let mut actions = Vec::new();
    let names: Vec<String> = observed.containers.iter().filter(|c| Observed::release_of(c).is_some_and(|r| r <= cutoff)).map(|c| c.name.clone()).collect();
    if !names.is_empty() {
        actions.push(action(
            format!("vm-remove:{target}:{}", names.join(",")),
            format!("remove {} (older than the {} kept releases)", names.join(", "), observed.target.keep),
            Risk::Destructive,
            Operation::Vm(VmOp::Remove(VmContainers { target: target.into(), names, grace_secs: app.grace_secs })),
            Undo::None("`--rollback` starts the release before this one again from its image, which stays".into()),
        ));
    }
    let rollback_to = observed.release_before(new).map(|r| r.number);
    let mut kept: Vec<u32> = releases.into_iter().filter(|r| *r > cutoff).chain(rollback_to).collect();
    kept.sort_unstable();
    kept.dedup();
    let numbers: Vec<String> = kept.iter().map(u32::to_string).collect();
    actions.push(action(
        format!("vm-remove-images:{target}:{}", numbers.join(",")),
        format!("remove {} images except release(s) {}", app.image_repository(), numbers.join(", ")),
        Risk::Disruptive,
        Operation::Vm(VmOp::RemoveImages(VmImages {
            target: target.into(),
            repository: app.image_repository(),
            keep: kept.iter().map(|r| app.image_tag(*r)).collect(),
        })),
        Undo::None("a deploy builds or ships the image again".into()),
    ));
    actions
}

/// The command as a user would type it, quoted where a word needs it
/// (a word holding a NUL byte cannot be quoted: shown as it is).
fn shell_words(words: &[String]) -> String {
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

/// The web port of release `n`: its own slot, stepping past ports in use.
fn free_port(n: u32, listening: &[u16]) -> u16 {
    let slot = u16::try_from(n % u32::from(PORT_SPAN)).unwrap_or(0);
    (0..PORT_SPAN).map(|i| PORT_BASE + (slot + i) % PORT_SPAN).find(|p| !listening.contains(p)).unwrap_or(PORT_BASE + slot)
}
