//! Exec machines: a machine whose image is registered with kind `exec`
//! runs its own command as a real process on this host, instead of the
//! built-in machine (`machine_mode.rs`). A test then sees the real effects,
//! e.g. of the job machine ferry uses to copy data out of Fly: a forked
//! volume mounted, an SSH key in `config.files`, `init.exec` = a transfer
//! script, `restart: {policy: "no"}`, `auto_destroy: true`, its exit code
//! read from the exit event (off-fly.md §1.3 "Job-machine knobs" and "Exit
//! status"; flyctl's console machine, `internal/appconfig/machines.go`
//! `ToConsoleMachineConfig`, is the same shape). The exit event, the
//! restart policy and `auto_destroy` are the lifecycle's, as for every
//! machine (`lifecycle.rs`).
//!
//! What the process gets, as a Fly machine does:
//! - the command: `init.exec`, else `init.entrypoint` + `init.cmd`
//!   (fly-go `MachineInit`); there is no image config to fall back on;
//! - the environment of every machine (`lifecycle::prepare_launch`:
//!   `config.env`, the app's secrets, `FLY_APP_NAME`, `FLY_MACHINE_ID`,
//!   `FLY_REGION`, …) plus `PATH` from the emulator's environment, standing
//!   in for the image's (`config.env` may override it);
//! - its volume at `mounts[0].path` and its `config.files` at their
//!   `guest_path` with their `mode` (fly-go `machine_types.go`), in a
//!   private mount namespace whose `/mnt` is a fresh tmpfs: nothing it
//!   mounts or writes there is seen outside, and it dies with the process;
//! - optionally the network namespace given with `serve --machine-netns`.
//!
//! Emulator limits (real Fly has none of them): mounts and files must be
//! under `/mnt/` (anything else would have to be written over the host's
//! own filesystem), and a file may not lie inside the volume's mount
//! (whether Fly writes it into the volume or hides it is unverified); such
//! a start fails with an error saying so. The rest of the filesystem is
//! the host's, and the command runs as the emulator's user, which must be
//! root (or hold CAP_SYS_ADMIN) for the namespaces. Exec machines get no
//! loopback ports: services, checks and the app proxy do not reach them.
//!
//! Processes (see `job_mode.rs`): the emulator starts `fly-emulator job`
//! in a process group of its own; it arms the parent-death signal, then
//! execs `[nsenter --net=/run/netns/NAME] unshare --mount --propagation
//! private --pid --fork --kill-child --mount-proc fly-emulator job-init`, which mounts
//! and writes in the new mount namespace and, as PID 1 of the new PID
//! namespace, runs the command and exits with its exit code. So:
//! - a stop signals the whole process group (`machine_proc.rs`), reaching
//!   a shell script's children too; `unshare` blocks SIGINT and SIGTERM
//!   while it waits (util-linux 2.38), so those reach the command, which
//!   may shut down gracefully; any other stop signal ends `unshare` and with
//!   it the whole namespace at once;
//! - when the command exits, the PID namespace ends and the kernel kills
//!   whatever it left running, as a VM stops when its main process exits;
//! - when the emulator dies however it dies, the parent-death signal kills
//!   `unshare`, `--kill-child` kills PID 1, and the kernel the rest: no
//!   process outlives the emulator (`machine_mode.rs` does the same for
//!   built-in machines).

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::config::Mount;
use crate::data_dir::DataDir;
use crate::machine_proc::{LineSink, Process, SignalScope, pump_lines};

/// The only directory of the machine's filesystem the emulator provides.
pub const GUEST_ROOT: &str = "/mnt";

/// Where `ip netns add NAME` puts a network namespace.
pub fn netns_path(name: &str) -> PathBuf {
    Path::new("/run/netns").join(name)
}

/// Everything `fly-emulator job-init` needs, sent on its standard input
/// (not its command line, which every user of the host can read: files
/// may hold keys and the environment holds secrets).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub command: Vec<String>,
    /// The complete environment: the process inherits nothing else.
    pub env: BTreeMap<String, String>,
    pub mounts: Vec<VolumeMount>,
    pub files: Vec<GuestFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeMount {
    pub guest_path: PathBuf,
    /// The volume's directory (see `data_dir.rs`).
    pub host_dir: PathBuf,
}

/// A file of `config.files` as the machine gets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestFile {
    pub guest_path: String,
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub contents: Vec<u8>,
    /// Permission bits, e.g. 0o600.
    pub mode: u32,
}

/// The spec of an exec machine's process, or why the emulator cannot run it.
pub fn plan(command: Vec<String>, mut env: BTreeMap<String, String>, mounts: &[Mount], files: Vec<GuestFile>, data: &DataDir) -> Result<JobSpec, String> {
    if command.is_empty() {
        return Err(
            "failed to launch VM: fly-emulator: an exec image has no command of its own; set config.init.exec (or init.entrypoint / init.cmd)".to_string()
        );
    }
    let mounts = mounts
        .iter()
        .enumerate()
        .map(|(index, mount)| {
            let guest_path = under_guest_root(&mount.path, &format!("config.mounts[{index}].path"))?;
            Ok(VolumeMount { guest_path, host_dir: data.volume(&mount.volume) })
        })
        .collect::<Result<Vec<_>, String>>()?;
    for (index, file) in files.iter().enumerate() {
        let guest_path = under_guest_root(&file.guest_path, &format!("config.files[{index}].guest_path"))?;
        if let Some(mount) = mounts.iter().find(|mount| guest_path.starts_with(&mount.guest_path)) {
            return Err(format!(
                "failed to launch VM: fly-emulator: config.files[{index}].guest_path {} is inside the volume mounted at {}; the emulator does not write files into volumes (what Fly does there is unverified): put the file beside the mount",
                file.guest_path,
                mount.guest_path.display()
            ));
        }
    }
    if !env.contains_key("PATH") {
        // The image's PATH on Fly; the emulator's stands in for it.
        env.insert("PATH".to_string(), std::env::var("PATH").unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string()));
    }
    Ok(JobSpec { command, env, mounts, files })
}

