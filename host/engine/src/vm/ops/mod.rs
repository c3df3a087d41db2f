//! VM operations: a Docker host the user owns, over SSH (ferry-vm). Every
//! action first renews (or takes) the host lock, and a long one keeps
//! renewing it from a thread, so a deploy that a kill interrupted and a
//! resume continues still holds the host, and a silent ten-minute build
//! never lets it lapse; files ferry
//! replaces are kept beside them on the host for the undo, so the journal
//! never holds an env file's secrets.

mod certificate;
mod env_file;
mod from_fly;

pub use from_fly::JOB_IMAGE;

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_model::Risk::{Destructive, Disruptive, Safe};
use ferry_model::{VmCertificate, VmContainer, VmEnvFile, VmFile, VmFlyVolume, VmHealth, VmImageSource, VmLock, VmOp, VolumePass};
use ferry_ssh::Session;
use ferry_state::lock::LockRecord;
use ferry_vm::{ContainerSpec, DockerHost, Probe, Publish, Untagged, commands};
use serde::{Deserialize, Serialize};

use crate::apply::executor::{ExecError, Ops, Outputs, mismatch};
use crate::apply::{Owner, SECRET_VAR_PREFIX, now_ms};
use crate::dns::DnsZones;
use crate::fly::ops::FlyOps;
use crate::journal::NOTE_OUTPUT;
use crate::policy::words::*;
use crate::policy::{BOOKKEEPING, Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at, restore};
use crate::vm::{VmTargetConfig, VmTargets};

/// What the host lock says it is for.
const LOCK_PURPOSE: &str = "deploy to this host";

/// The VM side of the executor.
#[derive(Debug)]
pub struct VmOps {
    targets: Arc<VmTargets>,
    owner: Owner,
    checkout: PathBuf,
    /// For DNS-01: the zones a certificate's challenge record may go to.
    zones: DnsZones,
    /// For volumes copied out of Fly; `None` without a Fly API token.
    fly: Option<Arc<FlyOps>>,
}

impl VmOps {
    pub fn new(targets: Arc<VmTargets>, owner: Owner, checkout: PathBuf, zones: DnsZones, fly: Option<Arc<FlyOps>>) -> Self {
        VmOps { targets, owner, checkout, zones, fly }
    }

    fn fly(&self) -> Result<&FlyOps, ExecError> {
        self.fly.as_deref().ok_or_else(|| {
            ExecError::Config("copying data out of Fly needs the Fly API: set FLY_API_TOKEN (a token that may start machines in the source app)".into())
        })
    }

    fn target_of(op: &VmOp) -> &str {
        match op {
            VmOp::Lock(l) | VmOp::Unlock(l) => &l.target,
            VmOp::InstallPackages(p) => &p.target,
            VmOp::Mkdir(p) | VmOp::RemovePaths(p) => &p.target,
            VmOp::Network(n) => &n.target,
            VmOp::WriteFile(f) => &f.target,
            VmOp::EnvFile(f) => &f.target,
            VmOp::Secret(f) => &f.target,
            VmOp::Image(i) => &i.target,
            VmOp::ReleaseCommand(c) | VmOp::Run(c) => &c.target,
            VmOp::Stop(c) | VmOp::Remove(c) => &c.target,
            VmOp::RemoveImages(i) => &i.target,
            VmOp::Certificate(c) => &c.target,
            VmOp::FlyVolume(c) => &c.target,
            VmOp::FlyPostgres(c) => &c.target,
        }
    }

