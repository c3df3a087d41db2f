//! `fly-emulator machine`: the process of one emulated machine. The emulator
//! starts it; it behaves as its image says (see `image.rs`).
//!
//! Protocol with the emulator: the first stdout line reports the loopback
//! port bound for each internal port (see `machine_proc::PORTS_REPORT`);
//! everything after it is the machine's log.

use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rustix::process::{Signal, getppid, set_parent_process_death_signal};
use serde_json::json;
use socket2::{Domain, Protocol, Socket, Type};

use crate::image::{ImageBehaviour, ImageKind};
use crate::machine_proc::PORTS_REPORT;

#[derive(Debug, clap::Args)]
pub struct MachineArgs {
    /// The machine id (echoed in every response).
    #[arg(long)]
    id: String,
    /// The emulator's PID: the process exits when it is no longer the parent.
    #[arg(long)]
    parent_pid: i32,
    /// The image behaviour, as JSON.
    #[arg(long)]
    behaviour: String,
    /// An internal port to serve on a loopback port. Repeatable.
    #[arg(long = "port")]
    ports: Vec<u16>,
    /// Run as flyctl's release-command machine: print, sleep, exit.
    #[arg(long)]
    release_command: bool,
    /// The machine's files: JSON object of guest path → base64 contents.
    #[arg(long)]
    files: Option<String>,
}

/// A socket bound for one internal port, not yet listening.
struct BoundPort {
    internal: u16,
    local: u16,
    socket: Socket,
}

pub fn run(args: MachineArgs) -> ExitCode {
    if let Err(message) = die_with_parent(args.parent_pid) {
        eprintln!("fly-emulator machine: {message}");
        return ExitCode::from(70);
    }
    let behaviour: ImageBehaviour = match serde_json::from_str(&args.behaviour) {
        Ok(behaviour) => behaviour,
        Err(e) => {
            eprintln!("fly-emulator machine: bad --behaviour: {e}");
            return ExitCode::from(64);
        }
    };
    // Bound now, so the ports are known and reserved; listening starts only
    // once the image has "started", so until then connections are refused.
    let ports = match bind_ports(&args.ports) {
        Ok(ports) => ports,
        Err(e) => {
            eprintln!("fly-emulator machine: cannot bind a loopback port: {e}");
            return ExitCode::from(71);
        }
    };
    let report: BTreeMap<u16, u16> = ports.iter().map(|port| (port.internal, port.local)).collect();
    println!("{PORTS_REPORT}{}", json!(report));
    if args.release_command {
        return release_command(&behaviour);
    }
    let files: BTreeMap<String, String> = match args.files.as_deref().map(serde_json::from_str).transpose() {
        Ok(files) => files.unwrap_or_default(),
        Err(e) => {
            eprintln!("fly-emulator machine: bad --files: {e}");
            return ExitCode::from(64);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("fly-emulator machine: {e}");
            return ExitCode::from(70);
        }
    };
    runtime.block_on(serve(args.id, ports, behaviour, files))
}

/// PR_SET_PDEATHSIG: the kernel kills this process when the emulator dies,
/// however it dies. If the emulator died before the call, exit now.
pub fn die_with_parent(parent_pid: i32) -> Result<(), String> {
    set_parent_process_death_signal(Some(Signal::KILL)).map_err(|e| format!("prctl: {e}"))?;
    match getppid() {
        Some(pid) if pid.as_raw_pid() == parent_pid => Ok(()),
        _ => Err("the emulator that started this machine is gone".to_string()),
    }
}

fn bind_ports(internal_ports: &[u16]) -> io::Result<Vec<BoundPort>> {
    internal_ports
        .iter()
        .map(|&internal| {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
            socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
            let local = socket.local_addr()?.as_socket().map_or(0, |address| address.port());
            Ok(BoundPort { internal, local, socket })
        })
        .collect()
}

