//! Data pulled onto the host from inside Fly: a volume can be read only by
//! a machine of its app that mounts it, and Fly Postgres answers only on
//! Fly's private network. So the host starts a temporary machine in the
//! source app that pushes to the host over SSH:
//! - `volume`: a fork of the volume mounted, files pushed with rsync;
//! - `postgres`: the app's DATABASE_URL given by Fly, the database dumped.
//!
//! What the machine is given is the least that works, and the host alone
//! decides it (a step names the volume or database and the directory):
//! - the image and the script are the host's (this module's constants, or
//!   the target's Postgres image); the script's inputs are environment
//!   variables and files, never spliced into a shell line;
//! - a key pair made for this one copy, whose public half is authorized on
//!   the host with `restrict` and a forced command that only writes into
//!   the copy's directory, and is removed after the copy, worked or not;
//! - the host key pinned from the target's known_hosts, under the name it
//!   was pinned for (`HostKeyAlias`), so the machine trusts exactly the host
//!   ferry itself trusts.
//!
//! The machine (and a fork) are destroyed after the copy; an interrupted
//! copy's are found by their names and removed by the next attempt or the
//! undo.

pub(super) mod postgres;
pub(super) mod volume;

use std::time::Duration;

use base64::Engine;
use ferry_fly::{LaunchInput, MachineConfig, Volume};
use ferry_vm::{DockerHost, commands};
use serde_json::{Value, json};

use super::sh;
use crate::apply::executor::ExecError;
use crate::fly::ops::FlyOps;
use crate::vm::VmTargetConfig;

/// The temporary machine's image for volumes: `sh` and `apk`, so rsync and
/// the SSH client are one install away; an image that has both skips it.
pub const JOB_IMAGE: &str = "docker.io/library/alpine:3.20";

/// A fork's name: not the source's, so no machine of the app's own groups
/// is ever given it.
pub const FORK_NAME: &str = "ferry_copy";

/// The comment of every key ferry authorizes for a copy.
pub const KEY_COMMENT: &str = "ferry-copy-";
/// The metadata key of the machines that copy.
const MACHINE_TAG: &str = "ferry_copy";

/// Where the machine finds its files (the emulator wants them under
/// `/mnt`, which real Fly does not mind).
const KEY_FILE: &str = "/mnt/ferry/key";
const KNOWN_HOSTS_FILE: &str = "/mnt/ferry/known_hosts";

/// A temporary machine of a copy: what it runs and with what.
struct Job<'a> {
    image: &'a str,
    script: &'a str,
    env: Vec<(&'static str, String)>,
    /// The volume (a fork) mounted, and where.
    mount: Option<(&'a str, &'static str)>,
    /// Path, contents, mode.
    files: Vec<(&'static str, String, u32)>,
    /// The machine's `ferry_copy` metadata: what it copies.
    copies: &'a str,
}

/// The SSH side of a job: the one-time key and how to reach the host with it.
struct Push<'a> {
    config: &'a VmTargetConfig,
    address: &'a str,
    key: &'a OneTimeKey,
    known_hosts: String,
}

impl Push<'_> {
    /// The environment the scripts push with: `FERRY_SSH` (the client with
    /// the key and the pinned host key; word-split by the shell, each word
    /// plain) and `FERRY_HOST` (`user@address`).
    fn env(&self) -> Vec<(&'static str, String)> {
        let alias = self.config.host.host.trim_matches(['[', ']']);
        let at = if self.address.contains(':') { format!("[{}]", self.address) } else { self.address.to_string() };
        let ssh = format!(
            "ssh -F /dev/null -i {KEY_FILE} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
             -o UserKnownHostsFile={KNOWN_HOSTS_FILE} -o GlobalKnownHostsFile=/dev/null -o HostKeyAlias={alias} -p {}",
            self.config.host.port
        );
        vec![("FERRY_SSH", ssh), ("FERRY_HOST", format!("{}@{at}", self.config.host.user))]
    }

    fn files(&self) -> Vec<(&'static str, String, u32)> {
        vec![(KEY_FILE, self.key.private.clone(), 0o600), (KNOWN_HOSTS_FILE, self.known_hosts.clone(), 0o644)]
    }
}

