//! A per-app HTTP proxy standing in for fly-proxy: each request goes, round
//! robin, to a started, uncordoned machine whose checks all pass. Tests send
//! traffic through it during a deploy to measure downtime.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use http_body_util::Full;
use serde_json::json;

use crate::emulator::Emulator;
use crate::state::{MachineState, State as EmulatorState};

/// Largest request body the proxy buffers (it must be able to resend it).
const MAX_BODY_BYTES: usize = 16 << 20;

/// Started proxies by (app, internal port); `None` means each machine's
/// first service port.
#[derive(Debug, Default)]
pub struct Proxies {
    addresses: Mutex<HashMap<(String, Option<u16>), SocketAddr>>,
}

struct Proxy {
    emulator: Arc<Emulator>,
    app: String,
    port: Option<u16>,
    next: AtomicUsize,
}

/// The address of the app's proxy, starting it on first use.
pub fn address(emulator: &Arc<Emulator>, app: &str, port: Option<u16>) -> io::Result<SocketAddr> {
    let mut addresses = emulator.proxies.addresses.lock().unwrap_or_else(|p| p.into_inner());
    let key = (app.to_string(), port);
    if let Some(address) = addresses.get(&key) {
        return Ok(*address);
    }
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let proxy = Arc::new(Proxy { emulator: emulator.clone(), app: app.to_string(), port, next: AtomicUsize::new(0) });
    let router = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, router).await });
    addresses.insert(key, address);
    Ok(address)
}

/// Loopback addresses of the machines that may take traffic now.
fn backends(state: &EmulatorState, app: &str, port: Option<u16>) -> Vec<SocketAddr> {
    let Some(app) = state.app(app) else {
        return Vec::new();
    };
    app.machines
        .iter()
        .filter(|m| m.state == MachineState::Started && !m.cordoned && m.checks_passing())
        .filter_map(|m| {
            let internal = port.or(m.spec.service_port())?;
            let local = *m.process.as_ref()?.ports.get(&internal)?;
            Some(SocketAddr::from((Ipv4Addr::LOCALHOST, local)))
        })
        .collect()
}

async fn forward(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(e) => {
            return error(StatusCode::PAYLOAD_TOO_LARGE, format!("unreadable body: {e}"));
        }
    };
    let backends = proxy.emulator.read(|state| backends(state, &proxy.app, proxy.port));
    if backends.is_empty() {
        return error(StatusCode::SERVICE_UNAVAILABLE, format!("no healthy machine to serve app {}", proxy.app));
    }
    let first = proxy.next.fetch_add(1, Ordering::Relaxed);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut last_error = String::new();
    // Like fly-proxy, retry another machine when one refuses the connection
    // (nothing was sent yet); any later failure is the client's answer.
    for offset in 0..backends.len() {
        let backend = backends[(first + offset) % backends.len()];
        let mut outgoing = hyper::Request::builder().method(parts.method.clone()).uri(format!("http://{backend}{path}"));
        for (name, value) in &parts.headers {
            outgoing = outgoing.header(name, value);
        }
        let outgoing = match outgoing.body(Full::new(body.clone())) {
            Ok(outgoing) => outgoing,
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        };
        match proxy.emulator.http.request(outgoing).await {
            Ok(response) => return response.map(Body::new),
            Err(e) if e.is_connect() => last_error = e.to_string(),
            Err(e) => {
                return error(StatusCode::BAD_GATEWAY, format!("machine at {backend} failed: {e}"));
            }
        }
    }
    error(StatusCode::BAD_GATEWAY, format!("no machine accepted the connection: {last_error}"))
}

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}