    /// Runs `f` with the target's Docker host. A target ferry.toml does not
    /// name is a `Config` error; one whose session does not open (its key,
    /// its host key, the network) is `Failed`, naming the target.
    fn on<T>(&self, op: &VmOp, f: impl FnOnce(&DockerHost<'_>, &VmTargetConfig) -> Result<T, ExecError>) -> Result<T, ExecError> {
        let (config, session) = self.open(op)?;
        f(&DockerHost::new(&session, &config.docker), config)
    }

    /// [`VmOps::on`] for the checks before and after an action (what
    /// exists, what runs, what a file holds): each command is bounded by
    /// the target's `read_timeout`.
    fn reading<T>(&self, op: &VmOp, f: impl FnOnce(&DockerHost<'_>, &VmTargetConfig) -> Result<T, ExecError>) -> Result<T, ExecError> {
        let (config, session) = self.open(op)?;
        f(&DockerHost::new(&session, &config.docker).within(config.read_timeout), config)
    }

    fn open(&self, op: &VmOp) -> Result<(&VmTargetConfig, Arc<Session>), ExecError> {
        let target = Self::target_of(op);
        let config = self.targets.config(target).map_err(ExecError::Config)?;
        Ok((config, self.targets.session(target)?))
    }

    /// Runs `work` (an install, a build, a release command, a health wait:
    /// minutes, maybe silent) while a thread renews the host lock each third
    /// of its TTL, so it cannot lapse and be taken over underneath.
    fn renewing_lock<T>(&self, host: &DockerHost<'_>, config: &VmTargetConfig, work: impl FnOnce() -> T) -> T {
        let renew = || {
            if let Err(e) = self.hold_lock(host, config) {
                tracing::warn!("{}: renewing the host lock: {e}", config.name);
            }
            ControlFlow::<std::convert::Infallible>::Continue(())
        };
        crate::apply::renewer::while_renewing(config.lock_ttl / 3, renew, |_| work()).0
    }

    fn act(&self, host: &DockerHost<'_>, config: &VmTargetConfig, op: &VmOp, keepalive: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError> {
        match op {
            VmOp::Lock(l) => Ok(vec![("lock".into(), l.path.clone())]),
            VmOp::Unlock(l) => self.release_lock(host, l).map(|()| Vec::new()),
            VmOp::InstallPackages(p) => {
                sh(host, &commands::install_packages(&p.packages, host.session().host().user == "root"))?;
                Ok(Vec::new())
            }
            VmOp::Mkdir(p) => sh(host, &commands::make_dirs(&p.paths)).map(|_| Vec::new()),
            VmOp::RemovePaths(p) => {
                for path in &p.paths {
                    from_fly::checked_dir(config, path)?;
                }
                sh(host, &commands::remove_trees(&p.paths)).map(|_| Vec::new())
            }
            VmOp::Network(n) => host.ensure_network(&n.name).map(|()| Vec::new()).map_err(ExecError::from),
            VmOp::WriteFile(f) => {
                host.write_file(&f.path, f.contents.as_bytes(), f.mode)?;
                if f.reload {
                    sh(host, &config.nginx_reload)?;
                }
                Ok(vec![("file".into(), f.path.clone())])
            }
            VmOp::EnvFile(f) => {
                host.write_file(&f.path, env_file(host, f)?.as_bytes(), 0o600)?;
                Ok(vec![("file".into(), f.path.clone())])
            }
            VmOp::Secret(f) => make_secret(host, &f.path).map(|()| vec![("file".into(), f.path.clone())]),
            VmOp::Image(i) => self.image(host, i).map(|id| vec![("image".into(), id)]),
            VmOp::ReleaseCommand(c) => release_command(host, c, keepalive).map(|()| Vec::new()),
            VmOp::Run(c) => run(host, c, keepalive).map(|()| vec![("container".into(), c.name.clone())]),
            VmOp::Stop(c) => {
                for name in &c.names {
                    host.stop(name, c.grace_secs)?;
                }
                Ok(Vec::new())
            }
            VmOp::Remove(c) => {
                for name in &c.names {
                    host.remove(name)?;
                }
                Ok(Vec::new())
            }
            VmOp::RemoveImages(i) => {
                let (mut removed, mut in_use) = (Vec::new(), Vec::new());
                for tag in host.tags(&i.repository)?.into_iter().filter(|t| !i.keep.contains(t)) {
                    match host.untag(&tag)? {
                        Untagged::Removed => removed.push(tag),
                        Untagged::InUse => in_use.push(tag),
                        Untagged::Absent => {}
                    }
                }
                if !in_use.is_empty() {
                    tracing::info!("{}: kept {} (a container still uses the image)", config.name, in_use.join(", "));
                }
                let removed = if removed.is_empty() { "none".to_string() } else { removed.join(", ") };
                Ok(vec![(NOTE_OUTPUT.into(), format!("removed {removed}"))])
            }
            VmOp::Certificate(c) => {
                let not_after = certificate::issue(host, config, &self.zones, c)?;
                if c.reload {
                    sh(host, &config.nginx_reload)?;
                }
                Ok(vec![
                    ("certificate".into(), c.certificate.clone()),
                    (NOTE_OUTPUT.into(), format!("valid until {}", humantime::format_rfc3339_seconds(not_after))),
                ])
            }
            VmOp::FlyVolume(c) => from_fly::volume::copy(host, config, self.fly()?, c, keepalive),
            VmOp::FlyPostgres(c) => from_fly::postgres::copy(host, config, self.fly()?, c, keepalive),
        }
    }

    fn image(&self, host: &DockerHost<'_>, i: &ferry_model::VmImage) -> Result<String, ExecError> {
        let tag = |from: &str| host.tag(from, &i.tag).map_err(ExecError::from);
        match &i.source {
            VmImageSource::Build(b) => {
                let context = ferry_checkout::directory(&self.checkout, &b.dir).map_err(|e| ExecError::Config(e.to_string()))?;
                // The host's Docker reads these from the unpacked context,
                // where a committed link would lead into the host's own files.
                for file in [b.dockerfile.as_deref().unwrap_or("Dockerfile")].into_iter().chain(b.ignorefile.as_deref()) {
                    ferry_checkout::without_links(&context, file).map_err(|e| ExecError::Config(e.to_string()))?;
                }
                host.build(
                    &context,
                    &ferry_vm::Build { dockerfile: b.dockerfile.as_deref(), target: b.target.as_deref(), args: &b.args, ignorefile: b.ignorefile.as_deref() },
                    &i.tag,
                )?;
            }
            VmImageSource::Load(image) => {
                let (id, shipped) = host.ship(image)?;
                match shipped {
                    ferry_vm::Shipped::Sent => tracing::info!("shipped {image} to the host (docker save | docker load)"),
                    ferry_vm::Shipped::AlreadyThere => tracing::info!("the host has {image} already ({id}): nothing shipped"),
                }
                tag(&id)?;
            }
            VmImageSource::Pull(image) => {
                host.pull(image)?;
                tag(image)?;
            }
        }
        host.image_id(&i.tag)?.ok_or_else(|| ExecError::Failed(format!("image {} is not on the host after it was made", i.tag)))
    }

    /// The host lock: the same record, and the same rules for who holds it
    /// and when it is stale, as the state store's lock of an app
    /// (`ferry_state::lock`); only where it is kept differs.
    fn read_lock(&self, host: &DockerHost<'_>, config: &VmTargetConfig) -> Result<Option<LockRecord>, ExecError> {
        let text = sh(host, &commands::read_if_present(&config.lock_path()))?;
        Ok(serde_json::from_str(text.trim()).ok())
    }

    fn holds(&self, lock: &LockRecord) -> bool {
        lock.held_by(&self.owner.holder(LOCK_PURPOSE))
    }

    /// Takes the lock, renews it, or takes over a stale one; refuses one
    /// that someone else holds.
    fn hold_lock(&self, host: &DockerHost<'_>, config: &VmTargetConfig) -> Result<(), ExecError> {
        let path = config.lock_path();
        let ttl = u64::try_from(config.lock_ttl.as_millis()).unwrap_or(u64::MAX);
        let mine = serde_json::to_string(&LockRecord::new(&self.owner.holder(LOCK_PURPOSE), now_ms(), ttl)).expect("a lock record serialises");
        let answer = sh(host, &commands::try_lock(&path, &mine))?;
        if answer.trim() == "acquired" {
            return Ok(());
        }
        let held: Option<LockRecord> = serde_json::from_str(answer.trim()).ok();
        match held {
            Some(lock) if self.holds(&lock) => {}
            Some(lock) => match lock.stale_because(now_ms(), self.owner.host.as_deref()) {
                Some(why) => tracing::warn!("{}: took over the host lock of {} ({why})", config.name, lock.describe()),
                None => {
                    return Err(ExecError::Failed(format!(
                        "{} is locked by {} until {} ms since the epoch; wait for it, or remove {path} if that run is gone",
                        config.name,
                        lock.describe(),
                        lock.expires_at_ms
                    )));
                }
            },
            None => tracing::warn!("{}: replaced an unreadable lock file {path}", config.name),
        }
        Ok(host.write_file(&path, format!("{mine}\n").as_bytes(), 0o644)?)
    }

    /// Removes the lock if this run holds it (a run that took it over owns it now).
    fn release_lock(&self, host: &DockerHost<'_>, l: &VmLock) -> Result<(), ExecError> {
        let config = self.targets.config(&l.target).map_err(ExecError::Config)?;
        if self.read_lock(host, config)?.is_some_and(|lock| self.holds(&lock)) {
            sh(host, &commands::remove_file(&config.lock_path()))?;
        }
        Ok(())
    }
}

impl Ops for VmOps {
    type Op = VmOp;
    type Undo = VmUndo;

    fn prepare(&self, op: &VmOp) -> Result<Option<VmUndo>, ExecError> {
        self.reading(op, |host, config| match op {
            VmOp::Mkdir(p) => Ok(Some(VmUndo::Absent { items: missing_paths(host, &with_ancestors(&p.paths))? })),
            VmOp::Secret(f) => Ok(Some(VmUndo::Absent { items: missing_paths(host, std::slice::from_ref(&f.path))? })),
            VmOp::Network(n) => {
                let exists = host.network_exists(&n.name)?;
                Ok(Some(VmUndo::Absent { items: if exists { Vec::new() } else { vec![n.name.clone()] } }))
            }
            VmOp::WriteFile(VmFile { path, .. }) | VmOp::EnvFile(ferry_model::VmEnvFile { path, .. }) => {
                Ok(Some(VmUndo::Backup { backup: backup(host, path)? }))
            }
            VmOp::Certificate(c) => {
                let renewal = if c.renew { certificate::renewal_files(config, c)?.into_iter().map(|f| f.path).collect() } else { Vec::new() };
                let mut files = Vec::new();
                for path in [c.certificate.clone(), c.key.clone()].into_iter().chain(renewal) {
                    let kept = backup(host, &path)?;
                    files.push((path, kept));
                }
                Ok(Some(VmUndo::Backups { files }))
            }
            VmOp::Run(c) => {
                let exists = host.state(&c.name)?.is_some();
                Ok(Some(VmUndo::Absent { items: if exists { Vec::new() } else { vec![c.name.clone()] } }))
            }
            // Only a directory that held nothing is emptied again: what was
            // there before the copy is not ferry's to delete.
            VmOp::FlyVolume(c) => {
                let empty = from_fly::volume::is_empty(host, &c.path)?;
                Ok(Some(VmUndo::Absent { items: if empty { vec![c.path.clone()] } else { Vec::new() } }))
            }
            VmOp::FlyPostgres(c) => {
                let empty = from_fly::postgres::target_is_empty(host, config, c)?;
                Ok(Some(VmUndo::Absent { items: if empty { vec![c.database.clone()] } else { Vec::new() } }))
            }
            VmOp::Stop(c) => {
                let mut running = Vec::new();
                for name in &c.names {
                    if host.state(name)?.is_some_and(|s| s == "running") {
                        running.push(name.clone());
                    }
                }
                Ok(Some(VmUndo::WasRunning { names: running }))
            }
            // The lock's undo releases it by path; packages, images,
            // release commands and removals are not put back.
            VmOp::Lock(_)
            | VmOp::Unlock(_)
            | VmOp::InstallPackages(_)
            | VmOp::Image(_)
            | VmOp::ReleaseCommand(_)
            | VmOp::Remove(_)
            | VmOp::RemoveImages(_)
            | VmOp::RemovePaths(_) => Ok(None),
        })
    }

    fn execute(&self, op: &VmOp, keepalive: &mut dyn FnMut()) -> Result<Outputs, ExecError> {
        self.on(op, |host, config| {
            if !matches!(op, VmOp::Unlock(_)) {
                self.hold_lock(host, config)?;
            }
            match op {
                VmOp::InstallPackages(_)
                | VmOp::Image(_)
                | VmOp::ReleaseCommand(_)
                | VmOp::Run(_)
                | VmOp::Certificate(_)
                | VmOp::FlyVolume(_)
                | VmOp::FlyPostgres(_) => self.renewing_lock(host, config, || self.act(host, config, op, keepalive)),
                VmOp::Lock(_)
                | VmOp::Unlock(_)
                | VmOp::Mkdir(_)
                | VmOp::Network(_)
                | VmOp::WriteFile(_)
                | VmOp::EnvFile(_)
                | VmOp::Secret(_)
                | VmOp::Stop(_)
                | VmOp::Remove(_)
                | VmOp::RemoveImages(_)
                | VmOp::RemovePaths(_) => self.act(host, config, op, keepalive),
            }
        })
    }

    fn observe(&self, op: &VmOp, _started_at_ms: u64) -> Result<bool, ExecError> {
        self.reading(op, |host, config| match op {
            VmOp::Lock(_) => Ok(self.read_lock(host, config)?.is_some_and(|l| self.holds(&l))),
            VmOp::Unlock(_) => Ok(!self.read_lock(host, config)?.is_some_and(|l| self.holds(&l))),
            VmOp::Mkdir(p) => Ok(missing_paths(host, &p.paths)?.is_empty()),
            VmOp::RemovePaths(p) => Ok(missing_paths(host, &p.paths)?.len() == p.paths.len()),
            VmOp::WriteFile(f) => Ok(remote_sha256(host, &f.path)? == Some(sha256(f.contents.as_bytes()))),
            VmOp::EnvFile(f) => Ok(remote_sha256(host, &f.path)? == Some(sha256(env_file(host, f)?.as_bytes()))),
            VmOp::Secret(f) => Ok(missing_paths(host, std::slice::from_ref(&f.path))?.is_empty()),
            VmOp::Image(i) => Ok(host.image_id(&i.tag)?.is_some()),
            VmOp::Run(c) => Ok(host.state(&c.name)?.is_some_and(|s| s == "running")),
            VmOp::Certificate(c) => certificate::in_place(host, c),
            VmOp::FlyPostgres(c) => from_fly::postgres::in_place(host, config, c),
            VmOp::Stop(c) | VmOp::Remove(c) => {
                let mut states = Vec::new();
                for name in &c.names {
                    states.push(host.state(name)?);
                }
                let removing = matches!(op, VmOp::Remove(_));
                Ok(states.iter().all(|s| if removing { s.is_none() } else { s.as_deref() != Some("running") }))
            }
            // Packages, networks, release commands and tag removals are
            // idempotent: run them again.
            // rsync is idempotent too: an interrupted copy runs again.
            VmOp::InstallPackages(_) | VmOp::Network(_) | VmOp::ReleaseCommand(_) | VmOp::RemoveImages(_) | VmOp::FlyVolume(_) => Ok(false),
        })
    }

    fn restore(&self, op: &VmOp, undo: Option<&VmUndo>) -> Result<(), ExecError> {
        self.on(op, |host, config| {
            // Undoing on a host someone else holds now would undo into their
            // deploy; releasing the lock needs no lock.
            if !matches!(op, VmOp::Lock(_)) {
                self.hold_lock(host, config)?;
            }
            match (op, undo) {
                (VmOp::Lock(l), _) => self.release_lock(host, l),
                (VmOp::Mkdir(_), Some(VmUndo::Absent { items })) => {
                    // Deepest first; a directory that got files stays.
                    let deepest_first: Vec<String> = items.iter().rev().cloned().collect();
                    if !deepest_first.is_empty() {
                        sh(host, &commands::remove_empty_dirs(&deepest_first))?;
                    }
                    Ok(())
                }
                (VmOp::Network(_) | VmOp::Secret(_), Some(VmUndo::Absent { items })) if items.is_empty() => Ok(()),
                (VmOp::Network(n), Some(VmUndo::Absent { .. })) => host.remove_network(&n.name).map_err(ExecError::from),
                (VmOp::Secret(f), Some(VmUndo::Absent { .. })) => sh(host, &commands::remove_file(&f.path)).map(drop),
                (VmOp::WriteFile(VmFile { path, reload, .. }), Some(VmUndo::Backup { backup })) => {
                    put_back(host, path, backup.as_deref())?;
                    if *reload { sh(host, &config.nginx_reload).map(drop) } else { Ok(()) }
                }
                (VmOp::EnvFile(f), Some(VmUndo::Backup { backup })) => put_back(host, &f.path, backup.as_deref()),
                (VmOp::Certificate(VmCertificate { reload, .. }), Some(VmUndo::Backups { files })) => {
                    for (path, backup) in files {
                        put_back(host, path, backup.as_deref())?;
                    }
                    if *reload { sh(host, &config.nginx_reload).map(drop) } else { Ok(()) }
                }
                (VmOp::Run(c), Some(VmUndo::Absent { items })) => {
                    if items.contains(&c.name) { host.remove(&c.name) } else { host.stop(&c.name, 10) }.map_err(ExecError::from)
                }
                (VmOp::Stop(_), Some(VmUndo::WasRunning { names })) => names.iter().try_for_each(|name| host.start(name)).map_err(ExecError::from),
                (VmOp::FlyVolume(c), Some(VmUndo::Absent { items })) => {
                    // An interrupted copy's key, machine and fork go first.
                    from_fly::clean_up(host, config, self.fly()?, &c.app)?;
                    if items.contains(&c.path) { sh(host, &commands::empty_dir(&c.path)).map(drop) } else { Ok(()) }
                }
                (VmOp::FlyPostgres(c), Some(VmUndo::Absent { items })) => from_fly::postgres::undo(host, config, self.fly()?, c, items.contains(&c.database)),
                // Not undone by restoring: their undo is another action or none.
                (
                    VmOp::Unlock(_)
                    | VmOp::InstallPackages(_)
                    | VmOp::Image(_)
                    | VmOp::ReleaseCommand(_)
                    | VmOp::Remove(_)
                    | VmOp::RemoveImages(_)
                    | VmOp::RemovePaths(_),
                    _,
                ) => Ok(()),
                (
                    VmOp::Mkdir(_)
                    | VmOp::Network(_)
                    | VmOp::Secret(_)
                    | VmOp::WriteFile(_)
                    | VmOp::EnvFile(_)
                    | VmOp::Run(_)
                    | VmOp::Stop(_)
                    | VmOp::Certificate(_)
                    | VmOp::FlyVolume(_)
                    | VmOp::FlyPostgres(_),
                    undo,
                ) => Err(mismatch(op, &undo)),
            }
        })
    }
}

/// Runs `script` on the host, under the host's limit when it has one.
pub(super) fn sh(host: &DockerHost<'_>, script: &str) -> Result<String, ExecError> {
    host.run(script).map_err(ExecError::from)
}

pub(super) fn missing_paths(host: &DockerHost<'_>, paths: &[String]) -> Result<Vec<String>, ExecError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sh(host, &commands::missing(paths))?.lines().map(str::to_string).collect())
}

/// Each path after its ancestors (shallowest first): `mkdir -p` makes the
/// ancestors too, and the undo must know which of them it made.
fn with_ancestors(paths: &[String]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    for path in paths {
        let mut prefix = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            prefix = format!("{prefix}/{part}");
            if !all.contains(&prefix) {
                all.push(prefix.clone());
            }
        }
    }
    all
}

/// Copies the file about to be replaced to `<path>.ferry-prev.<ms>` (the
/// newest five kept); `None` when there is no file yet.
fn backup(host: &DockerHost<'_>, path: &str) -> Result<Option<String>, ExecError> {
    let copy = format!("{path}.ferry-prev.{}", now_ms());
    let out = sh(host, &commands::backup(path, &copy))?;
    Ok((out.lines().next() == Some("kept")).then_some(copy))
}

fn put_back(host: &DockerHost<'_>, path: &str, backup: Option<&str>) -> Result<(), ExecError> {
    sh(host, &commands::put_back(path, backup)).map(drop)
}

fn remote_sha256(host: &DockerHost<'_>, path: &str) -> Result<Option<String>, ExecError> {
    let out = sh(host, &commands::sha256_if_present(path))?;
    Ok(out.split_whitespace().next().map(str::to_string))
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Makes the secret on the host from its own /dev/urandom, unless the file
/// exists; the value never crosses the network.
fn make_secret(host: &DockerHost<'_>, path: &str) -> Result<(), ExecError> {
    sh(host, &commands::make_secret(path)).map(drop)
}

/// The env file's text ([`env_file::render`]): secrets from
/// `FERRY_SECRET_<NAME>` here, values made from files on the host read
/// there.
fn env_file(host: &DockerHost<'_>, f: &ferry_model::VmEnvFile) -> Result<String, ExecError> {
    let mut made = Vec::new();
    for value in &f.from_files {
        let contents = host.run(&commands::read(&value.path)).map_err(ExecError::vm(format!("{} for {} in {}", value.path, value.name, f.path)))?;
        // A value made on the host (a password) is as secret as any other.
        ferry_secrets::learn(contents.trim());
        made.push((value.name.clone(), value.template.replace("{file}", contents.trim())));
    }
    env_file::render(f, &|name| ferry_secrets::var(&format!("{SECRET_VAR_PREFIX}{name}")).ok().map(ferry_secrets::Secret::into_inner), &made)
        .map_err(ExecError::Config)
}

fn spec(c: &VmContainer) -> ContainerSpec {
    ContainerSpec {
        name: c.name.clone(),
        image: c.image.clone(),
        env_file: c.env_file.clone(),
        env: c.env.iter().cloned().collect(),
        publish: c.ports.iter().map(|p| Publish { host_ip: p.host_ip.clone(), host_port: p.host_port, container_port: p.container_port }).collect(),
        volumes: c.volumes.clone(),
        network: c.network.clone(),
        labels: c.labels.iter().cloned().collect::<BTreeMap<_, _>>(),
        restart: None,
        command: c.command.clone(),
    }
}

/// Runs the release command to completion; `keepalive` runs with each line
/// it prints.
fn release_command(host: &DockerHost<'_>, c: &VmContainer, keepalive: &mut dyn FnMut()) -> Result<(), ExecError> {
    host.remove(&c.name)?; // a killed earlier attempt's leftover
    let mut tail: Vec<String> = Vec::new();
    let code = host.run_once(&spec(c), &mut |line| {
        keepalive();
        tracing::info!("[release] {line}");
        tail.push(line.to_string());
        if tail.len() > 20 {
            tail.remove(0);
        }
    })?;
    if code == 0 { Ok(()) } else { Err(ExecError::Failed(format!("the release command exited with {code}:\n{}", tail.join("\n")))) }
}

/// Starts the container (the existing one of that name, or a new one),
/// then waits for its health check.
fn run(host: &DockerHost<'_>, c: &VmContainer, keepalive: &mut dyn FnMut()) -> Result<(), ExecError> {
    match host.state(&c.name)? {
        Some(state) if state == "running" => {}
        Some(_) => host.start(&c.name)?,
        None => {
            let mut spec = spec(c);
            spec.restart = Some("unless-stopped".into());
            host.run_detached(&spec)?;
        }
    }
    match &c.health {
        Some(health) => host.wait_healthy(&c.name, &probe(c, health), Duration::from_millis(health.timeout_ms), keepalive).map_err(ExecError::from),
        None => Ok(()),
    }
}

/// The plan's health gate as a probe: a command in the container, an HTTP
/// GET of the published port, or a connection to the container's own port.
fn probe(c: &VmContainer, health: &VmHealth) -> Probe {
    if !health.exec.is_empty() {
        Probe::Exec(health.exec.clone())
    } else if !health.path.is_empty() {
        Probe::Http(format!("http://127.0.0.1:{}{}", health.port, health.path))
    } else {
        let port = c.ports.iter().find(|p| p.host_port == health.port).map_or(health.port, |p| p.container_port);
        Probe::Connect(port)
    }
}

/// What a VM action replaced on the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum VmUndo {
    /// What a VM action created that did not exist before (directories, a
    /// network, a container): the undo removes exactly these.
    Absent { items: Vec<String> },
    /// Where the host kept the file a VM write replaced (`None`: there was
    /// none). The old contents stay on the host, so secrets in an env file
    /// never reach the journal.
    Backup { backup: Option<String> },
    /// The containers a stop found running: the undo starts them again.
    WasRunning { names: Vec<String> },
    /// [`VmUndo::Backup`] for each of several files (a certificate, its key
    /// and its renewal): path, and where the host kept the file it replaced.
    Backups { files: Vec<(String, Option<String>)> },
}

impl OperationPolicy for VmOp {
    fn name(&self) -> &'static str {
        match self {
            VmOp::Lock(_) => "vm-lock",
            VmOp::Unlock(_) => "vm-unlock",
            VmOp::InstallPackages(_) => "vm-install-packages",
            VmOp::Mkdir(_) => "vm-mkdir",
            VmOp::Network(_) => "vm-network",
            VmOp::WriteFile(_) => "vm-write-file",
            VmOp::EnvFile(_) => "vm-env-file",
            VmOp::Secret(_) => "vm-secret",
            VmOp::Image(_) => "vm-image",
            VmOp::ReleaseCommand(_) => "vm-release-command",
            VmOp::Run(_) => "vm-run",
            VmOp::Stop(_) => "vm-stop",
            VmOp::Remove(_) => "vm-remove",
            VmOp::RemoveImages(_) => "vm-remove-images",
            VmOp::Certificate(_) => "vm-certificate",
            VmOp::FlyVolume(_) => "vm-fly-volume",
            VmOp::FlyPostgres(_) => "vm-fly-postgres",
            VmOp::RemovePaths(_) => "vm-remove-paths",
        }
    }