impl Job<'_> {
    fn machine_config(&self) -> Result<MachineConfig, ExecError> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let env: serde_json::Map<String, Value> = self.env.iter().map(|(k, v)| (k.to_string(), Value::String(v.clone()))).collect();
        let files: Vec<Value> = self.files.iter().map(|(path, contents, mode)| json!({"guest_path": path, "raw_value": b64(contents), "mode": mode})).collect();
        let mounts: Vec<Value> = self.mount.iter().map(|(volume, path)| json!({"volume": volume, "path": path})).collect();
        let value = json!({
            "image": self.image,
            "init": {"exec": ["/bin/sh", "-c", self.script]},
            "env": env,
            "mounts": mounts,
            "files": files,
            "restart": {"policy": "no"},
            "auto_destroy": false,
            "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
            "metadata": {MACHINE_TAG: self.copies},
        });
        serde_json::from_value(value).map_err(ExecError::json("the copy machine's config"))
    }

    /// Runs it in `app`'s `region`: its exit code and log lines, or why
    /// there are none.
    fn run(&self, fly: &FlyOps, app: &str, region: &str, timeout_ms: u64, keepalive: &mut dyn FnMut()) -> Result<crate::fly::ops::Job, ExecError> {
        let input = LaunchInput { config: self.machine_config()?, region: Some(region.to_string()), ..Default::default() };
        fly.run_job(app, &input, &format!("copy-{}-{}", self.copies, crate::apply::now_ms()), Duration::from_millis(timeout_ms), keepalive)
    }
}

/// Runs `job` (which starts a machine that pushes to the host) with a
/// one-time key authorized for `command` only. Any earlier copy's leftovers
/// go first; the key, the machine and a fork go afterwards, worked or not.
fn pushing(
    host: &DockerHost<'_>,
    config: &VmTargetConfig,
    fly: &FlyOps,
    app: &str,
    command: &str,
    job: impl FnOnce(&Push<'_>) -> Result<crate::fly::ops::Job, ExecError>,
) -> Result<crate::fly::ops::Job, ExecError> {
    let address = address(config)?;
    clean_up(host, config, fly, app)?;
    let key = OneTimeKey::make()?;
    key.authorize(host, config, command)?;
    let outcome = known_hosts(config).and_then(|known_hosts| job(&Push { config, address, key: &key, known_hosts }));
    let cleaned = clean_up(host, config, fly, app);
    let job = outcome?;
    cleaned?;
    Ok(job)
}

/// The target's public address, which a machine on Fly reaches it at.
fn address(config: &VmTargetConfig) -> Result<&str, ExecError> {
    config.address.as_deref().ok_or_else(|| {
        ExecError::Config(format!("[targets.vm.{}] has no address, so a machine on Fly cannot reach it: set `address` to the host's public IP", config.name))
    })
}

fn known_hosts(config: &VmTargetConfig) -> Result<String, ExecError> {
    crate::vm::secret(&config.known_hosts_env).map_err(|e| ExecError::Config(format!("VM target {}: {e}", config.name)))
}

/// Removes what a copy leaves while it runs: its keys on the host, its
/// machines and forks in the app. Run before and after every copy, and by
/// the undo, so an interrupted one leaves nothing behind for long.
pub(in crate::vm::ops) fn clean_up(host: &DockerHost<'_>, config: &VmTargetConfig, fly: &FlyOps, app: &str) -> Result<(), ExecError> {
    sh(host, &commands::revoke_keys(&config.authorized_keys, KEY_COMMENT))?;
    let client = fly.client();
    let machines = client.list_machines(app).map_err(ExecError::fly(format!("listing the machines of {app}")))?;
    for m in machines.iter().filter(|m| m.config.as_ref().and_then(|c| c.metadata_value(MACHINE_TAG)).is_some()) {
        client.destroy_machine(app, &m.id, true, None).map_err(ExecError::fly(format!("destroying temporary machine {} of {app}", m.id)))?;
    }
    let forks: Vec<Volume> = client.list_volumes(app).map_err(ExecError::fly(format!("listing the volumes of {app}")))?;
    for v in forks.iter().filter(|v| v.name == FORK_NAME && !matches!(v.state.as_str(), "destroyed" | "pending_destroy" | "destroying")) {
        delete_fork(fly, app, &v.id)?;
    }
    Ok(())
}

/// Deletes a fork, waiting out the moment its machine's destroy takes to
/// let go of it.
fn delete_fork(fly: &FlyOps, app: &str, id: &str) -> Result<(), ExecError> {
    let mut tries = 0;
    loop {
        match fly.client().delete_volume(app, id) {
            Ok(_) => return Ok(()),
            Err(e) if tries < 20 => {
                tracing::debug!("deleting fork {id} of {app}: {e}; trying again");
                tries += 1;
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => {
                return Err(ExecError::Failed(format!("deleting fork {id} of {app} (the copy's volume): {e}; delete it with `fly volumes destroy {id}`")));
            }
        }
    }
}

/// A directory a copy writes into, which its key is limited to (or a path
/// an undo deletes): an absolute path under the target's root, in
/// characters `authorized_keys` and a shell take as they are.
pub(in crate::vm::ops) fn checked_dir(config: &VmTargetConfig, path: &str) -> Result<String, ExecError> {
    let plain = path.chars().all(|ch| ch.is_ascii_alphanumeric() || "/._-".contains(ch));
    let under_root = path.starts_with(&format!("{}/", config.root)) && !path.split('/').any(|p| p == ".." || p == ".");
    if plain && under_root {
        Ok(path.trim_end_matches('/').to_string())
    } else {
        Err(ExecError::Config(format!(
            "ferry writes into and deletes only plain paths under {} on {}, not `{}`",
            config.root,
            config.name,
            path.escape_debug()
        )))
    }
}

/// An ed25519 key pair made by `ssh-keygen` for one copy. Its `Debug`
/// shows only the public half.
struct OneTimeKey {
    private: String,
    public: String,
}

impl std::fmt::Debug for OneTimeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OneTimeKey({})", self.public)
    }
}

