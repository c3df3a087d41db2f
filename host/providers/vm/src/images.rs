//! Images reach a host without a registry: built there from the repo's
//! files (the build context streamed as a tar), or saved by another engine
//! (CI's) and loaded, streamed through the SSH connection in both cases.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{DockerHost, VmError};

impl DockerHost<'_> {
    /// Builds `tag` on the host from the local directory `context` (its
    /// Dockerfile unless `dockerfile` names another file in it); the
    /// context is streamed as a tar, never stored on the host.
    pub fn build(&self, context: &Path, dockerfile: Option<&str>, tag: &str) -> Result<(), VmError> {
        let mut tar = Command::new("tar")
            .arg("-C")
            .arg(context)
            .args(["-c", "."])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(VmError::Local)?;
        let mut args = vec!["build", "-q", "-t", tag];
        if let Some(file) = dockerfile {
            args.extend(["-f", file]);
        }
        args.push("-");
        let mut stdout = tar.stdout.take().expect("piped stdout");
        let result = self.feed(&mut stdout, &self.docker_command(&args), "docker build");
        let status = tar.wait().map_err(VmError::Local)?;
        result?;
        if !status.success() {
            let mut err = String::new();
            if let Some(mut e) = tar.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return Err(VmError::Local(std::io::Error::other(format!("tar of {}: {}", context.display(), err.trim()))));
        }
        Ok(())
    }

    /// Loads the images of a `docker save` stream (e.g. CI's
    /// `docker save IMAGE` stdout).
    pub fn load(&self, saved: &mut dyn Read) -> Result<(), VmError> {
        self.feed(saved, &self.docker_command(&["load", "-q"]), "docker load")
    }

    /// Pulls `image` from its registry.
    pub fn pull(&self, image: &str) -> Result<(), VmError> {
        self.docker_run(&["pull", "-q", image]).map(drop)
    }

    /// Gives the image `from` the name `to` as well.
    pub fn tag(&self, from: &str, to: &str) -> Result<(), VmError> {
        self.docker_run(&["tag", from, to]).map(drop)
    }

    /// The image's id, `None` when the host does not have it.
    pub fn image_id(&self, image: &str) -> Result<Option<String>, VmError> {
        let out = self.session.exec(&self.docker_command(&["image", "inspect", "--format", "{{.Id}}", image]))?;
        Ok((out.status == 0).then(|| out.stdout.trim().to_string()))
    }

    fn feed(&self, reader: &mut dyn Read, command: &str, what: &str) -> Result<(), VmError> {
        let out = self.session.pipe_to(reader, command)?;
        if out.status == 0 {
            return Ok(());
        }
        Err(VmError::Host { host: self.session.host().to_string(), message: format!("{what} exited with {}: {}", out.status, ferry_ssh::stderr_tail(&out.stderr)) })
    }
}