    fn floor(&self) -> Floor {
        match self {
            VmOp::Lock(_) => at(Safe, "a lock file on the host"),
            VmOp::Unlock(_) => at(Safe, "removes this run's lock file"),
            VmOp::InstallPackages(_) => at(Disruptive, "installs system packages as root; they stay after an undo"),
            VmOp::Mkdir(_) => at(Safe, "creates directories; the undo removes those still empty"),
            VmOp::Network(_) => at(Safe, "a Docker network; the undo removes it"),
            VmOp::WriteFile(VmFile { reload: true, .. }) => at(Disruptive, "reloads nginx with the new file: it serves what the file says"),
            VmOp::WriteFile(VmFile { mode, .. }) if mode & 0o111 != 0 => {
                at(Disruptive, "writes an executable file: whatever runs it (a service, cron) runs what it says")
            }
            VmOp::WriteFile(VmFile { reload: false, .. }) => at(Safe, "writes one file; the replaced one is kept for the undo"),
            VmOp::EnvFile(VmEnvFile { secrets, from_files, .. }) if !secrets.is_empty() || !from_files.is_empty() => {
                at(Disruptive, "puts secret values in a file on the host; whoever can read the path can read them")
            }
            VmOp::EnvFile(_) => at(Safe, "writes plain values to one file; the replaced one is kept for the undo"),
            VmOp::Secret(_) => at(Safe, "a random value made on the host; it never leaves it"),
            VmOp::Image(_) => at(Safe, "builds or fetches an image; nothing runs"),
            VmOp::ReleaseCommand(_) => at(Disruptive, "runs the app's release command (usually migrations) with its env; ferry cannot undo what it does"),
            VmOp::Run(_) => at(Safe, "starts a container; the undo stops or removes it"),
            VmOp::Stop(_) => at(Disruptive, "stopped containers serve nothing"),
            VmOp::Remove(_) => at(Destructive, "removes containers with their writable layers"),
            VmOp::RemovePaths(_) => at(Destructive, "deletes files and directories with everything in them"),
            VmOp::RemoveImages(_) => at(Disruptive, "a release whose image is removed can be deployed again only by building or shipping it again"),
            VmOp::Certificate(VmCertificate { reload: true, .. }) => at(Disruptive, "reloads nginx with a new certificate"),
            VmOp::Certificate(VmCertificate { renew: true, .. }) => {
                at(Disruptive, "installs a cron job that runs certbot as root twice a day and reloads nginx when it renews")
            }
            VmOp::Certificate(VmCertificate { dns_zone: Some(_), .. }) => at(
                Safe,
                "adds a TXT record at _acme-challenge for the order (removed after) and writes a certificate and key; the replaced ones are kept for the undo",
            ),
            VmOp::Certificate(VmCertificate { dns_zone: None, .. }) => {
                at(Safe, "serves a challenge file for the order (removed after) and writes a certificate and key; the replaced ones are kept for the undo")
            }
            VmOp::FlyVolume(VmFlyVolume { pass: VolumePass::Bulk, .. }) => {
                at(Safe, "reads a fork of the volume from a temporary machine in the app and adds files on the host; the source is not touched")
            }
            VmOp::FlyVolume(VmFlyVolume { pass: VolumePass::Final, .. }) => {
                at(Destructive, "deletes on the host what the volume does not have: the host's directory becomes the volume")
            }
            VmOp::FlyPostgres(_) => {
                at(Disruptive, "makes the Fly Postgres database read-only (the app's open sessions are ended) and fills the host's empty database from it")
            }
        }
    }

