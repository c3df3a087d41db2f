//! The app as a VM runs it: one container per process group, the group
//! behind the first service routed by nginx, volumes as host directories.

use ferry_fly_deploy::config::split_command;
use ferry_step_sdk::types::{AppSpec, CheckScope, Location, Problem, StepError};

use crate::checked::{self, Refused};

/// Where an app's files live on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub dir: String,
    pub env_file: String,
    pub releases: String,
}

impl Paths {
    pub fn new(root: &str, app: &str) -> Self {
        let dir = format!("{root}/{app}");
        Paths { env_file: format!("{dir}/env"), releases: format!("{dir}/releases"), dir }
    }

    /// Where the certificate the target's ACME server issues lives.
    pub fn tls(&self) -> String {
        format!("{}/tls", self.dir)
    }

    /// The host directory behind a `[mounts]` source.
    pub fn volume(&self, source: &str) -> String {
        format!("{}/volumes/{source}", self.dir)
    }
}

/// The service nginx routes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Web {
    pub internal_port: u16,
    /// The first HTTP check's path; `None` checks only that the port accepts.
    pub health_path: Option<String>,
    /// A port of the service has `force_https`.
    pub force_https: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// Empty runs the image's CMD.
    pub command: Vec<String>,
    pub web: Option<Web>,
    /// Host path, container path.
    pub volumes: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct VmApp {
    pub name: String,
    pub paths: Paths,
    pub groups: Vec<Group>,
    pub env: Vec<(String, String)>,
    pub secrets: Vec<String>,
    pub release_command: Vec<String>,
    /// Seconds a stopped container gets after SIGTERM (fly.toml's kill_timeout).
    pub grace_secs: u32,
    /// Services beyond the first (not routed; the plan says so).
    pub unrouted: usize,
}

/// Checks every value of the spec that reaches the host, in the order a
/// reader meets them in fly.toml.
fn check_spec(spec: &AppSpec) -> Result<(), Refused> {
    for process in &spec.processes {
        checked::group_name(&process.name)?;
    }
    for mount in &spec.mounts {
        checked::volume_source(&mount.source)?;
        checked::container_path(&mount.destination)?;
    }
    for (name, value) in &spec.env {
        let key = format!("env.{name}");
        checked::env_name(&key, name)?;
        checked::env_value(&key, value)?;
    }
    for secret in &spec.secrets {
        checked::env_name("secrets", secret)?;
    }
    Ok(())
}

/// The step's refusal, located in the config file the spec came from.
fn refusal(spec: &AppSpec, key: Option<String>, message: String) -> StepError {
    let location = Location { file: spec.source.clone(), line: None, column: None, key };
    StepError::InvalidInput(Problem { message, location: Some(location) })
}

impl VmApp {
    /// The app as the host at `root` runs it. Refuses, naming the config
    /// key, every value that would reach the host outside its grammar
    /// ([`checked`]): the names that become paths and containers, the mount
    /// paths, the env file's names and values, and any path that would not
    /// lie under `root`.
    pub fn new(spec: &AppSpec, root: &str) -> Result<Self, StepError> {
        let refused = |r: Refused| refusal(spec, Some(r.key), r.message);
        checked::host_path("the target root", root).map_err(|m| refusal(spec, None, m))?;
        let name = spec
            .app
            .clone()
            .ok_or_else(|| refusal(spec, Some("app".into()), "there is no `app`: the VM target names containers, files and the nginx site after it".into()))?;
        checked::app_name(&name).map_err(refused)?;
        check_spec(spec).map_err(refused)?;
        let paths = Paths::new(root, &name);
        let names: Vec<(String, String)> = if spec.processes.is_empty() {
            vec![("app".into(), String::new())]
        } else {
            spec.processes.iter().map(|p| (p.name.clone(), p.command.clone())).collect()
        };
        let service = spec.services.first();
        let routed = service.map(|s| s.processes.first().cloned().unwrap_or_else(|| names[0].0.clone()));
        let health_path = spec.checks.iter().find(|c| c.scope == CheckScope::Service && c.path.is_some()).and_then(|c| c.path.clone());
        let groups: Vec<Group> = names
            .into_iter()
            .map(|(group, command)| Group {
                web: (routed.as_deref() == Some(group.as_str())).then(|| Web {
                    internal_port: service.map_or(8080, |s| s.internal_port),
                    health_path: health_path.clone(),
                    force_https: service.is_some_and(|s| s.ports.iter().any(|p| p.force_https)),
                }),
                volumes: spec
                    .mounts
                    .iter()
                    .filter(|m| m.processes.is_empty() || m.processes.contains(&group))
                    .map(|m| (paths.volume(&m.source), m.destination.clone()))
                    .collect(),
                command: if command.is_empty() { Vec::new() } else { split_command(&command) },
                name: group,
            })
            .collect();
        let grace_ms = spec.machine.kill_timeout_ms.unwrap_or(5_000);
        let volumes = groups.iter().flat_map(|g| g.volumes.iter().map(|(host, _)| host));
        for path in [&paths.dir, &paths.env_file, &paths.releases].into_iter().chain(volumes) {
            checked::under_root(root, path).map_err(|m| refusal(spec, Some("mounts.source".into()), m))?;
        }
        Ok(VmApp {
            name,
            paths,
            groups,
            env: spec.env.clone(),
            secrets: spec.secrets.clone(),
            release_command: spec.deploy.release_command.as_deref().map(split_command).unwrap_or_default(),
            grace_secs: u32::try_from(grace_ms.div_ceil(1000)).unwrap_or(u32::MAX),
            unrouted: spec.services.len().saturating_sub(1),
        })
    }

    pub fn web(&self) -> Option<&Group> {
        self.groups.iter().find(|g| g.web.is_some())
    }

    /// fly.toml asks for HTTPS only on the routed service.
    pub fn force_https(&self) -> bool {
        self.web().and_then(|g| g.web.as_ref()).is_some_and(|w| w.force_https)
    }

    pub fn container(&self, group: &str, release: u32) -> String {
        format!("{}-{group}-{release}", self.name)
    }

    /// Where the host keeps the app's images: one tag per release.
    pub fn image_repository(&self) -> String {
        format!("ferry-{}", self.name)
    }

    pub fn image_tag(&self, release: u32) -> String {
        format!("{}:release-{release}", self.image_repository())
    }

    pub fn site_file(&self, sites: &str) -> String {
        format!("{}/{}.conf", sites.trim_end_matches('/'), self.name)
    }
}
