//! The emulator-only control API under `/_emulator` (no auth): register
//! images, inject faults, read the request log, tune quirks, reach machines
//! directly or through the app proxy, issue certificates, find volumes'
//! directories or put a blob on them, take the platform's daily snapshots,
//! hold app names in another organization, read release records, and shut
//! down.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::error::{ApiError, ApiResult, JsonBody, Query};
use crate::emulator::Emulator;
use crate::faults::FaultRule;
use crate::image::ImageBehaviour;
use crate::proxy;
use crate::registry::RegistryLink;

pub fn router(emulator: Arc<Emulator>) -> Router {
    Router::new()
        .route("/_emulator/images", post(register_image))
        .route("/_emulator/registry", post(link_registry))
        .route("/_emulator/faults", get(list_faults).post(add_faults).delete(clear_faults))
        .route("/_emulator/requests", get(list_requests).delete(clear_requests))
        .route("/_emulator/settings", get(get_settings).post(change_settings))
        .route("/_emulator/apps/{app}/machines/{id}/endpoints", get(endpoints))
        .route("/_emulator/apps/{app}/machines/{id}/process", get(process))
        .route("/_emulator/foreign_apps", post(add_foreign_app))
        .route("/_emulator/apps/{app}/releases", get(release_records))
        .route("/_emulator/volumes/{id}/snapshots", post(daily_snapshot))
        .route("/_emulator/apps/{app}/proxy", get(app_proxy))
        .route("/_emulator/apps/{app}/certificates/{hostname}/issue", post(issue_certificate))
        .route("/_emulator/volumes/{id}", get(volume_dir))
        .route("/_emulator/volumes/{id}/content", get(volume_content).put(set_volume_content))
        .route("/_emulator/shutdown", post(shutdown))
        .with_state(emulator)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterImage {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default)]
    behaviour: ImageBehaviour,
}

/// Registers (or replaces) an image; machines started later use it.
async fn register_image(State(emulator): State<Arc<Emulator>>, JsonBody(body): JsonBody<RegisterImage>) -> ApiResult<Json<Value>> {
    if body.reference.is_empty() {
        return Err(ApiError::bad_request("ref is required"));
    }
    let rendered = json!({"ref": body.reference, "behaviour": body.behaviour});
    emulator.write(|state| state.images.insert(body.reference, body.behaviour));
    Ok(Json(rendered))
}

/// Links the registry standing in for registry.fly.io: machines pull the
/// images it holds (`registry.rs`).
async fn link_registry(State(emulator): State<Arc<Emulator>>, JsonBody(link): JsonBody<RegistryLink>) -> ApiResult<Json<Value>> {
    let rendered = json!({"host": link.host});
    emulator.write(|state| state.registry = Some(link));
    Ok(Json(rendered))
}

async fn list_faults(State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    Json(json!({"rules": emulator.faults.list()}))
}

/// Accepts one rule or an array of rules.
async fn add_faults(State(emulator): State<Arc<Emulator>>, JsonBody(body): JsonBody<Value>) -> ApiResult<Json<Value>> {
    let rules = match body {
        Value::Array(_) => serde_json::from_value::<Vec<FaultRule>>(body),
        single => serde_json::from_value::<FaultRule>(single).map(|rule| vec![rule]),
    }
    .map_err(|e| ApiError::bad_request(format!("invalid fault rule: {e}")))?;
    emulator.faults.add(rules).map_err(ApiError::bad_request)?;
    Ok(list_faults(State(emulator)).await)
}

async fn clear_faults(State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    emulator.faults.clear();
    Json(json!({"rules": []}))
}

async fn list_requests(State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    Json(json!(emulator.requests.all()))
}

async fn clear_requests(State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    emulator.requests.clear();
    Json(json!([]))
}

async fn get_settings(State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    Json(json!(emulator.read(|state| state.settings.clone())))
}

/// Merges the posted settings into the current ones (see `settings.rs`);
/// rate-limit buckets start afresh.
async fn change_settings(State(emulator): State<Arc<Emulator>>, JsonBody(patch): JsonBody<Value>) -> ApiResult<Json<Value>> {
    let settings = emulator.read(|state| state.settings.patched(&patch)).map_err(ApiError::bad_request)?;
    emulator.write(|state| state.settings = settings.clone());
    emulator.rate_limiter.reset();
    Ok(Json(json!(settings)))
}

/// `{"<internal port>": "127.0.0.1:<local port>"}` of the running process;
/// empty when the machine does not run.
async fn endpoints(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let app = state.app(&app_name).ok_or_else(|| ApiError::not_found(format!("app {app_name} not found")))?;
        let machine = app.machine(&id).ok_or_else(|| ApiError::not_found(format!("machine {id} not found")))?;
        let ports = machine.process.as_ref().map(|process| &process.ports).into_iter().flatten();
        let endpoints: serde_json::Map<String, Value> = ports.map(|(internal, local)| (internal.to_string(), json!(format!("127.0.0.1:{local}")))).collect();
        Ok(Json(Value::Object(endpoints)))
    })
}