    fn restore(&self) -> Restore {
        const FILE_BACK: &str = "puts the file back as it was (or removes it)";
        match self {
            VmOp::WriteFile(VmFile { reload: true, .. }) => {
                restore("puts the file back as it was (or removes it), then reloads nginx", at(Disruptive, "puts a file back, then reloads nginx with it"))
            }
            VmOp::WriteFile(_) | VmOp::EnvFile(_) => restore(FILE_BACK, at(Disruptive, "puts a file on the host back; a service reading it sees the old one")),
            VmOp::Certificate(_) => restore(
                "puts the certificate and key back as they were (or removes them); the issued certificate stays valid at the CA",
                at(Disruptive, "puts a certificate back; nginx serves it from its next reload"),
            ),
            VmOp::Lock(_) => restore("releases the host lock", BOOKKEEPING),
            VmOp::Mkdir(_) => restore("removes the directories it created, if still empty", BOOKKEEPING),
            VmOp::Network(_) => restore("removes the network it created", at(Disruptive, "removes a network: containers on it lose their addresses")),
            VmOp::Secret(_) => {
                restore("removes the secret file it made (a file that was there stays)", at(Disruptive, "removes a secret file a container may read"))
            }
            VmOp::Run(_) => {
                restore("removes the container it created (or stops the one it started)", at(Disruptive, "removes or stops a container that may be serving"))
            }
            VmOp::Stop(_) => restore("starts the containers again", at(Disruptive, "starts what was stopped: it serves (and writes) again")),
            VmOp::FlyVolume(_) => restore(
                "removes the copy's key, machine and fork if still there, and empties the directory if it was empty before",
                at(Destructive, "deletes the copied files on the host, with anything written there since"),
            ),
            VmOp::FlyPostgres(_) => restore(
                "makes the Fly Postgres database writable again and empties the host's database if it was empty before",
                at(Destructive, "drops what was copied into the host's database, with anything written there since"),
            ),
            VmOp::Unlock(_)
            | VmOp::InstallPackages(_)
            | VmOp::Image(_)
            | VmOp::ReleaseCommand(_)
            | VmOp::Remove(_)
            | VmOp::RemoveImages(_)
            | VmOp::RemovePaths(_) => NOTHING_TO_PUT_BACK,
        }
    }