/// `path` if it is an absolute, plain path strictly below [`GUEST_ROOT`].
fn under_guest_root(path: &str, what: &str) -> Result<PathBuf, String> {
    let candidate = Path::new(path);
    let plain = candidate.components().all(|component| matches!(component, Component::RootDir | Component::Normal(_)));
    if plain && candidate.is_absolute() && candidate.starts_with(GUEST_ROOT) && candidate != Path::new(GUEST_ROOT) {
        return Ok(candidate.to_path_buf());
    }
    Err(format!(
        "failed to launch VM: fly-emulator runs exec images as processes on its host, so it can only mount volumes and write files under {GUEST_ROOT}/ (a private tmpfs per machine); {what} is {path:?}. Use a path under {GUEST_ROOT}/ in the test (real Fly has no such limit)"
    ))
}

/// Starts the job (see the module docs for the process layout). The
/// process runs in its own process group, so stops reach all of it.
pub async fn spawn(exe: &Path, spec: &JobSpec, netns: Option<&str>, sink: LineSink) -> io::Result<Process> {
    let input = serde_json::to_vec(spec).map_err(io::Error::other)?;
    let mut command = Command::new(exe);
    command.arg("job").args(["--parent-pid", &std::process::id().to_string()]);
    if let Some(name) = netns {
        command.args(["--netns", name]);
    }
    // PATH to find nsenter and unshare; the command gets the spec's environment.
    command.env_clear().envs(std::env::var_os("PATH").map(|path| ("PATH", path)));
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(true);
    let mut child = command.spawn()?;
    let mut stdin = child.stdin.take().ok_or_else(|| io::Error::other("no stdin"))?;
    if let Some(stdout) = child.stdout.take() {
        tokio::spawn(pump_lines(BufReader::new(stdout), "info", sink.clone()));
    }
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(pump_lines(BufReader::new(stderr), "error", sink));
    }
    let process = Process::adopt(child, SignalScope::Group)?;
    // A job that dies before reading its spec (no `unshare`, a netns gone)
    // says why on stderr and exits: its exit event tells the rest.
    let _ = stdin.write_all(&input).await;
    drop(stdin);
    Ok(process)
}

fn to_base64<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&STANDARD.encode(bytes))
}

fn from_base64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(deserializer)?;
    STANDARD.decode(text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> DataDir {
        DataDir::open(Some(&std::env::temp_dir())).unwrap()
    }

    fn file(path: &str) -> GuestFile {
        GuestFile { guest_path: path.to_string(), contents: b"key".to_vec(), mode: 0o600 }
    }

    fn mount(path: &str) -> Mount {
        Mount { volume: "vol_a".to_string(), path: path.to_string() }
    }

    fn sh() -> Vec<String> {
        vec!["/bin/sh".to_string(), "-c".to_string(), "true".to_string()]
    }

    #[test]
    fn mounts_and_files_must_be_below_mnt() {
        let spec = plan(sh(), BTreeMap::new(), &[mount("/mnt/data")], vec![file("/mnt/key")], &data()).unwrap();
        assert_eq!(spec.mounts[0].guest_path, Path::new("/mnt/data"));
        assert!(spec.mounts[0].host_dir.ends_with("volumes/vol_a"));
        for bad in ["/data", "/mnt", "/mnt/", "/mnt/../etc", "mnt/data", "/mntx/data"] {
            let error = plan(sh(), BTreeMap::new(), &[mount(bad)], Vec::new(), &data()).unwrap_err();
            assert!(error.contains("config.mounts[0].path") && error.contains("under /mnt/"), "{bad}: {error}");
        }
        let error = plan(sh(), BTreeMap::new(), &[], vec![file("/etc/key")], &data()).unwrap_err();
        assert!(error.contains("config.files[0].guest_path is \"/etc/key\""), "{error}");
        let error = plan(sh(), BTreeMap::new(), &[mount("/mnt/data")], vec![file("/mnt/data/key")], &data()).unwrap_err();
        assert!(error.contains("inside the volume mounted at /mnt/data"), "{error}");
    }

    #[test]
    fn needs_a_command_and_gets_the_emulators_path_unless_set() {
        assert!(plan(Vec::new(), BTreeMap::new(), &[], Vec::new(), &data()).unwrap_err().contains("init.exec"));
        let spec = plan(sh(), BTreeMap::new(), &[], Vec::new(), &data()).unwrap();
        assert!(!spec.env["PATH"].is_empty());
        let own = plan(sh(), BTreeMap::from([("PATH".to_string(), "/opt/bin".to_string())]), &[], Vec::new(), &data()).unwrap();
        assert_eq!(own.env["PATH"], "/opt/bin");
    }

    #[test]
    fn the_spec_carries_file_bytes_as_base64() {
        let spec = JobSpec { command: sh(), env: BTreeMap::new(), mounts: Vec::new(), files: vec![file("/mnt/key")] };
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["files"][0]["contents"], "a2V5");
        let back: JobSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back.files, spec.files);
    }
}