/// What the machine's current process was started with: its pid, the
/// instance and the secrets version it got (null when not running).
async fn process(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let machine = state
            .app(&app_name)
            .ok_or_else(|| ApiError::not_found(format!("app {app_name} not found")))?
            .machine(&id)
            .ok_or_else(|| ApiError::not_found(format!("machine {id} not found")))?;
        Ok(Json(json!({
            "pid": machine.process.as_ref().map(|p| p.pid),
            "state": machine.state.as_str(),
            "instance_id": machine.instance_id,
            "secrets_version": machine.process.as_ref().and(machine.booted_secrets_version),
        })))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForeignApp {
    name: String,
    #[serde(default = "other_org")]
    org_slug: String,
}

fn other_org() -> String {
    "someone-else".to_string()
}

/// Holds an app name in an organization the API's callers cannot see:
/// reads answer 403, creates 422 `name_taken`.
async fn add_foreign_app(State(emulator): State<Arc<Emulator>>, JsonBody(body): JsonBody<ForeignApp>) -> ApiResult<Json<Value>> {
    emulator.write(|state| {
        if state.apps.contains_key(&body.name) {
            return Err(ApiError::new(axum::http::StatusCode::CONFLICT, format!("app {} already exists in the caller's organization", body.name)));
        }
        state.foreign_apps.insert(body.name.clone(), body.org_slug.clone());
        Ok(Json(json!({"name": body.name, "org_slug": body.org_slug})))
    })
}

/// Every release of the app, oldest first, with what the API keeps of it
/// (definition, metadata, build id) beyond what it shows.
async fn release_records(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let app = state.app(&app_name).ok_or_else(|| ApiError::not_found(format!("app {app_name} not found")))?;
        Ok(Json(Value::Array(app.releases.iter().map(crate::api::views::release_record).collect())))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DailySnapshot {
    /// How long ago it was taken (default a day).
    hours_ago: Option<u64>,
}

/// Takes the volume's automatic daily snapshot, already `created` and
/// dated `hours_ago` (Fly takes one a day, `docs:volumes/snapshots.html.markerb:8`):
/// the snapshot a client must not restore by mistake instead of its own.
async fn daily_snapshot(State(emulator): State<Arc<Emulator>>, Path(id): Path<String>, JsonBody(body): JsonBody<DailySnapshot>) -> ApiResult<Json<Value>> {
    let mut snapshot = emulator.read(|state| {
        let (app_name, volume) = state.apps.values().find_map(|app| app.volume(&id).map(|v| (app.name.clone(), v))).ok_or_else(|| volume_not_found(&id))?;
        Ok::<_, ApiError>(crate::api::volumes::new_snapshot(&app_name, volume, Duration::ZERO, Duration::ZERO))
    })?;
    let age = Duration::from_secs(body.hours_ago.unwrap_or(24) * 3600);
    snapshot.created_at = snapshot.created_at.checked_sub(age).unwrap_or(snapshot.created_at);
    let snapshot = crate::api::volumes::keep_snapshot(&emulator, snapshot).await?;
    Ok(Json(crate::api::views::snapshot(&snapshot)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProxyQuery {
    internal_port: Option<u16>,
}

async fn app_proxy(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>, Query(query): Query<ProxyQuery>) -> ApiResult<Json<Value>> {
    emulator.read(|state| state.app(&app_name).map(|_| ())).ok_or_else(|| ApiError::not_found(format!("app {app_name} not found")))?;
    let address = proxy::address(&emulator, &app_name, query.internal_port)
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, format!("cannot start proxy: {e}")))?;
    Ok(Json(json!({"address": address.to_string()})))
}

/// Issues the certificate, as Fly does once the hostname's DNS checks out.
async fn issue_certificate(State(emulator): State<Arc<Emulator>>, Path((app_name, hostname)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.write(|state| {
        let app = state.app_mut(&app_name).ok_or_else(|| ApiError::not_found(format!("app {app_name} not found")))?;
        crate::api::certificates::issue(app, &hostname).map(Json)
    })
}

/// `{"id", "path"}`: the directory holding the volume's bytes, which exec
/// machines mount (see `data_dir.rs`), for a test to fill or read.
async fn volume_dir(State(emulator): State<Arc<Emulator>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    emulator.read(|state| state.apps.values().find_map(|app| app.volume(&id)).map(|_| ()).ok_or_else(|| volume_not_found(&id)))?;
    Ok(Json(json!({"id": id, "path": emulator.data.volume(&id)})))
}

/// The volume's bytes, raw.
async fn volume_content(State(emulator): State<Arc<Emulator>>, Path(id): Path<String>) -> ApiResult<Vec<u8>> {
    emulator.write(|state| state.any_volume_mut(&id).map(|volume| volume.content.clone()).ok_or_else(|| volume_not_found(&id)))
}

/// Replaces the volume's bytes with the request body.
async fn set_volume_content(State(emulator): State<Arc<Emulator>>, Path(id): Path<String>, body: axum::body::Bytes) -> ApiResult<Json<Value>> {
    emulator.write(|state| {
        let volume = state.any_volume_mut(&id).ok_or_else(|| volume_not_found(&id))?;
        volume.content = body.to_vec();
        Ok(Json(json!({"id": id, "bytes": volume.content.len()})))
    })
}

fn volume_not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("volume {id} not found"))
}

/// Kills every machine process before answering, then exits the emulator.
async fn shutdown(State(emulator): State<Arc<Emulator>>) -> Json<Value> {
    emulator.stop_all_machines().await;
    let exiting = emulator.clone();
    tokio::spawn(async move {
        // Let the response reach the client first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        exiting.request_exit();
    });
    Json(json!({"ok": true}))
}