fn release_command(behaviour: &ImageBehaviour) -> ExitCode {
    for line in &behaviour.release_output {
        println!("{line}");
    }
    std::thread::sleep(Duration::from_millis(behaviour.release_duration_ms));
    exit_code(behaviour.release_exit_code)
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(code.clamp(0, 255) as u8)
}

#[derive(Debug)]
struct App {
    machine_id: String,
    body: String,
    kind: ImageKind,
    health_path: Option<String>,
    /// Guest path → base64 contents.
    files: BTreeMap<String, String>,
}

async fn serve(machine_id: String, ports: Vec<BoundPort>, behaviour: ImageBehaviour, files: BTreeMap<String, String>) -> ExitCode {
    if behaviour.stop_delay_ms > 0 {
        let delay = Duration::from_millis(behaviour.stop_delay_ms);
        if let Err(e) = shut_down_slowly(delay) {
            eprintln!("cannot handle stop signals: {e}");
            return ExitCode::from(71);
        }
    }
    tokio::time::sleep(Duration::from_millis(behaviour.start_delay_ms)).await;
    if behaviour.kind == ImageKind::Crash {
        eprintln!("crashing with exit code {}", behaviour.crash_exit_code());
        return exit_code(behaviour.crash_exit_code());
    }
    let app =
        Arc::new(App { machine_id, body: behaviour.body.clone().unwrap_or_default(), kind: behaviour.kind, health_path: behaviour.health_path.clone(), files });
    let router = Router::new().route("/env/{name}", get(env_var)).route("/files/{*path}", get(file)).fallback(respond).with_state(app);
    for port in ports {
        let (internal, local) = (port.internal, port.local);
        let listener = match listen(port.socket) {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("cannot listen on 127.0.0.1:{local} for port {internal}: {e}");
                return ExitCode::from(71);
            }
        };
        println!("listening on 0.0.0.0:{internal} (127.0.0.1:{local})");
        let router = router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
    }
    if behaviour.kind == ImageKind::CrashAfter {
        tokio::time::sleep(Duration::from_millis(behaviour.crash_after_ms)).await;
        eprintln!("crashing with exit code {}", behaviour.crash_exit_code());
        return exit_code(behaviour.crash_exit_code());
    }
    std::future::pending().await
}

fn listen(socket: Socket) -> io::Result<tokio::net::TcpListener> {
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(socket.into())
}

/// Every request gets the image's body and the machine id, so a test can
/// tell which version each machine serves.
async fn respond(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let failing = app.kind == ImageKind::Unhealthy && app.health_path.as_deref().is_none_or(|path| path == uri.path());
    let status = if failing { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
    let body = json!({"body": app.body, "machine": app.machine_id});
    (status, axum::Json(body)).into_response()
}

/// On SIGINT or SIGTERM: keep serving for `delay`, then exit 0, as an app
/// with a graceful shutdown does. The machine stays `stopping` meanwhile.
fn shut_down_slowly(delay: Duration) -> io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        println!("shutting down in {delay:?}");
        tokio::time::sleep(delay).await;
        std::process::exit(0);
    });
    Ok(())
}

/// `GET /files/<guest path>`: a file of `config.files` as the machine got
/// it, so a test can see what content a client delivered.
async fn file(State(app): State<Arc<App>>, Path(path): Path<String>) -> Response {
    use base64::Engine;
    let guest_path = format!("/{path}");
    match app.files.get(&guest_path).and_then(|contents| base64::engine::general_purpose::STANDARD.decode(contents).ok()) {
        Some(contents) => contents.into_response(),
        None => (StatusCode::NOT_FOUND, format!("{guest_path} is not a file of this machine")).into_response(),
    }
}

/// `GET /env/NAME`: the value of NAME in this process's environment, so a
/// test can see what the machine was given (secrets included).
async fn env_var(Path(name): Path<String>) -> Response {
    match std::env::var(&name) {
        Ok(value) => value.into_response(),
        Err(_) => (StatusCode::NOT_FOUND, format!("{name} is not set")).into_response(),
    }
}
