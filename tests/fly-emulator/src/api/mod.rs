//! The emulated public API: Machines, volumes, secrets, IPs and
//! certificates (`/v1`), plus the logs and releases endpoints flyctl calls
//! on api.fly.io (`/api/v1`). Every route passes the request recorder,
//! authentication, the rate limiter and fault injection, in that order.

mod actions;
mod apps;
mod auth;
pub mod certificates;
pub mod error;
mod ips;
mod leases;
mod logs;
mod machine_info;
mod machines;
mod metadata;
mod releases;
mod secrets;
pub mod views;
pub mod volumes;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderMap;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post, put};

use crate::emulator::Emulator;
use crate::ids::rfc3339;
use crate::state::{App, Machine, State};
use error::{ApiError, ApiResult};

pub fn router(emulator: Arc<Emulator>) -> Router {
    let machine = "/v1/apps/{app}/machines/{id}";
    Router::new()
        .route("/v1/apps", get(apps::list).post(apps::create))
        .route("/v1/apps/{app}", get(apps::get).delete(apps::delete))
        .route("/v1/apps/{app}/machines", get(machines::list).post(machines::create))
        .route(machine, get(machines::get).post(machines::update).delete(machines::destroy))
        .route(&format!("{machine}/start"), post(actions::start))
        .route(&format!("{machine}/stop"), post(actions::stop))
        .route(&format!("{machine}/restart"), post(actions::restart))
        .route(&format!("{machine}/cordon"), post(actions::cordon))
        .route(&format!("{machine}/uncordon"), post(actions::uncordon))
        .route(&format!("{machine}/suspend"), post(actions::suspend))
        .route(&format!("{machine}/wait"), get(machine_info::wait))
        .route(&format!("{machine}/events"), get(machine_info::events))
        .route(&format!("{machine}/versions"), get(machine_info::versions))
        .route(&format!("{machine}/ps"), get(machine_info::ps))
        .route(&format!("{machine}/metadata"), get(metadata::get))
        .route(&format!("{machine}/metadata/{{key}}"), post(metadata::set).delete(metadata::delete))
        .route(&format!("{machine}/lease"), get(leases::get).post(leases::acquire).delete(leases::release))
        .route("/v1/apps/{app}/volumes", get(volumes::list).post(volumes::create))
        .route("/v1/apps/{app}/volumes/{id}", get(volumes::get).put(volumes::update).delete(volumes::delete))
        .route("/v1/apps/{app}/volumes/{id}/extend", put(volumes::extend))
        .route("/v1/apps/{app}/volumes/{id}/snapshots", get(volumes::snapshots).post(volumes::snapshot))
        .route("/v1/apps/{app}/certificates", get(certificates::list))
        .route("/v1/apps/{app}/certificates/acme", post(certificates::add_acme))
        .route("/v1/apps/{app}/certificates/custom", post(certificates::add_custom))
        .route("/v1/apps/{app}/certificates/{hostname}", get(certificates::get).delete(certificates::delete))
        .route("/v1/apps/{app}/certificates/{hostname}/check", post(certificates::check))
        .route("/v1/apps/{app}/certificates/{hostname}/acme", axum::routing::delete(certificates::delete_acme))
        .route("/v1/apps/{app}/certificates/{hostname}/custom", axum::routing::delete(certificates::delete_custom))
        .route("/v1/apps/{app}/secrets", get(secrets::list).post(secrets::update_many))
        .route("/v1/apps/{app}/secrets/{name}", get(secrets::get).post(secrets::set).delete(secrets::delete))
        .route("/v1/apps/{app}/ip_assignments", get(ips::list).post(ips::assign))
        .route("/v1/apps/{app}/ip_assignments/{ip}", axum::routing::delete(ips::delete))
        .route("/api/v1/apps/{app}/logs", get(logs::poll))
        .route("/api/v1/releases", post(releases::create))
        .route("/api/v1/releases/{id}", axum::routing::patch(releases::update))
        .route("/api/v1/apps/{app}/releases", get(releases::list))
        .route("/api/v1/apps/{app}/releases/current", get(releases::current))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(from_fn_with_state(emulator.clone(), crate::faults::middleware))
        .layer(from_fn_with_state(emulator.clone(), crate::ratelimit::middleware))
        .layer(from_fn(auth::require_token))
        .layer(from_fn_with_state(emulator.clone(), crate::recorder::middleware))
        .with_state(emulator)
}

/// The app `name` as a reader sees it: 403 when another organization holds
/// the name (fly-go `AppNameAvailable`: "a name held by another
/// organization comes back as a 403", `flaps/flaps_apps.go:92-127`, body
/// from `TestAppNameAvailable`), 404 when there is no such app or its
/// creation is not visible yet.
fn app<'a>(state: &'a State, name: &str) -> ApiResult<&'a App> {
    check_foreign(state, name)?;
    state.app(name).filter(|app| app.is_visible()).ok_or_else(|| app_not_found(name))
}

fn app_mut<'a>(state: &'a mut State, name: &str) -> ApiResult<&'a mut App> {
    check_foreign(state, name)?;
    state.app_mut(name).filter(|app| app.is_visible()).ok_or_else(|| app_not_found(name))
}

fn check_foreign(state: &State, name: &str) -> ApiResult<()> {
    if state.foreign_apps.contains_key(name) {
        return Err(ApiError::new(axum::http::StatusCode::FORBIDDEN, "unauthorized"));
    }
    Ok(())
}

fn app_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("app {name} not found"))
}

fn machine<'a>(app: &'a App, id: &str) -> ApiResult<&'a Machine> {
    app.machine(id).ok_or_else(|| machine_not_found(id))
}

/// A machine that can still be changed: destroyed machines stay readable
/// for a while, but every mutation answers 404 as if they were gone.
fn live_machine_mut<'a>(app: &'a mut App, id: &str) -> ApiResult<&'a mut Machine> {
    app.machine_mut(id).filter(|m| !m.state.is_gone()).ok_or_else(|| machine_not_found(id))
}

fn machine_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("machine {id} not found"))
}

fn lease_nonce(headers: &HeaderMap) -> Option<&str> {
    headers.get("fly-machine-lease-nonce").and_then(|value| value.to_str().ok())
}

/// Mutations of a leased machine need the lease's nonce.
fn guard_lease(machine: &Machine, nonce: Option<&str>) -> ApiResult<()> {
    match machine.active_lease() {
        Some(lease) if nonce != Some(lease.nonce.as_str()) => Err(lease_held(lease)),
        _ => Ok(()),
    }
}

fn lease_held(lease: &crate::state::Lease) -> ApiError {
    ApiError::conflict(format!("lease currently held by {}, expires at {}", lease.owner, rfc3339(lease.expires_at)))
}
