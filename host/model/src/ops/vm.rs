//! A Docker host of the team's own, over SSH (`wit/ops-vm.wit`).
//!
//! What the host says about each operation: its name, its least risk, what
//! it does and what its undo puts back. The records and the variant are the
//! WIT file's own, generated (`super::contract`): a new operation of this
//! provider is written in its WIT file, then here and in its executor, each
//! named by the compiler as a match it is missing from.

pub use super::contract::ferry::step::vm_ops::*;

use serde::{Deserialize, Serialize};

use crate::Risk::{Destructive, Disruptive, Safe};
use crate::policy::words::*;
use crate::policy::{BOOKKEEPING, Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at, restore};

impl VmContainer {
    /// `image` run as `name` on `target`, with nothing else set: no
    /// environment, ports, volumes, network, labels, command or health gate.
    pub fn new(target: impl Into<String>, name: impl Into<String>, image: impl Into<String>) -> Self {
        VmContainer {
            target: target.into(),
            name: name.into(),
            image: image.into(),
            env_file: None,
            env: Vec::new(),
            ports: Vec::new(),
            volumes: Vec::new(),
            network: None,
            labels: Vec::new(),
            command: Vec::new(),
            health: None,
        }
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
        }
    }

    fn restore(&self) -> Restore {
        const FILE_BACK: &str = "puts the file back as it was (or removes it)";
        match self {
            VmOp::WriteFile(VmFile { reload: true, .. }) => {
                restore("puts the file back as it was (or removes it), then reloads nginx", at(Disruptive, "puts a file back, then reloads nginx with it"))
            }
            VmOp::WriteFile(_) | VmOp::EnvFile(_) => restore(FILE_BACK, at(Disruptive, "puts a file on the host back; a service reading it sees the old one")),
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
            VmOp::Unlock(_) | VmOp::InstallPackages(_) | VmOp::Image(_) | VmOp::ReleaseCommand(_) | VmOp::Remove(_) => NOTHING_TO_PUT_BACK,
        }
    }

    fn describe(&self) -> String {
        match self {
            VmOp::Lock(l) => format!("take the deploy lock {} on host {} (stale {} after its last renewal)", path(&l.path), l.target, duration(l.ttl_ms)),
            VmOp::Unlock(l) => format!("release the deploy lock {} on host {}", path(&l.path), l.target),
            VmOp::InstallPackages(p) => format!("apt-get install {} as root on host {}", list(&p.packages), p.target),
            VmOp::Mkdir(p) => format!("create directories {} on host {}", paths(&p.paths), p.target),
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
        }
    }
}
