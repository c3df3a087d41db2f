//! Starting and stopping the `fly-emulator` binary from tests (std only).
//!
//! ```no_run
//! let emulator = ferry_fly_emulator::FlyEmulator::start(ferry_fly_emulator::locate_binary()?)?;
//! // Point the client at it: FLY_FLAPS_BASE_URL (and FLY_API_BASE_URL /
//! // FLY_UIEX_BASE_URL for logs and releases) = emulator.url().
//! println!("{}", emulator.url());
//! emulator.stop()?; // every machine process is gone when this returns
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long `stop` waits for the emulator to kill its machines and exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Options of `fly-emulator serve` for [`FlyEmulator::start_with`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--settings`: the JSON `POST /_emulator/settings` takes.
    pub settings: Option<String>,
    /// `--data-dir`: where volumes' bytes live (default: a temp dir the
    /// emulator removes at exit).
    pub data_dir: Option<PathBuf>,
    /// `--machine-netns`: the network namespace (`/run/netns/NAME`) exec
    /// machines run in.
    pub machine_netns: Option<String>,
}

/// A running emulator. It runs with `--exit-on-stdin-eof` and this handle
/// holds its stdin, so it stops (killing every machine process first) when
/// the handle is stopped or dropped, and also when the test process dies.
#[derive(Debug)]
pub struct FlyEmulator {
    child: Child,
    stdin: Option<ChildStdin>,
    url: String,
}

impl FlyEmulator {
    /// Starts `binary serve` on a free loopback port and returns once it listens.
    pub fn start(binary: impl AsRef<Path>) -> io::Result<FlyEmulator> {
        FlyEmulator::start_with_settings(binary, None)
    }

    /// Like [`FlyEmulator::start`], with initial settings (the JSON
    /// `POST /_emulator/settings` takes, e.g. `{"rate_limits": {"enabled": true}}`).
    pub fn start_with_settings(binary: impl AsRef<Path>, settings: Option<&str>) -> io::Result<FlyEmulator> {
        FlyEmulator::start_with(binary, &Options { settings: settings.map(str::to_string), ..Options::default() })
    }

    /// Like [`FlyEmulator::start`], with the `serve` options in `options`.
    pub fn start_with(binary: impl AsRef<Path>, options: &Options) -> io::Result<FlyEmulator> {
        let mut command = Command::new(binary.as_ref());
        command.args(["serve", "--listen", "127.0.0.1:0", "--exit-on-stdin-eof"]);
        if let Some(settings) = &options.settings {
            command.args(["--settings", settings]);
        }
        if let Some(dir) = &options.data_dir {
            command.arg("--data-dir").arg(dir);
        }
        if let Some(name) = &options.machine_netns {
            command.args(["--machine-netns", name]);
        }
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or_else(|| io::Error::other("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let mut emulator = FlyEmulator { child, stdin, url: String::new() };
        match line.trim().strip_prefix("listening on ") {
            Some(url) => {
                emulator.url = url.to_string();
                Ok(emulator)
            }
            None => Err(io::Error::other(format!("fly-emulator did not start: first line {line:?}"))),
        }
    }

    /// `http://127.0.0.1:PORT`, the base of every API (`/v1`, `/api/v1`, `/_emulator`).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the emulator and its machines; kills it if it takes too long.
    pub fn stop(mut self) -> io::Result<ExitStatus> {
        self.stop_and_wait()
    }

    /// Waits up to `timeout` for the emulator to exit by itself (after
    /// `POST /_emulator/shutdown` or a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stop_and_wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        match self.wait_exit(STOP_TIMEOUT)? {
            Some(status) => Ok(status),
            None => {
                self.child.kill()?;
                self.child.wait()
            }
        }
    }
}

impl Drop for FlyEmulator {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.stop_and_wait();
        }
    }
}

/// Finds the `fly-emulator` binary for tests of other crates: the path in
/// `FLY_EMULATOR_BIN`, else the cargo target directory the running test
/// executable belongs to (`target/<profile>/fly-emulator`). Build it first,
/// e.g. `cargo build -p ferry-fly-emulator` (`cargo test --workspace` does).
pub fn locate_binary() -> io::Result<PathBuf> {
    if let Some(path) = std::env::var_os("FLY_EMULATOR_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    exe.ancestors().skip(1).take(3).map(|dir| dir.join("fly-emulator")).find(|candidate| candidate.is_file()).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("fly-emulator not found near {}; run `cargo build -p ferry-fly-emulator` or set FLY_EMULATOR_BIN", exe.display()),
        )
    })
}
