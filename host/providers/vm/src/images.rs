//! Images reach a host without a registry: built there from the repo's
//! files (the build context streamed as a tar), or saved by another engine
//! (CI's) and loaded, streamed through the SSH connection in both cases.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::{DockerHost, VmError};

/// What [`DockerHost::untag`] did with a tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Untagged {
    /// The tag is gone; the image's layers too if nothing else held them.
    Removed,
    /// There was no such tag.
    Absent,
    /// A container (running or stopped) uses the image under this tag
    /// alone, so Docker keeps it (ferry never forces).
    InUse,
}

/// What a build on the host makes of its context: fly.toml's `[build]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Build<'a> {
    /// The Dockerfile, a path inside the context (`Dockerfile` when `None`).
    pub dockerfile: Option<&'a str>,
    /// The stage to build.
    pub target: Option<&'a str>,
    /// `--build-arg NAME=VALUE`s.
    pub args: &'a [(String, String)],
    /// `[build].ignorefile`: the context's exclusions, a path inside the
    /// context (its own `.dockerignore` when `None`).
    pub ignorefile: Option<&'a str>,
}

impl Build<'_> {
    /// `docker build`'s arguments for `tag`, the context being the current
    /// directory. Every value is one word of the remote command (quoted),
    /// whatever it holds.
    pub fn args(&self, tag: &str) -> Vec<String> {
        let mut args: Vec<String> = ["build", "-q", "-t", tag].map(String::from).to_vec();
        if let Some(file) = self.dockerfile {
            args.extend(["-f".into(), file.into()]);
        }
        if let Some(target) = self.target {
            args.extend(["--target".into(), target.into()]);
        }
        for (name, value) in self.args {
            args.extend(["--build-arg".into(), format!("{name}={value}")]);
        }
        // `--`: the context is a positional argument, after every option.
        args.extend(["--".into(), ".".into()]);
        args
    }
}

impl DockerHost<'_> {
    /// Builds `tag` on the host from the local directory `context` as
    /// `build` says; the context is streamed as a tar into a directory of
    /// its own on the host, removed when the build ends.
    ///
    /// `context` must be a real directory the caller has confined (the
    /// checkout, or a directory in it resolved without leaving it); what is
    /// under it ships as [`context_tar`] archives it.
    pub fn build(&self, context: &Path, build: &Build<'_>, tag: &str) -> Result<(), VmError> {
        let mut tar = context_tar(context).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(VmError::Local)?;
        let command = crate::commands::build_from_stdin(&self.docker, &build.args(tag), build.ignorefile);
        let mut stdout = tar.stdout.take().expect("piped stdout");
        let result = self.feed(&mut stdout, &command, "docker build");
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

    /// Ships `image` from this machine's Docker engine to the host without
    /// a registry: `docker save` here, streamed into `docker load` there.
    pub fn load_local(&self, image: &str) -> Result<(), VmError> {
        let command = format!("docker save {image}");
        let failed = |message: String| VmError::LocalCommand { command: command.clone(), message };
        let mut save = Command::new("docker").args(["save", image]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| failed(e.to_string()))?;
        let loaded = self.load(save.stdout.as_mut().expect("piped stdout"));
        let output = save.wait_with_output().map_err(|e| failed(e.to_string()))?;
        if !output.status.success() {
            return Err(failed(format!("failed: {}", ferry_ssh::stderr_tail(&String::from_utf8_lossy(&output.stderr)))));
        }
        loaded
    }

    /// Ships `image` from this machine's engine unless the host has its
    /// bytes already (the same image id, under any name or none); the id.
    /// An id (`sha256:…`, what a build here gives the plan) the host holds
    /// needs no engine here at all: a plan applied on another runner finds
    /// it on the host.
    pub fn ship(&self, image: &str) -> Result<(String, Shipped), VmError> {
        if image.starts_with("sha256:") && self.image_id(image)?.is_some() {
            return Ok((image.to_string(), Shipped::AlreadyThere));
        }
        let id = local_image_id(image)?;
        if self.image_id(&id)?.is_some() {
            return Ok((id, Shipped::AlreadyThere));
        }
        self.load_local(image)?;
        Ok((id, Shipped::Sent))
    }

    /// Pulls `image` from its registry.
    pub fn pull(&self, image: &str) -> Result<(), VmError> {
        self.docker_run(&["pull", "-q", "--", image]).map(drop)
    }

    /// Gives the image `from` the name `to` as well.
    pub fn tag(&self, from: &str, to: &str) -> Result<(), VmError> {
        self.docker_run(&["tag", "--", from, to]).map(drop)
    }

    /// The tags of `repository` on the host (`repository:tag`), untagged
    /// (`<none>`) images left out.
    pub fn tags(&self, repository: &str) -> Result<Vec<String>, VmError> {
        let out = self.docker_run(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--", repository])?;
        Ok(out.lines().map(str::trim).filter(|t| !t.is_empty() && !t.ends_with(":<none>")).map(str::to_string).collect())
    }

    /// Removes the tag `image` (`docker image rm`, never forced): Docker
    /// deletes the image's layers once no tag or container holds them.
    pub fn untag(&self, image: &str) -> Result<Untagged, VmError> {
        let out = self.exec(&self.docker_command(&["image", "rm", "--", image]))?;
        match out.status {
            0 => Ok(Untagged::Removed),
            // docker's own words (daemon/images/image_delete.go): "No such
            // image", and "conflict: unable to remove repository reference …
            // container … is using its referenced image".
            _ if out.stderr.contains("No such image") => Ok(Untagged::Absent),
            _ if out.stderr.contains("is using its referenced image") => Ok(Untagged::InUse),
            status => Err(VmError::Host {
                host: self.session.host().to_string(),
                message: format!("docker image rm {image} exited with {status}: {}", ferry_ssh::stderr_tail(&out.stderr)),
            }),
        }
    }

    /// The image's id, `None` when the host does not have it.
    pub fn image_id(&self, image: &str) -> Result<Option<String>, VmError> {
        let out = self.exec(&self.docker_command(&["image", "inspect", "--format", "{{.Id}}", "--", image]))?;
        Ok((out.status == 0).then(|| out.stdout.trim().to_string()))
    }

    fn feed(&self, reader: &mut dyn Read, command: &str, what: &str) -> Result<(), VmError> {
        let out = self.session.pipe_to(reader, command)?;
        if out.status == 0 {
            return Ok(());
        }
        Err(VmError::Host {
            host: self.session.host().to_string(),
            message: format!("{what} exited with {}: {}", out.status, ferry_ssh::stderr_tail(&out.stderr)),
        })
    }
}

/// What [`DockerHost::ship`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shipped {
    /// `docker save | ssh docker load` ran.
    Sent,
    /// The host had the image: nothing crossed.
    AlreadyThere,
}

