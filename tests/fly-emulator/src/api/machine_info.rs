//! Read-only machine endpoints: `wait` (long poll), `events`, `versions`, `ps`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::error::{ApiError, ApiResult, Query};
use super::{app, machine, machine_not_found};
use crate::emulator::Emulator;
use crate::ids::rfc3339;
use crate::state::MachineState;

/// flaps caps one wait at 60 s (`proxyTimeoutThreshold`); clients loop.
const MAX_WAIT: Duration = Duration::from_secs(60);
const WAITABLE_STATES: [&str; 4] = ["started", "stopped", "destroyed", "suspended"];
const RECHECK: Duration = Duration::from_millis(50);

#[derive(Debug)]
struct WaitRequest {
    states: Vec<String>,
    timeout: Duration,
    version: Option<String>,
}

impl WaitRequest {
    /// `state` may repeat (fly-go sends one per wanted state, never
    /// comma-joined: `TestWaitStatesNoCommaSplitting`), so `started,stopped`
    /// is one unknown state. The instance to wait for is `instance_id` in
    /// the docs ("Filter for a specific Machine `instance_id` (version)",
    /// `machines-resource.html.markerb:306-321`) and `version` in fly-go
    /// (`flaps_machines_wait.go:12-17`); both match the machine's
    /// `instance_id`. `from_event_id` is accepted and ignored.
    fn parse(params: &[(String, String)]) -> ApiResult<WaitRequest> {
        let mut request = WaitRequest { states: Vec::new(), timeout: MAX_WAIT, version: None };
        for (name, value) in params {
            match name.as_str() {
                "state" => {
                    if !WAITABLE_STATES.contains(&value.as_str()) {
                        return Err(ApiError::bad_request(format!("invalid state {value:?}: expected one of {}", WAITABLE_STATES.join(", "))));
                    }
                    request.states.push(value.clone());
                }
                "timeout" => request.timeout = parse_timeout(value)?,
                "version" | "instance_id" if !value.is_empty() => request.version = Some(value.clone()),
                "version" | "instance_id" | "from_event_id" => {}
                other => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter {other:?}: wait takes state, timeout, instance_id (or version) and from_event_id"
                    )));
                }
            }
        }
        if request.states.is_empty() {
            request.states.push("started".to_string());
        }
        Ok(request)
    }
}

fn parse_timeout(value: &str) -> ApiResult<Duration> {
    let timeout = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => crate::duration::parse(value).map_err(|e| ApiError::bad_request(format!("invalid timeout: {e}")))?,
    };
    if timeout > MAX_WAIT {
        return Err(ApiError::bad_request("invalid timeout: the maximum is 60 seconds"));
    }
    Ok(timeout)
}

enum Waited {
    Reached,
    NotYet,
}

pub async fn wait(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> ApiResult<Json<Value>> {
    let request = WaitRequest::parse(&params)?;
    let deadline = Instant::now() + request.timeout;
    // Subscribe before the first look so no change between look and sleep is missed.
    let mut changes = emulator.subscribe();
    loop {
        let waited = emulator.read(|state| {
            let machine = machine(app(state, &app_name)?, &id)?;
            if machine.hidden_by_404_window(&state.settings) {
                return Err(machine_not_found(&id));
            }
            // Right after an update the API may still show the old
            // instance (`update_stale_read_ms`): an unpinned wait sees it.
            let (current_state, instance_id) = match machine.stale_view() {
                Some(stale) => (stale["state"].as_str().unwrap_or_default().to_string(), stale["instance_id"].as_str().unwrap_or_default().to_string()),
                None => (machine.state.as_str().to_string(), machine.instance_id.clone()),
            };
            let state_matches = request.states.contains(&current_state);
            if state_matches && request.version.as_ref().is_none_or(|v| *v == instance_id) {
                return Ok(Waited::Reached);
            }
            if machine.state == MachineState::Destroyed {
                // It will never get there; an auto-destroyed machine is gone.
                return Err(machine_not_found(&id));
            }
            Ok(Waited::NotYet)
        })?;
        if let Waited::Reached = waited {
            return Ok(Json(json!({"ok": true})));
        }
        if Instant::now() >= deadline {
            return Err(ApiError::new(StatusCode::REQUEST_TIMEOUT, "deadline_exceeded: machine failed to reach desired state"));
        }
        // Look again on every change, and at least every RECHECK: a stale
        // view expires without a state change to announce it.
        let _ = tokio::time::timeout_at(deadline.min(Instant::now() + RECHECK), changes.changed()).await;
    }
}

pub async fn events(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let machine = machine(app(state, &app_name)?, &id)?;
        Ok(Json(machine.events.iter().map(|event| event.to_json()).collect()))
    })
}

pub async fn versions(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let machine = machine(app(state, &app_name)?, &id)?;
        let versions = machine.versions.iter().map(|v| json!({"version": v.version, "user_config": v.config, "created_at": rfc3339(v.created_at)})).collect();
        Ok(Json(versions))
    })
}

/// The machine's process with the sockets it actually listens on, reported
/// as the guest would see them (`0.0.0.0:<internal_port>`).
pub async fn ps(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let process = emulator.read(|state| Ok::<_, ApiError>(machine(app(state, &app_name)?, &id)?.process.clone()))?;
    let Some(process) = process else {
        return Ok(Json(json!([])));
    };
    let mut sockets = Vec::new();
    for (internal, local) in &process.ports {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, *local));
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(address)).await {
            sockets.push(json!({"proto": "tcp", "address": format!("0.0.0.0:{internal}")}));
        }
    }
    Ok(Json(json!([{
        "pid": process.pid,
        "command": "fly-emulator machine",
        "directory": "/",
        "cpu": 0,
        "rss": 0,
        "stime": 0,
        "rtime": 0,
        "listen_sockets": sockets,
    }])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn wait_defaults_to_started_within_sixty_seconds() {
        let request = WaitRequest::parse(&[]).unwrap();
        assert_eq!(request.states, ["started"]);
        assert_eq!(request.timeout, MAX_WAIT);
    }

    #[test]
    fn wait_accepts_repeated_states_and_both_version_names() {
        let request = WaitRequest::parse(&params(&[("state", "stopped"), ("state", "destroyed"), ("instance_id", "v1")])).unwrap();
        assert_eq!(request.states, ["stopped", "destroyed"]);
        assert_eq!(request.version.as_deref(), Some("v1"));
    }

    #[test]
    fn wait_refuses_long_timeouts_and_unknown_states() {
        assert!(WaitRequest::parse(&params(&[("timeout", "61")])).is_err());
        assert!(WaitRequest::parse(&params(&[("timeout", "60")])).is_ok());
        assert!(WaitRequest::parse(&params(&[("timeout", "2m")])).is_err());
        assert!(WaitRequest::parse(&params(&[("state", "replacing")])).is_err());
    }
}
