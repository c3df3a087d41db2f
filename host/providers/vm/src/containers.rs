//! Containers: run (detached, or once in the foreground for a release
//! command), list by label, stop with a grace period, remove.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{DockerHost, VmError};

/// A port published on the host: `host_ip:host_port -> container_port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// `127.0.0.1` keeps the port behind nginx; `0.0.0.0` exposes it.
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
}

/// How to start a container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// A file on the host of `KEY=value` lines (the app's secrets).
    pub env_file: Option<String>,
    pub env: BTreeMap<String, String>,
    pub publish: Vec<Publish>,
    /// Host path -> container path.
    pub volumes: Vec<(String, String)>,
    pub network: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `--restart` policy, e.g. `unless-stopped`.
    pub restart: Option<String>,
    /// Replaces the image's CMD when not empty.
    pub command: Vec<String>,
}

/// A container as `docker ps` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// `running`, `exited`, `created`…
    pub state: String,
    pub labels: BTreeMap<String, String>,
}

impl DockerHost<'_> {
    /// Starts the container detached; returns its id.
    pub fn run_detached(&self, spec: &ContainerSpec) -> Result<String, VmError> {
        let args = run_args(spec, &["run", "-d"]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.docker_run(&refs)?.trim().to_string())
    }

    /// Runs the container to completion (`--rm`), streaming its output
    /// lines to `on_line`; returns its exit code.
    pub fn run_once(&self, spec: &ContainerSpec, on_line: &mut dyn FnMut(&str)) -> Result<i32, VmError> {
        let args = run_args(spec, &["run", "--rm"]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(self.session.exec_streamed(&self.docker_command(&refs), on_line)?)
    }

    /// Every container (running or not) carrying the label `key` (any
    /// value), or `key=value` when given so.
    pub fn containers(&self, label: &str) -> Result<Vec<ContainerInfo>, VmError> {
        let filter = format!("label={label}");
        let out = self.docker_run(&["ps", "-a", "--no-trunc", "--filter", &filter, "--format", "{{json .}}"])?;
        out.lines().filter(|l| !l.trim().is_empty()).map(|line| self.parse_ps(line)).collect()
    }

    /// Stops the container, giving it `grace_secs` after SIGTERM; a
    /// container that is already gone or stopped is fine.
    pub fn stop(&self, name: &str, grace_secs: u32) -> Result<(), VmError> {
        self.unless_missing(&["stop", "-t", &grace_secs.to_string(), "--", name])
    }

    /// Removes the container (stopping it first); gone already is fine.
    pub fn remove(&self, name: &str) -> Result<(), VmError> {
        self.unless_missing(&["rm", "-f", "--", name])
    }

    /// Runs `docker ARGS` on a container, where its absence counts as done
    /// (docker itself answers 0 for stopping a stopped one).
    fn unless_missing(&self, args: &[&str]) -> Result<(), VmError> {
        let out = self.exec(&self.docker_command(args))?;
        if out.status == 0 || out.stderr.contains("No such container") {
            return Ok(());
        }
        Err(VmError::Host { host: self.session.host().to_string(), message: format!("docker {}: {}", args.join(" "), ferry_ssh::stderr_tail(&out.stderr)) })
    }

    /// The container's status (`running`, `exited`…), `None` when there is none.
    pub fn state(&self, name: &str) -> Result<Option<String>, VmError> {
        let out = self.exec(&self.docker_command(&["inspect", "-f", "{{.State.Status}}", "--", name]))?;
        Ok((out.status == 0).then(|| out.stdout.trim().to_string()))
    }

    /// The container's first address on its networks, `None` when it has
    /// none (stopped, or `--network none`). A probe of a published port
    /// would reach docker-proxy, which accepts before the app listens.
    pub fn address(&self, name: &str) -> Result<Option<String>, VmError> {
        let format = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}";
        let out = self.exec(&self.docker_command(&["inspect", "-f", format, "--", name]))?;
        Ok((out.status == 0).then(|| out.stdout.split_whitespace().next().map(str::to_string)).flatten())
    }

    /// The environment the container runs with (its image's, then its own).
    pub fn environment(&self, name: &str) -> Result<BTreeMap<String, String>, VmError> {
        let out = self.docker_run(&["inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", "--", name])?;
        Ok(out.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    /// The host port `container_port/tcp` is published on, if it is.
    pub fn published_port(&self, name: &str, container_port: u16) -> Result<Option<u16>, VmError> {
        let out = self.exec(&self.docker_command(&["port", "--", name, &format!("{container_port}/tcp")]))?;
        // `127.0.0.1:5433`, one line per binding.
        Ok(out.stdout.lines().find_map(|l| l.rsplit_once(':').and_then(|(_, p)| p.trim().parse().ok())).filter(|_| out.status == 0))
    }

    /// Starts an existing container.
    pub fn start(&self, name: &str) -> Result<(), VmError> {
        self.docker_run(&["start", "--", name]).map(drop)
    }

    /// The container's last `lines` lines of output (stdout and stderr).
    pub fn logs(&self, name: &str, lines: u32) -> Result<String, VmError> {
        let command = format!("{} 2>&1", self.docker_command(&["logs", "--tail", &lines.to_string(), "--", name]));
        Ok(self.exec(&command)?.stdout)
    }

    /// Runs `command` inside the running container; its exit code (a
    /// health probe's answer, so a failing command is not an error).
    pub fn exec_in(&self, name: &str, command: &[String]) -> Result<i32, VmError> {
        let mut args = vec!["exec", "--", name];
        args.extend(command.iter().map(String::as_str));
        Ok(self.exec(&format!("{} >/dev/null 2>&1", self.docker_command(&args)))?.status)
    }

    pub fn network_exists(&self, name: &str) -> Result<bool, VmError> {
        Ok(self.exec(&self.docker_command(&["network", "inspect", "--", name]))?.status == 0)
    }

    /// Creates the bridge network unless it exists.
    pub fn ensure_network(&self, name: &str) -> Result<(), VmError> {
        if self.network_exists(name)? {
            return Ok(());
        }
        self.docker_run(&["network", "create", "--", name]).map(drop)
    }

    /// Removes the network; gone already is fine.
    pub fn remove_network(&self, name: &str) -> Result<(), VmError> {
        if self.network_exists(name)? { self.docker_run(&["network", "rm", "--", name]).map(drop) } else { Ok(()) }
    }

    fn parse_ps(&self, line: &str) -> Result<ContainerInfo, VmError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Ps {
            #[serde(rename = "ID")]
            id: String,
            names: String,
            image: String,
            #[serde(default)]
            state: String,
            #[serde(default)]
            labels: String,
        }
        let ps: Ps = serde_json::from_str(line).map_err(|e| VmError::Parse {
            host: self.session.host().to_string(),
            what: "docker ps".into(),
            message: e.to_string(),
        })?;
        Ok(ContainerInfo { id: ps.id, name: ps.names, image: ps.image, state: ps.state, labels: parse_labels(&ps.labels) })
    }
}