    fn describe(&self) -> String {
        match self {
            VmOp::Lock(l) => format!("take the deploy lock {} on host {} (stale {} after its last renewal)", path(&l.path), l.target, duration(l.ttl_ms)),
            VmOp::Unlock(l) => format!("release the deploy lock {} on host {}", path(&l.path), l.target),
            VmOp::InstallPackages(p) => format!("apt-get install {} as root on host {}", list(&p.packages), p.target),
            VmOp::Mkdir(p) => format!("create directories {} on host {}", paths(&p.paths), p.target),
            VmOp::RemovePaths(p) => format!("delete {} on host {} with everything in them", paths(&p.paths), p.target),
            VmOp::Network(n) => format!("create Docker network {} on host {}", n.name, n.target),
            VmOp::WriteFile(f) => vm_file(f),
            VmOp::EnvFile(f) => vm_env_file(f),
            VmOp::Secret(s) => format!("make a random secret in {} on host {} (mode 600; an existing one is kept)", path(&s.path), s.target),
            VmOp::Image(i) => match &i.source {
                VmImageSource::Build(b) => format!(
                    "docker build image {} on host {} from checkout directory {}{}{}{}{}",
                    i.tag,
                    i.target,
                    b.dir,
                    b.dockerfile.as_ref().map_or(String::new(), |d| format!(" with {d}")),
                    b.target.as_ref().map_or(String::new(), |t| format!(", stage {t}")),
                    b.ignorefile.as_ref().map_or(String::new(), |f| format!(", excluding what {f} names")),
                    if b.args.is_empty() {
                        String::new()
                    } else {
                        format!(", build args {}", list(&b.args.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()))
                    }
                ),
                VmImageSource::Load(image) => format!("copy image {image} from here to host {} (docker save | docker load) as {}", i.target, i.tag),
                VmImageSource::Pull(image) => format!("docker pull {image} on host {} and tag it {}", i.target, i.tag),
            },
            VmOp::ReleaseCommand(c) => format!("run one-off container {}", container(c)),
            VmOp::Run(c) => format!("run container {}", container(c)),
            VmOp::Stop(c) => format!("stop container(s) {} on host {} ({} s after SIGTERM, then SIGKILL)", containers(c), c.target, c.grace_secs),
            VmOp::Remove(c) => format!("remove container(s) {} on host {} with their writable layers", containers(c), c.target),
            VmOp::RemoveImages(i) => {
                format!("docker image rm every {} tag on host {} but {} (an image a container still uses stays)", i.repository, i.target, list(&i.keep))
            }
            VmOp::Certificate(c) => {
                format!(
                    "issue a certificate for {} from host {}'s ACME server ({}), writing {} and its key {} (mode 600){}",
                    list(&c.names),
                    c.target,
                    match &c.dns_zone {
                        Some(zone) => format!("DNS-01 through zone {zone}"),
                        None => "HTTP-01 from the host's webroot".to_string(),
                    },
                    path(&c.certificate),
                    path(&c.key),
                    if c.reload { ", then reload nginx" } else { "" }
                ) + if c.renew { "; renewed on the host by certbot from cron (HTTP-01 from the webroot)" } else { "" }
            }
            VmOp::FlyVolume(c) => format!(
                "copy Fly volume {} ({}) of {} into {} on host {}: {}, from a fork mounted on a temporary machine in {} that pushes with rsync over SSH (a one-time key, limited to that directory, revoked after){}",
                c.name,
                c.volume,
                c.app,
                path(&c.path),
                c.target,
                match c.pass {
                    VolumePass::Bulk => "bulk pass, nothing deleted",
                    VolumePass::Final => "final pass, deleting what the volume does not have",
                },
                c.app,
                match c.pass {
                    VolumePass::Bulk => "",
                    VolumePass::Final => "; then every file compared by checksum",
                }
            ),
            VmOp::FlyPostgres(c) => format!(
                "copy {}'s Fly Postgres into database {} of container {} on host {}: a temporary machine in {} (given DATABASE_URL by Fly) makes the source read-only, dumps it and pushes the dump to {} over SSH (a one-time key that writes only there, revoked after); the host restores it in one transaction and compares every table, sequence and large object with the source",
                c.app,
                c.database,
                c.container,
                c.target,
                c.app,
                path(&c.dir)
            ),
        }
    }
}
