//! Machine lifecycle actions: start, stop, suspend, restart, cordon,
//! uncordon. Like every mutation they respect the machine's lease. Stop and
//! suspend answer at once with the machine `stopping`/`suspending`; the
//! machine gets there later (flyctl waits: `fly machine stop` does Stop then
//! Wait(state=stopped), `internal/command/machine/stop.go:94-125`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use rustix::process::Signal;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult, JsonBody, Query};
use super::{app_mut, guard_lease, lease_nonce, live_machine_mut};
use crate::duration::GoDuration;
use crate::emulator::Emulator;
use crate::lifecycle::Op;
use crate::machine_proc::parse_signal;
use crate::state::{Machine, MachineState};

pub async fn start(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    mutate(&emulator, &app_name, &id, &headers, |machine| {
        let previous = machine.state;
        if !matches!(previous, MachineState::Started | MachineState::Starting | MachineState::Replacing) {
            machine.state = MachineState::Starting;
            let _ = machine.ops.send(Op::Start);
        }
        Ok(json!({"previous_state": previous.as_str(), "migrated": false, "new_host": ""}))
    })
    .map(Json)
}

/// fly-go's `StopMachineInput` (`machine_types.go:338-342`). fly-go sends
/// `"timeout": "0s"` when no timeout is given (`Duration` is a struct, so
/// omitempty never drops it; brief §19.14): zero means "the default".
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StopInput {
    id: Option<String>,
    signal: Option<String>,
    timeout: Option<GoDuration>,
}

pub async fn stop(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<StopInput>,
) -> ApiResult<Json<Value>> {
    if input.id.as_ref().is_some_and(|sent| *sent != id) {
        return Err(ApiError::bad_request(format!("the body names machine {:?}, the path {id:?}", input.id.unwrap_or_default())));
    }
    let signal = signal(input.signal.filter(|s| !s.is_empty()).as_deref())?;
    let timeout = input.timeout.map(|t| t.0).filter(|t| !t.is_zero());
    mutate(&emulator, &app_name, &id, &headers, |machine| {
        if machine.state.is_active() || machine.state == MachineState::Created {
            machine.state = MachineState::Stopping;
            let _ = machine.ops.send(Op::Stop { signal, timeout });
        }
        Ok(json!({"ok": true}))
    })
    .map(Json)
}

/// `POST …/suspend` (fly-go `Suspend`, `flaps_machines.go:450-465`): the
/// process stops and the machine becomes `suspended`; a start resumes it.
/// Memory snapshots are not emulated: a resumed machine starts afresh.
pub async fn suspend(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    mutate(&emulator, &app_name, &id, &headers, |machine| {
        if machine.state.is_active() {
            machine.state = MachineState::Suspending;
            let _ = machine.ops.send(Op::Suspend);
            Ok(json!({"ok": true}))
        } else {
            Err(ApiError::precondition(format!("unable to suspend machine, it is {}", machine.state.as_str())))
        }
    })
    .map(Json)
}

/// fly-go sends `?force_stop=<bool>` always, `timeout` and `signal` when set
/// (`flaps_machines.go:90-113`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RestartQuery {
    signal: Option<String>,
    timeout: Option<String>,
    force_stop: Option<bool>,
}

pub async fn restart(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id)): Path<(String, String)>,
    Query(query): Query<RestartQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    // A forced stop kills instead of signalling (assumed from the name).
    let signal = match query.force_stop {
        Some(true) => Some(Signal::KILL),
        _ => signal(query.signal.as_deref())?,
    };
    let timeout = query.timeout.map(|text| crate::duration::parse(&text).map_err(ApiError::bad_request)).transpose()?;
    mutate(&emulator, &app_name, &id, &headers, |machine| {
        machine.state = if machine.state.is_active() { MachineState::Stopping } else { MachineState::Starting };
        let _ = machine.ops.send(Op::Restart { signal, timeout });
        Ok(json!({"ok": true}))
    })
    .map(Json)
}

pub async fn cordon(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    set_cordoned(&emulator, &app_name, &id, &headers, true)
}

pub async fn uncordon(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    set_cordoned(&emulator, &app_name, &id, &headers, false)
}

fn set_cordoned(emulator: &Emulator, app_name: &str, id: &str, headers: &HeaderMap, cordoned: bool) -> ApiResult<Json<Value>> {
    mutate(emulator, app_name, id, headers, |machine| {
        machine.cordoned = cordoned;
        Ok(json!({"ok": true}))
    })
    .map(Json)
}

/// Runs a mutation on a live machine after checking its lease.
pub(super) fn mutate<T>(emulator: &Emulator, app_name: &str, id: &str, headers: &HeaderMap, change: impl FnOnce(&mut Machine) -> ApiResult<T>) -> ApiResult<T> {
    emulator.write(|state| {
        let machine = live_machine_mut(app_mut(state, app_name)?, id)?;
        guard_lease(machine, lease_nonce(headers))?;
        change(machine)
    })
}

fn signal(name: Option<&str>) -> ApiResult<Option<Signal>> {
    name.map(|name| parse_signal(name).ok_or_else(|| ApiError::bad_request(format!("invalid signal {name:?}")))).transpose()
}
