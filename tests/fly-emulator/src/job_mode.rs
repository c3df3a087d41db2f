//! `fly-emulator job` and `fly-emulator job-init`: the process side of an
//! exec machine (the emulator side and the whole layout are in `job.rs`).
//!
//! `job` only arms the parent-death signal and execs the namespace tools:
//! the signal survives exec, so `unshare` dies with the emulator, and its
//! `--kill-child` takes PID 1 of the new PID namespace, and the kernel
//! everything in it. The emulator cannot arm it itself (that takes a
//! `pre_exec` hook, i.e. unsafe code).
//!
//! `job-init` is that PID 1. It is not the command itself because PID 1
//! ignores every signal it has no handler for, even one from outside its
//! namespace (pid_namespaces(7)): a `sleep 600` as PID 1 would never see the
//! SIGINT of a stop. As its child the command gets stop signals as on Fly,
//! where init hands them to the main process.

use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, mount, mount_bind, mount_change};
use rustix::process::{WaitOptions, WaitStatus, wait};

use crate::job::{GUEST_ROOT, GuestFile, JobSpec, VolumeMount, netns_path};
use crate::machine_mode::die_with_parent;

/// Exit codes for failures of the emulator's own setup, as sysexits(3)
/// names them; 126 and 127 are the shell's for a command that cannot run.
const EX_USAGE: u8 = 64;
const EX_SOFTWARE: u8 = 70;
const EX_OSERR: u8 = 71;
const NOT_EXECUTABLE: u8 = 126;
const NOT_FOUND: u8 = 127;

#[derive(Debug, clap::Args)]
pub struct JobArgs {
    /// The emulator's PID: the job dies when it is no longer the parent.
    #[arg(long)]
    parent_pid: i32,
    /// A network namespace in /run/netns to run the job in.
    #[arg(long)]
    netns: Option<String>,
}

pub fn run(args: JobArgs) -> ExitCode {
    if let Err(message) = die_with_parent(args.parent_pid) {
        eprintln!("fly-emulator job: {message}");
        return ExitCode::from(EX_SOFTWARE);
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("fly-emulator job: cannot find its own binary: {e}");
            return ExitCode::from(EX_OSERR);
        }
    };
    let mut command = match &args.netns {
        Some(name) => {
            // nsenter, not `ip netns exec`: the latter also remounts /sys
            // (see host/test-support/src/vm.rs).
            let mut nsenter = Command::new("nsenter");
            nsenter.arg(format!("--net={}", netns_path(name).display())).arg("--").arg("unshare");
            nsenter
        }
        None => Command::new("unshare"),
    };
    // --mount-proc: the job's `ps` and /proc show its own processes, as in a VM.
    command.args(["--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc", "--"]).arg(exe).arg("job-init");
    let error = command.exec();
    eprintln!("fly-emulator job: cannot run {}: {error} (exec machines need util-linux's unshare and nsenter)", command.get_program().to_string_lossy());
    ExitCode::from(EX_OSERR)
}

#[derive(Debug, clap::Args)]
pub struct JobInitArgs {}

pub fn init(_args: JobInitArgs) -> ExitCode {
    // It mounts over /mnt: only ever in the namespaces `job` made for it.
    if std::process::id() != 1 {
        eprintln!(
            "fly-emulator job-init: refusing to run outside a new PID and mount namespace (it mounts over {GUEST_ROOT}); the emulator starts it through `fly-emulator job`"
        );
        return ExitCode::from(EX_USAGE);
    }
    let spec = match read_spec() {
        Ok(spec) => spec,
        Err(message) => {
            eprintln!("fly-emulator job-init: {message}");
            return ExitCode::from(EX_USAGE);
        }
    };
    if let Err(message) = prepare(&spec) {
        eprintln!("fly-emulator job-init: {message}");
        return ExitCode::from(EX_OSERR);
    }
    let (program, args) = match spec.command.split_first() {
        Some(split) => split,
        None => {
            eprintln!("fly-emulator job-init: empty command");
            return ExitCode::from(EX_USAGE);
        }
    };
    let child = Command::new(program).args(args).env_clear().envs(&spec.env).current_dir("/").stdin(Stdio::null()).spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) => {
            eprintln!("fly-emulator job-init: cannot run {program}: {e}");
            return ExitCode::from(if e.kind() == io::ErrorKind::NotFound { NOT_FOUND } else { NOT_EXECUTABLE });
        }
    };
    ExitCode::from(reap_until_exit(child.id()))
}

fn read_spec() -> Result<JobSpec, String> {
    let mut input = Vec::new();
    io::stdin().read_to_end(&mut input).map_err(|e| format!("cannot read the job spec from stdin: {e}"))?;
    serde_json::from_slice(&input).map_err(|e| format!("bad job spec on stdin: {e}"))
}

/// A fresh tmpfs on /mnt, the volume bound into it, the files written.
/// Everything happens in the private mount namespace `unshare` made, so the
/// host's /mnt is untouched and all of it vanishes with the namespace.
fn prepare(spec: &JobSpec) -> Result<(), String> {
    mount_change("/", MountPropagationFlags::PRIVATE | MountPropagationFlags::REC)
        .map_err(|e| format!("cannot make the mounts private: {e} (exec machines need root or CAP_SYS_ADMIN)"))?;
    mount("tmpfs", GUEST_ROOT, "tmpfs", MountFlags::NOSUID | MountFlags::NODEV, c"mode=755")
        .map_err(|e| format!("cannot mount a tmpfs on {GUEST_ROOT}: {e}"))?;
    for VolumeMount { guest_path, host_dir } in &spec.mounts {
        std::fs::create_dir_all(guest_path).map_err(|e| format!("cannot create the mount point {}: {e}", guest_path.display()))?;
        mount_bind(host_dir, guest_path).map_err(|e| format!("cannot bind the volume {} at {}: {e}", host_dir.display(), guest_path.display()))?;
    }
    for file in &spec.files {
        write_file(file).map_err(|e| format!("cannot write {}: {e}", file.guest_path))?;
    }
    Ok(())
}

fn write_file(file: &GuestFile) -> io::Result<()> {
    let path = Path::new(&file.guest_path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mode = file.mode & 0o7777;
    let mut handle = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path)?;
    handle.write_all(&file.contents)?;
    // The umask narrowed the mode given at creation.
    handle.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Reaps every process of the namespace (orphans come to PID 1) until the
/// command exits, then returns its exit code; a command killed by a signal
/// gives 128 + the signal, as a shell reports it. Returning ends the PID
/// namespace, and the kernel kills whatever the command left behind.
fn reap_until_exit(command_pid: u32) -> u8 {
    loop {
        match wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid.as_raw_pid() as u32 == command_pid => return exit_code(status),
            Ok(_) | Err(Errno::INTR) => {}
            Err(e) => {
                eprintln!("fly-emulator job-init: waiting for the command failed: {e}");
                return EX_OSERR;
            }
        }
    }
}

fn exit_code(status: WaitStatus) -> u8 {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => 128u8.saturating_add(signal as u8),
        (None, None) => EX_SOFTWARE,
    }
}
