//! A Docker host the user owns, reached over SSH: what it is (its facts,
//! for the provision planner), images built on it from the repo or shipped
//! to it without a registry (`docker save | ssh docker load`), and the
//! containers ferry runs there.
//!
//! Everything goes through one [`ferry_ssh::Session`] (one pinned,
//! reused connection) and the host's own `docker` CLI, as the user would
//! type it; `docker` can be replaced (`sudo docker`, a `-H` for another
//! engine) for hosts where the login user is not in the docker group.

mod containers;
mod error;
mod facts;
mod images;

use ferry_ssh::Session;

pub use containers::{ContainerInfo, ContainerSpec, Publish};
pub use error::VmError;
pub use facts::{HostFacts, parse_facts};

/// A Docker engine on a host, driven through a session.
#[derive(Debug)]
pub struct DockerHost<'s> {
    session: &'s Session,
    docker: String,
}

impl<'s> DockerHost<'s> {
    /// `docker` is the command that reaches the engine, e.g. `docker` or
    /// `sudo docker`; it is used as written (not quoted).
    pub fn new(session: &'s Session, docker: &str) -> Self {
        DockerHost { session, docker: docker.to_string() }
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
        Ok(self.session.run(&self.docker_command(args))?)
    }
}