/// `docker ps` prints labels as `k=v,k2=v2`; ferry's own values never
/// hold commas, so splitting on them is exact for the labels it reads.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    text.split(',').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn run_args(spec: &ContainerSpec, head: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    args.extend(["--name".into(), spec.name.clone()]);
    if let Some(restart) = &spec.restart {
        args.extend(["--restart".into(), restart.clone()]);
    }
    if let Some(file) = &spec.env_file {
        args.extend(["--env-file".into(), file.clone()]);
    }
    for (k, v) in &spec.env {
        args.extend(["-e".into(), format!("{k}={v}")]);
    }
    for p in &spec.publish {
        args.extend(["-p".into(), format!("{}:{}:{}", p.host_ip, p.host_port, p.container_port)]);
    }
    for (host, container) in &spec.volumes {
        args.extend(["-v".into(), format!("{host}:{container}")]);
    }
    if let Some(network) = &spec.network {
        args.extend(["--network".into(), network.clone()]);
    }
    for (k, v) in &spec.labels {
        args.extend(["--label".into(), format!("{k}={v}")]);
    }
    // `--`: the image and the command are never read as options, whatever
    // they start with (docker's flag parser stops there).
    args.push("--".into());
    args.push(spec.image.clone());
    args.extend(spec.command.iter().cloned());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_arguments_cover_every_field_in_docker_order() {
        let spec = ContainerSpec {
            name: "shop-web-3".into(),
            image: "shop:3".into(),
            env_file: Some("/srv/shop/env".into()),
            env: BTreeMap::from([("PORT".into(), "8080".into())]),
            publish: vec![Publish { host_ip: "127.0.0.1".into(), host_port: 18003, container_port: 8080 }],
            volumes: vec![("/srv/shop/data".into(), "/data".into())],
            network: Some("shop".into()),
            labels: BTreeMap::from([("ferry.app".into(), "shop".into())]),
            restart: Some("unless-stopped".into()),
            command: vec!["serve".into()],
        };
        assert_eq!(
            run_args(&spec, &["run", "-d"]).join(" "),
            "run -d --name shop-web-3 --restart unless-stopped --env-file /srv/shop/env -e PORT=8080 -p 127.0.0.1:18003:8080 -v /srv/shop/data:/data --network shop --label ferry.app=shop -- shop:3 serve"
        );
    }

    /// Docker's own CLI (pointed at a daemon that is not there, so nothing
    /// runs) reads an image that starts with `-` as an image, not as an
    /// option: without the `--`, `-v/:/host` would mount the host's root.
    #[test]
    fn an_image_that_looks_like_an_option_stays_an_image() {
        let spec = ContainerSpec { name: "shop-web-1".into(), image: "-v/:/host".into(), command: vec!["-it".into()], ..ContainerSpec::default() };
        let args = run_args(&spec, &["run", "-d"]);
        let config = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("docker")
            .args(&args)
            .env("DOCKER_HOST", "unix:///nonexistent/ferry-test.sock")
            .env("DOCKER_CONFIG", config.path())
            .output()
            .expect("the docker CLI is installed");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains("invalid reference format"), "docker read the image as an image: {stderr}");
    }

    #[test]
    fn labels_split_into_pairs() {
        let labels = parse_labels("ferry.app=shop,ferry.release=3,odd");
        assert_eq!(labels.len(), 2);
        assert_eq!(labels["ferry.release"], "3");
    }
}
