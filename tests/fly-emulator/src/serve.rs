//! `fly-emulator serve`: binds the API on loopback, announces the address
//! on stdout, and on shutdown kills every machine process, then removes
//! its temporary data dir, before exiting.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::io::AsyncReadExt;
use tokio::signal::unix::{SignalKind, signal};

use crate::data_dir::DataDir;
use crate::emulator::Emulator;
use crate::settings::Settings;
use crate::{api, control, job};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; must be a loopback address. Port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Also shut down when standard input reaches end of file, so the
    /// emulator (and its machines) die with a test process that holds the
    /// other end of a pipe, however that process ends.
    #[arg(long)]
    exit_on_stdin_eof: bool,
    /// Initial settings, as the JSON `POST /_emulator/settings` takes
    /// (e.g. `{"rate_limits": {"enabled": true}}`).
    #[arg(long)]
    settings: Option<String>,
    /// Where volumes' bytes live, one directory per volume (created if
    /// missing, kept at exit). Default: a fresh directory in the system's
    /// temp dir, removed at exit.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Run exec machines in this network namespace, /run/netns/NAME (as
    /// `ip netns add NAME` makes), instead of the emulator's own.
    #[arg(long, value_name = "NAME")]
    machine_netns: Option<String>,
}

pub async fn run(args: ServeArgs) -> io::Result<()> {
    if !args.listen.ip().is_loopback() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("refusing to listen on {}: only loopback addresses are allowed", args.listen)));
    }
    let settings = match &args.settings {
        Some(text) => {
            let patch: serde_json::Value =
                serde_json::from_str(text).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("--settings is not JSON: {e}")))?;
            Settings::default().patched(&patch).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("--settings: {e}")))?
        }
        None => Settings::default(),
    };
    if let Some(name) = &args.machine_netns {
        check_netns(name)?;
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    // Last, so that no failure above leaves a temporary data dir behind.
    let data = DataDir::open(args.data_dir.as_deref()).map_err(|e| io::Error::new(e.kind(), format!("data dir: {e}")))?;
    let emulator = Emulator::new(std::env::current_exe()?, data, args.machine_netns.clone());
    emulator.write(|state| state.settings = settings);
    let app = control::router(emulator.clone()).fallback_service(api::router(emulator.clone()));
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on http://{}", listener.local_addr()?)?;
    stdout.flush()?;
    drop(stdout);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
        () = emulator.exit_requested() => {}
        () = stdin_closed(), if args.exit_on_stdin_eof => {}
    }
    emulator.stop_all_machines().await;
    emulator.data.clean_up().map_err(|e| io::Error::new(e.kind(), format!("cannot remove the data dir: {e}")))
}

/// The namespace must exist now: a typo would otherwise only show when a
/// machine fails to start.
fn check_netns(name: &str) -> io::Result<()> {
    let path = job::netns_path(name);
    if name.is_empty() || name.contains('/') || !path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("--machine-netns {name:?}: {} does not exist; create it with `ip netns add NAME`", path.display()),
        ));
    }
    Ok(())
}

async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 256];
    while let Ok(read) = stdin.read(&mut buffer).await {
        if read == 0 {
            return;
        }
    }
}
