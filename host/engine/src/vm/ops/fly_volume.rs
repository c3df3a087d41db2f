//! `vm-fly-volume`: a Fly volume's files pulled onto the host from inside
//! Fly. A volume is readable only by a machine of its app that mounts it,
//! so the host forks it, starts a temporary machine in the app with the
//! fork mounted, and that machine pushes the files to the host with rsync
//! over SSH.
//!
//! What the machine is given is the least that works, and the host alone
//! decides it (a step names the volume, the directory and the pass):
//! - the image and the script are this module's constants, the script's
//!   inputs environment variables (nothing is spliced into a shell line);
//! - a key pair made for this one copy. Its public half is authorized on
//!   the host as `restrict,command="rrsync -wo <dir>"` (rsync's own
//!   restricted shell: write into that directory, nothing else) and is
//!   removed after the copy, worked or not;
//! - the host key pinned from the target's known_hosts, under the name it
//!   was pinned for (`HostKeyAlias`), so the machine trusts exactly the
//!   host ferry itself trusts.
//!
//! The machine and the fork are destroyed after the copy; an interrupted
//! copy's are found by their names and removed by the next attempt or the
//! undo.

use std::time::Duration;

use base64::Engine;
use ferry_fly::{CreateVolumeRequest, LaunchInput, MachineConfig, Volume};
use ferry_model::{VmFlyVolume, VolumePass};
use ferry_vm::{DockerHost, commands};
use serde_json::json;

use super::sh;
use crate::apply::executor::ExecError;
use crate::fly::ops::FlyOps;
use crate::journal::NOTE_OUTPUT;
use crate::vm::VmTargetConfig;

/// The temporary machine's image: `sh` and `apk`, so rsync and the SSH
/// client are one install away; an image that has both skips it.
pub const JOB_IMAGE: &str = "docker.io/library/alpine:3.20";

/// The fork's name: not the source's, so no machine of the app's own
/// groups is ever given it.
pub const FORK_NAME: &str = "ferry_copy";

/// The comment of every key ferry authorizes for a copy, and the metadata
/// key of the machines that copy.
pub const KEY_COMMENT: &str = "ferry-copy-";
const MACHINE_TAG: &str = "ferry_copy";

/// Where the machine finds the volume and its two files (the emulator
/// wants both under `/mnt`, as real Fly does not mind).
const VOLUME_MOUNT: &str = "/mnt/volume";
const KEY_FILE: &str = "/mnt/ferry/key";
const KNOWN_HOSTS_FILE: &str = "/mnt/ferry/known_hosts";

/// What the machine runs. `FERRY_DEST` is `user@address:.` (rrsync maps
/// `.` to the authorized directory); `FERRY_PASS` is `bulk` or `final`.
/// A final pass deletes what the volume no longer has, then compares
/// every file by checksum: any line rsync would still change fails it.
const SCRIPT: &str = r#"set -eu
if ! command -v rsync >/dev/null 2>&1 || ! command -v ssh >/dev/null 2>&1; then
  apk add --no-cache rsync openssh-client >/dev/null
fi
if [ "$FERRY_PASS" = final ]; then
  rsync -a --numeric-ids --delete /mnt/volume/ "$FERRY_DEST"
  differs=$(rsync -a --numeric-ids --delete --checksum --dry-run --itemize-changes /mnt/volume/ "$FERRY_DEST")
  if [ -n "$differs" ]; then
    echo "after the final pass the host still differs from the volume:"
    echo "$differs"
    exit 3
  fi
else
  rsync -a --numeric-ids /mnt/volume/ "$FERRY_DEST"
fi
echo "copied $(find /mnt/volume -type f | wc -l) file(s)"
"#;

/// The exit code the script uses when the checksum comparison failed.
const DIFFERS: i64 = 3;

