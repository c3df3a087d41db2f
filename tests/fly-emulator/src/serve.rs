//! `fly-emulator serve`: binds the API on loopback, announces the address
//! on stdout, and on shutdown kills every machine process before exiting.

use std::io::{self, Write};
use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::signal::unix::{SignalKind, signal};

use crate::emulator::Emulator;
use crate::{api, control};

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
}

pub async fn run(args: ServeArgs) -> io::Result<()> {
    if !args.listen.ip().is_loopback() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("refusing to listen on {}: only loopback addresses are allowed", args.listen)));
    }
    let emulator = Emulator::new(std::env::current_exe()?);
    if let Some(text) = &args.settings {
        let patch: serde_json::Value =
            serde_json::from_str(text).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("--settings is not JSON: {e}")))?;
        let settings =
            emulator.read(|state| state.settings.patched(&patch)).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("--settings: {e}")))?;
        emulator.write(|state| state.settings = settings);
    }
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
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
