//! `vm-fly-volume`: a Fly volume's files pushed onto the host by a machine
//! with a fork of it mounted. The key may only run rsync's restricted
//! server into the volume's directory (`rrsync -wo`, shipped with rsync).

use ferry_fly::CreateVolumeRequest;
use ferry_model::{VmFlyVolume, VolumePass};
use ferry_vm::{DockerHost, commands};

use super::{FORK_NAME, JOB_IMAGE, Job, checked_dir, pushing};
use crate::apply::executor::ExecError;
use crate::fly::ops::FlyOps;
use crate::journal::NOTE_OUTPUT;
use crate::vm::VmTargetConfig;
use crate::vm::ops::sh;

/// Where the machine mounts the fork.
const MOUNT: &str = "/mnt/volume";

/// What the machine runs: `$FERRY_HOST:.` is the key's directory (rrsync
/// maps `.` to it). A final pass deletes what the volume no longer has,
/// then compares every file by checksum: any line rsync would still
/// change fails it.
const SCRIPT: &str = r#"set -eu
if ! command -v rsync >/dev/null 2>&1 || ! command -v ssh >/dev/null 2>&1; then
  apk add --no-cache rsync openssh-client >/dev/null
fi
export RSYNC_RSH="$FERRY_SSH"
if [ "$FERRY_PASS" = final ]; then
  rsync -a --numeric-ids --delete /mnt/volume/ "$FERRY_HOST:."
  differs=$(rsync -a --numeric-ids --delete --checksum --dry-run --itemize-changes /mnt/volume/ "$FERRY_HOST:.")
  if [ -n "$differs" ]; then
    echo "after the final pass the host still differs from the volume:"
    echo "$differs"
    exit 3
  fi
else
  rsync -a --numeric-ids /mnt/volume/ "$FERRY_HOST:."
fi
echo "copied $(find /mnt/volume -type f | wc -l) file(s)"
"#;

/// The exit code the script uses when the checksum comparison failed.
const DIFFERS: i64 = 3;

/// Copies the volume; the key, the machine and the fork are gone afterwards.
pub(in crate::vm::ops) fn copy(
    host: &DockerHost<'_>,
    config: &VmTargetConfig,
    fly: &FlyOps,
    c: &VmFlyVolume,
    keepalive: &mut dyn FnMut(),
) -> Result<Vec<(String, String)>, ExecError> {
    let dir = checked_dir(config, &c.path)?;
    if sh(host, "command -v rrsync >/dev/null && echo yes || true")?.trim() != "yes" {
        return Err(ExecError::Failed(format!(
            "{} has no rrsync, which limits the copy's one-time key to its directory: install rsync 3.2.4 or later there (`apt-get install rsync`)",
            config.name
        )));
    }
    let source = fly.client().get_volume(&c.app, &c.volume).map_err(ExecError::fly(format!("reading volume {} ({}) of {}", c.name, c.volume, c.app)))?;
    let job = pushing(host, config, fly, &c.app, &format!("rrsync -wo {dir}"), |push| {
        let fork = fly
            .client()
            .create_volume(
                &c.app,
                &CreateVolumeRequest { name: FORK_NAME.into(), region: source.region.clone(), source_volume_id: Some(source.id.clone()), ..Default::default() },
            )
            .map_err(ExecError::fly(format!("forking volume {} ({}) of {}", c.name, c.volume, c.app)))?;
        let mut env = push.env();
        env.push(("FERRY_PASS", pass_name(c.pass).into()));
        let job = Job { image: JOB_IMAGE, script: SCRIPT, env, mount: Some((&fork.id, MOUNT)), files: push.files(), copies: &c.volume };
        job.run(fly, &c.app, &source.region, c.timeout_ms, keepalive)
    })?;
    let tail = job.tail();
    match job.exit {
        Ok(0) => {
            let pass = pass_name(c.pass);
            let note = match job.logs.iter().rev().find_map(|l| l.strip_prefix("copied ")) {
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

/// Whether the directory is empty (or missing), so the undo may empty it.
pub(in crate::vm::ops) fn is_empty(host: &DockerHost<'_>, path: &str) -> Result<bool, ExecError> {
    Ok(sh(host, &commands::is_empty_dir(path))?.trim() == "empty")
}

fn pass_name(pass: VolumePass) -> &'static str {
    match pass {
        VolumePass::Bulk => "bulk",
        VolumePass::Final => "final",
    }
}