/// `image`'s id in this machine's engine (`docker image inspect`).
pub fn local_image_id(image: &str) -> Result<String, VmError> {
    let command = format!("docker image inspect --format {{{{.Id}}}} {image}");
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", "--", image])
        .output()
        .map_err(|e| VmError::LocalCommand { command: command.clone(), message: e.to_string() })?;
    if !out.status.success() {
        let message = format!(
            "failed: {} (the image is built or pulled by this machine's Docker before it is shipped)",
            ferry_ssh::stderr_tail(&String::from_utf8_lossy(&out.stderr))
        );
        return Err(VmError::LocalCommand { command, message });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The build context as a tar on stdout. A symlink in it is archived as a
/// link, never as what it points to (GNU tar follows links only with `-h`,
/// which this must never gain): a repository that commits `secrets ->
/// /etc` ships a dangling link that Docker resolves inside the context, not
/// this machine's /etc. Hard links cannot point outside: git checks out
/// regular files and links only.
pub fn context_tar(context: &Path) -> Command {
    let mut tar = Command::new("tar");
    tar.arg("-C").arg(context).args(["-c", "."]);
    tar
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A checkout that commits links to a directory and a file outside it:
    /// the archive holds the links, not one byte of what they point to.
    #[test]
    fn symlinks_in_the_context_ship_as_links_not_their_targets() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "CANARY-outside-the-checkout").unwrap();
        let checkout = tempfile::tempdir().unwrap();
        std::fs::write(checkout.path().join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), checkout.path().join("config")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), checkout.path().join("key.pem")).unwrap();
        let out = context_tar(checkout.path()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let archive = String::from_utf8_lossy(&out.stdout);
        assert!(!archive.contains("CANARY"), "a file outside the checkout was archived");
        let mut list = Command::new("tar").args(["-tvf", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(list.stdin.as_mut().unwrap(), &out.stdout).unwrap();
        let listing = String::from_utf8(list.wait_with_output().unwrap().stdout).unwrap();
        for name in ["./config", "./key.pem"] {
            let line = listing.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name} missing:\n{listing}"));
            assert!(line.starts_with('l'), "{name} is archived as a link: {line}");
        }
    }
}
