//! fly-emulator: a stateful emulator of the Fly.io Machines API whose
//! machines are real local processes. See `--help`.

mod api;
mod checks;
mod config;
mod control;
mod data_dir;
mod duration;
mod echo;
mod emulator;
mod faults;
mod ids;
mod image;
mod job;
mod job_mode;
mod lifecycle;
mod logs;
mod machine_mode;
mod machine_proc;
mod proxy;
mod ratelimit;
mod recorder;
mod registry;
mod serve;
mod settings;
mod state;
mod wire;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A stateful emulator of the Fly.io Machines API ("flaps") whose machines
/// are real local processes.
///
/// `serve` runs the API on loopback and prints `listening on http://ADDR`
/// once ready. Point a client at it with FLY_FLAPS_BASE_URL (and
/// FLY_API_BASE_URL / FLY_UIEX_BASE_URL for logs and releases). Register
/// images first through the control API (`POST /_emulator/images`); every
/// started machine runs this binary in `machine` mode, behaving as its image
/// says, or, for `exec` images, runs the machine's own command with its
/// volume under /mnt (see `serve --data-dir` and `--machine-netns`). Stop
/// it with SIGTERM, SIGINT, `POST /_emulator/shutdown`, or (with
/// --exit-on-stdin-eof) by closing its standard input; all machine
/// processes are killed first.
#[derive(Debug, Parser)]
#[command(name = "fly-emulator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the emulated Machines API (and the control API under /_emulator).
    Serve(serve::ServeArgs),
    /// Internal: the process of one emulated machine, started by `serve`.
    Machine(machine_mode::MachineArgs),
    /// Internal: an exec machine's process, started by `serve`; sets up its
    /// namespaces and runs `job-init` in them.
    Job(job_mode::JobArgs),
    /// Internal: PID 1 of an exec machine; mounts its volume, writes its
    /// files and runs its command.
    JobInit(job_mode::JobInitArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Machine(args) => machine_mode::run(args),
        Command::Job(args) => job_mode::run(args),
        Command::JobInit(args) => job_mode::init(args),
        Command::Serve(args) => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(e) => return fail(&e),
            };
            let outcome = runtime.block_on(serve::run(args));
            // Background tasks (proxies, pending long polls) must not hold the exit.
            runtime.shutdown_background();
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("fly-emulator: {error}");
    ExitCode::FAILURE
}