/// Copies the volume; the key, the machine and the fork are gone afterwards.
pub(super) fn copy(
    host: &DockerHost<'_>,
    config: &VmTargetConfig,
    fly: &FlyOps,
    c: &VmFlyVolume,
    keepalive: &mut dyn FnMut(),
) -> Result<Vec<(String, String)>, ExecError> {
    let dir = checked_dir(config, &c.path)?;
    let address = config.address.as_deref().ok_or_else(|| {
        ExecError::Config(format!("[targets.vm.{}] has no address, so a machine on Fly cannot reach it: set `address` to the host's public IP", config.name))
    })?;
    if sh(host, "command -v rrsync >/dev/null && echo yes || true")?.trim() != "yes" {
        return Err(ExecError::Failed(format!(
            "{} has no rrsync, which limits the copy's one-time key to its directory: install rsync 3.2.4 or later there (`apt-get install rsync`)",
            config.name
        )));
    }
    let source = fly.client().get_volume(&c.app, &c.volume).map_err(ExecError::fly(format!("reading volume {} ({}) of {}", c.name, c.volume, c.app)))?;
    clean_up(host, config, fly, &c.app)?;
    let stamp = crate::apply::now_ms();
    let key = OneTimeKey::make(&format!("{KEY_COMMENT}{stamp}"))?;
    sh(host, &commands::authorize_key(&config.authorized_keys, &key.authorized_line(&dir)))?;
    let outcome = run(config, fly, c, &source, address, &key, stamp, keepalive);
    let cleaned = clean_up(host, config, fly, &c.app);
    let outputs = outcome?;
    cleaned?;
    Ok(outputs)
}

/// Whether the directory is empty (or missing), so the undo may empty it.
pub(super) fn is_empty(host: &DockerHost<'_>, path: &str) -> Result<bool, ExecError> {
    Ok(sh(host, &commands::is_empty_dir(path))?.trim() == "empty")
}

/// Removes what a copy leaves while it runs: its keys on the host, its
/// machines and forks in the app. Run before and after every copy, and by
/// the undo, so an interrupted one leaves nothing behind for long.
pub(super) fn clean_up(host: &DockerHost<'_>, config: &VmTargetConfig, fly: &FlyOps, app: &str) -> Result<(), ExecError> {
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

/// The machine's run, from the fork to its exit.
#[allow(clippy::too_many_arguments)]
fn run(
    config: &VmTargetConfig,
    fly: &FlyOps,
    c: &VmFlyVolume,
    source: &Volume,
    address: &str,
    key: &OneTimeKey,
    stamp: u64,
    keepalive: &mut dyn FnMut(),
) -> Result<Vec<(String, String)>, ExecError> {
    let client = fly.client();
    let fork = client
        .create_volume(
            &c.app,
            &CreateVolumeRequest { name: FORK_NAME.into(), region: source.region.clone(), source_volume_id: Some(source.id.clone()), ..Default::default() },
        )
        .map_err(ExecError::fly(format!("forking volume {} ({}) of {}", c.name, c.volume, c.app)))?;
    let known_hosts = crate::vm::secret(&config.known_hosts_env).map_err(|e| ExecError::Config(format!("VM target {}: {e}", config.name)))?;
    let input =
        LaunchInput { config: machine_config(config, c, &fork.id, address, key, &known_hosts)?, region: Some(source.region.clone()), ..Default::default() };
    let job = fly.run_job(&c.app, &input, &format!("copy-{}-{stamp}", c.volume), Duration::from_millis(c.timeout_ms), keepalive)?;
    let tail = job.tail();
    match job.exit {
        Ok(0) => {
            let copied = job.logs.iter().rev().find_map(|l| l.strip_prefix("copied ")).map(str::to_string);
            let pass = pass_name(c.pass);
            let note = match copied {
                Some(files) => format!("{pass} pass of {}: {files}", c.name),
                None => format!("{pass} pass of {} done", c.name),
            };
            Ok(vec![("volume".into(), c.volume.clone()), (NOTE_OUTPUT.into(), note)])
        }
        Ok(DIFFERS) => Err(ExecError::Failed(format!(
            "volume {} and {} on {} still differ after the final pass (something wrote to the volume during the freeze?){tail}",
            c.name, c.path, config.name
        ))),
        Ok(code) => Err(ExecError::Failed(format!(
            "copying volume {} to {}:{} failed: the temporary machine {} exited {code}{tail}",
            c.name, config.name, c.path, job.machine
        ))),
        Err(e) => Err(ExecError::Failed(format!("copying volume {} to {}:{}: {e}{tail}", c.name, config.name, c.path))),
    }
}

fn machine_config(
    config: &VmTargetConfig,
    c: &VmFlyVolume,
    fork: &str,
    address: &str,
    key: &OneTimeKey,
    known_hosts: &str,
) -> Result<MachineConfig, ExecError> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let alias = config.host.host.trim_matches(['[', ']']);
    let at = if address.contains(':') { format!("[{address}]") } else { address.to_string() };
    let rsh = format!(
        "ssh -F /dev/null -i {KEY_FILE} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes \
         -o UserKnownHostsFile={KNOWN_HOSTS_FILE} -o GlobalKnownHostsFile=/dev/null -o HostKeyAlias={alias} -p {}",
        config.host.port
    );
    let value = json!({
        "image": JOB_IMAGE,
        "init": {"exec": ["/bin/sh", "-c", SCRIPT]},
        "env": {
            "FERRY_DEST": format!("{}@{at}:.", config.host.user),
            "FERRY_PASS": pass_name(c.pass),
            "RSYNC_RSH": rsh,
        },
        "mounts": [{"volume": fork, "path": VOLUME_MOUNT}],
        "files": [
            {"guest_path": KEY_FILE, "raw_value": b64(&key.private), "mode": 0o600},
            {"guest_path": KNOWN_HOSTS_FILE, "raw_value": b64(known_hosts), "mode": 0o644},
        ],
        "restart": {"policy": "no"},
        "auto_destroy": false,
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
        "metadata": {MACHINE_TAG: c.volume},
    });
    serde_json::from_value(value).map_err(ExecError::json("the copy machine's config"))
}

