//! A Docker host the user owns, reached over SSH: what it is (its facts,
//! for the provision planner), images built on it from the repo or shipped
//! to it without a registry (`docker save | ssh docker load`), and the
//! containers ferry runs there.
//!
//! Everything goes through one [`ferry_ssh::Session`] (one pinned,
//! reused connection) and the host's own `docker` CLI, as the user would
//! type it; `docker` can be replaced (`sudo docker`, a `-H` for another
//! engine) for hosts where the login user is not in the docker group.

pub mod commands;
mod containers;
mod error;
mod facts;
mod health;
mod images;

use std::time::Duration;

use ferry_ssh::Session;

pub use containers::{ContainerInfo, ContainerSpec, Publish};
pub use error::VmError;
pub use facts::{HostFacts, parse_facts};
pub use health::Probe;
pub use images::{Build, Shipped, Untagged};

/// A Docker engine on a host, driven through a session.
#[derive(Debug)]
pub struct DockerHost<'s> {
    session: &'s Session,
    docker: String,
    /// Bounds every collected command (facts, lists, inspects, stops…);
    /// `None` leaves them to the session's own timeout. Builds, loads and
    /// one-off containers stream, and are never bounded by it.
    limit: Option<Duration>,
}

impl<'s> DockerHost<'s> {
    /// `docker` is the command that reaches the engine, e.g. `docker` or
    /// `sudo docker`; it is used as written (not quoted).
    pub fn new(session: &'s Session, docker: &str) -> Self {
        DockerHost { session, docker: docker.to_string(), limit: None }
    }

    /// The same host with every collected command bounded by `limit`, on
    /// this side and on the host ([`Session::exec_within`]): what a read
    /// made inside a step's deadline needs.
    pub fn within(mut self, limit: Duration) -> Self {
        self.limit = Some(limit);
        self
    }

    pub fn session(&self) -> &Session {
        self.session
    }

    /// `docker ARGS`, each argument quoted.
    fn docker_command(&self, args: &[&str]) -> String {
        let quoted: Vec<String> = args.iter().map(|a| ferry_ssh::shell_quote(a)).collect();
        format!("{} {}", self.docker, quoted.join(" "))
    }

    /// Runs `docker ARGS`, failing on a non-zero exit; returns stdout.
    fn docker_run(&self, args: &[&str]) -> Result<String, VmError> {
        self.run(&self.docker_command(args))
    }

    /// Runs a shell command under this host's limit; a non-zero exit is
    /// not an error.
    pub fn exec(&self, command: &str) -> Result<ferry_ssh::Output, VmError> {
        Ok(match self.limit {
            Some(limit) => self.session.exec_within(command, limit)?,
            None => self.session.exec(command)?,
        })
    }

    /// Writes `bytes` to `path` on the host with `mode`, making its directory first.
    pub fn write_file(&self, path: &str, bytes: &[u8], mode: u32) -> Result<(), VmError> {
        self.run(&commands::make_parent(path))?;
        Ok(self.session.upload_bytes(bytes, path, mode)?)
    }

    /// Runs a shell command under this host's limit, failing on a non-zero
    /// exit; returns stdout.
    pub fn run(&self, command: &str) -> Result<String, VmError> {
        Ok(match self.limit {
            Some(limit) => self.session.run_within(command, limit)?,
            None => self.session.run(command)?,
        })
    }
}
