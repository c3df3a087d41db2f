//! Machine leases: whoever holds the nonce may mutate the machine until the
//! lease expires. Anyone without the nonce is "someone else".

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::{ApiError, ApiResult, JsonBody, Query};
use super::{app, app_mut, lease_held, lease_nonce, live_machine_mut, machine, views};
use crate::emulator::Emulator;
use crate::ids;
use crate::state::Lease;

/// TTL when the request names none.
const DEFAULT_TTL_SECONDS: u64 = 30;

pub async fn get(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let machine = machine(app(state, &app_name)?, &id)?;
        let lease = machine.active_lease().ok_or_else(|| ApiError::not_found("lease not found"))?;
        Ok(Json(views::lease(lease)))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TtlQuery {
    ttl: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AcquireBody {
    ttl: Option<u64>,
    description: Option<String>,
}

/// Acquires the lease, or refreshes it when the request carries its nonce.
pub async fn acquire(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id)): Path<(String, String)>,
    Query(query): Query<TtlQuery>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AcquireBody>,
) -> ApiResult<Json<Value>> {
    let ttl = query.ttl.or(body.ttl).unwrap_or(DEFAULT_TTL_SECONDS);
    emulator.write(|state| {
        let machine = live_machine_mut(app_mut(state, &app_name)?, &id)?;
        let nonce = lease_nonce(&headers);
        if let Some(held) = machine.lease.as_mut().filter(|lease| lease.is_active()) {
            if nonce != Some(held.nonce.as_str()) {
                return Err(lease_held(held));
            }
            held.expires_at = SystemTime::now() + Duration::from_secs(ttl.max(1));
            return Ok(Json(views::lease(held)));
        }
        let lease = new_lease(&caller, ttl, body.description.unwrap_or_default(), machine.instance_id.clone());
        let rendered = views::lease(&lease);
        machine.lease = Some(lease);
        Ok(Json(rendered))
    })
}

pub async fn release(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    emulator.write(|state| {
        let machine = live_machine_mut(app_mut(state, &app_name)?, &id)?;
        let held = machine.active_lease().ok_or_else(|| ApiError::not_found("lease not found"))?;
        if lease_nonce(&headers) != Some(held.nonce.as_str()) {
            return Err(lease_held(held));
        }
        machine.lease = None;
        Ok(Json(json!({"status": "success"})))
    })
}

/// A new lease owned by `caller` (also used by create's `lease_ttl`). Its
/// `version` is the machine's `instance_id`: flyctl skips a re-read of the
/// machine when they match (`internal/machine/lease.go:116-119`).
pub(super) fn new_lease(caller: &Caller, ttl_seconds: u64, description: String, instance_id: String) -> Lease {
    Lease {
        nonce: ids::nonce(),
        owner: caller.owner.clone(),
        description,
        version: instance_id,
        expires_at: SystemTime::now() + Duration::from_secs(ttl_seconds.max(1)),
    }
}