fn pass_name(pass: VolumePass) -> &'static str {
    match pass {
        VolumePass::Bulk => "bulk",
        VolumePass::Final => "final",
    }
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

/// The destination, which the authorized key is limited to: an absolute
/// path under the target's root, in characters `authorized_keys` and a
/// shell take as they are.
fn checked_dir(config: &VmTargetConfig, path: &str) -> Result<String, ExecError> {
    let plain = path.chars().all(|ch| ch.is_ascii_alphanumeric() || "/._-".contains(ch));
    let under_root = path.starts_with(&format!("{}/", config.root)) && !path.split('/').any(|p| p == ".." || p == ".");
    if plain && under_root {
        Ok(path.trim_end_matches('/').to_string())
    } else {
        Err(ExecError::Config(format!(
            "a volume copy may write only into a plain directory under {} on {}, not `{}`",
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
    fn make(comment: &str) -> Result<OneTimeKey, ExecError> {
        let dir = tempfile::tempdir().map_err(|e| ExecError::Failed(format!("a temporary directory for the copy's key: {e}")))?;
        let file = dir.path().join("key");
        let out = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
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

    /// The `authorized_keys` line: rsync into `dir` only, no shell, no
    /// forwarding, no pty.
    fn authorized_line(&self, dir: &str) -> String {
        format!("restrict,command=\"rrsync -wo {dir}\" {}", self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> VmTargetConfig {
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
    fn the_key_is_limited_to_rsync_into_the_directory_and_never_printed() {
        let key = OneTimeKey::make("ferry-copy-1").unwrap();
        let line = key.authorized_line("/srv/shop/volumes/shop_data");
        assert!(line.starts_with("restrict,command=\"rrsync -wo /srv/shop/volumes/shop_data\" ssh-ed25519 "), "{line}");
        assert!(line.ends_with(" ferry-copy-1"), "{line}");
        assert!(key.private.contains("OPENSSH PRIVATE KEY") && !format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn the_machine_gets_the_fork_the_key_and_the_pinned_host_key_by_the_name_it_was_pinned_for() {
        let config = target();
        let key = OneTimeKey { private: "PRIVATE".into(), public: "ssh-ed25519 AAAA ferry-copy-1".into() };
        let c = VmFlyVolume {
            target: "prod".into(),
            app: "shop".into(),
            volume: "vol_1".into(),
            name: "shop_data".into(),
            path: "/srv/shop/volumes/shop_data".into(),
            pass: VolumePass::Final,
            timeout_ms: 1000,
        };
        let machine = serde_json::to_value(machine_config(&config, &c, "vol_fork", "198.51.100.9", &key, "203.0.113.7 ssh-ed25519 HOST\n").unwrap()).unwrap();
        assert_eq!(machine["image"], JOB_IMAGE);
        assert_eq!(machine["mounts"], json!([{"volume": "vol_fork", "path": "/mnt/volume"}]));
        assert_eq!(machine["env"]["FERRY_DEST"], "root@198.51.100.9:.");
        assert_eq!(machine["env"]["FERRY_PASS"], "final");
        let rsh = machine["env"]["RSYNC_RSH"].as_str().unwrap();
        assert!(rsh.contains("-o HostKeyAlias=203.0.113.7 -p 22") && rsh.contains("StrictHostKeyChecking=yes"), "{rsh}");
        assert_eq!(machine["files"][0]["raw_value"], "UFJJVkFURQ==");
        assert_eq!(machine["files"][0]["mode"], 0o600);
        assert_eq!(machine["metadata"]["ferry_copy"], "vol_1");
    }
}