impl OneTimeKey {
    fn make() -> Result<OneTimeKey, ExecError> {
        let comment = format!("{KEY_COMMENT}{}", crate::apply::now_ms());
        let dir = tempfile::tempdir().map_err(|e| ExecError::Failed(format!("a temporary directory for the copy's key: {e}")))?;
        let file = dir.path().join("key");
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", &comment, "-f"])
            .arg(&file)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| ExecError::Failed(format!("running ssh-keygen for the copy's one-time key: {e} (install openssh-client)")))?;
        if !out.status.success() {
            return Err(ExecError::Failed(format!("ssh-keygen failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        let read = |p: &std::path::Path| std::fs::read_to_string(p).map_err(|e| ExecError::Failed(format!("reading the copy's key {}: {e}", p.display())));
        Ok(OneTimeKey { private: read(&file)?, public: read(&file.with_extension("pub"))?.trim().to_string() })
    }

    /// Authorizes the key on the host until [`clean_up`], for `command`
    /// only: no shell, no forwarding, no pty.
    fn authorize(&self, host: &DockerHost<'_>, config: &VmTargetConfig, command: &str) -> Result<(), ExecError> {
        sh(host, &commands::authorize_key(&config.authorized_keys, &self.authorized_line(command))).map(drop)
    }

    /// `command` goes between double quotes, which sshd reads with `\"`
    /// for a quote inside.
    fn authorized_line(&self, command: &str) -> String {
        format!("restrict,command=\"{}\" {}", command.replace('\\', "\\\\").replace('"', "\\\""), self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn target() -> VmTargetConfig {
        crate::vm::tests::parse("").unwrap()
    }

    #[test]
    fn a_copy_writes_only_into_a_plain_directory_under_the_root() {
        let config = target();
        assert_eq!(checked_dir(&config, "/srv/shop/volumes/shop_data/").unwrap(), "/srv/shop/volumes/shop_data");
        for bad in ["/srv/../root/.ssh", "/etc/ssh", "/srv", "/srvx/a", "/srv/a b", "/srv/a\"", "/srv/a\nb", "/srv/./a", "srv/a"] {
            assert!(checked_dir(&config, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_key_is_limited_to_its_command_and_never_printed() {
        let key = OneTimeKey::make().unwrap();
        let line = key.authorized_line("case \"$X\" in a) exit 0 ;; esac");
        assert!(line.starts_with("restrict,command=\"case \\\"$X\\\" in a) exit 0 ;; esac\" ssh-ed25519 "), "{line}");
        assert!(line.contains(" ferry-copy-"), "{line}");
        assert!(key.private.contains("OPENSSH PRIVATE KEY") && !format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn the_machine_pins_the_host_key_by_the_name_it_was_pinned_for() {
        let config = target();
        let key = OneTimeKey { private: "PRIVATE".into(), public: "ssh-ed25519 AAAA ferry-copy-1".into() };
        let push = Push { config: &config, address: "198.51.100.9", key: &key, known_hosts: "203.0.113.7 ssh-ed25519 HOST\n".into() };
        let job = Job { image: JOB_IMAGE, script: "true", env: push.env(), mount: Some(("vol_fork", "/mnt/volume")), files: push.files(), copies: "vol_1" };
        let machine = serde_json::to_value(job.machine_config().unwrap()).unwrap();
        assert_eq!(machine["image"], JOB_IMAGE);
        assert_eq!(machine["mounts"], json!([{"volume": "vol_fork", "path": "/mnt/volume"}]));
        assert_eq!(machine["env"]["FERRY_HOST"], "root@198.51.100.9");
        let ssh = machine["env"]["FERRY_SSH"].as_str().unwrap();
        assert!(ssh.contains("-o HostKeyAlias=203.0.113.7 -p 22") && ssh.contains("StrictHostKeyChecking=yes"), "{ssh}");
        assert_eq!(machine["files"][0]["raw_value"], "UFJJVkFURQ==");
        assert_eq!(machine["files"][0]["mode"], 0o600);
        assert_eq!(machine["metadata"]["ferry_copy"], "vol_1");
    }
}
