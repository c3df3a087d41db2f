//! `/v1/apps`: create, list, get, delete.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::error::{ApiError, ApiResult, JsonBody, Query};
use super::{app, views};
use crate::data_dir;
use crate::emulator::Emulator;
use crate::lifecycle::Op;
use crate::state::App;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    org_slug: Option<String>,
    app_role: Option<String>,
}

pub async fn list(State(emulator): State<Arc<Emulator>>, Query(query): Query<ListQuery>) -> Json<Value> {
    let apps: Vec<Value> = emulator.read(|state| {
        state
            .apps
            .values()
            .filter(|app| app.is_visible())
            .filter(|app| query.org_slug.as_ref().is_none_or(|org| &app.org_slug == org))
            .filter(|app| query.app_role.as_ref().is_none_or(|role| &app.app_role == role))
            .map(views::app)
            .collect()
    });
    Json(json!({"total_apps": apps.len(), "apps": apps}))
}

/// fly-go's `CreateAppRequest` (`flaps/flaps_apps.go:13-18`) sends all four
/// keys, empty strings included; the OpenAPI spec spells the name
/// `app_name`. Unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreateApp {
    app_name: Option<String>,
    name: Option<String>,
    org_slug: Option<String>,
    network: Option<String>,
    app_role_id: Option<String>,
}

/// `?wait=true` is what fly-go sends (`flaps_apps.go:22`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreateQuery {
    wait: Option<bool>,
}

/// The name-taken answer: 422 with `status: name_taken` (fly-go
/// `TestIsNameTakenError`, `flaps/flaps_error_test.go:20-89`; the docs list
/// 422 as "an app name that is already taken",
/// `working-with-machines-api.html.markerb:76`).
fn name_taken() -> ApiError {
    ApiError::with_status_code(StatusCode::UNPROCESSABLE_ENTITY, "Validation failed: Name has already been taken", "name_taken")
}

pub async fn create(
    State(emulator): State<Arc<Emulator>>,
    Query(_query): Query<CreateQuery>,
    JsonBody(body): JsonBody<CreateApp>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = body.app_name.filter(|name| !name.is_empty()).or(body.name).unwrap_or_default();
    if !valid_app_name(&name) {
        return Err(ApiError::bad_request(format!("invalid app name {name:?}: use lowercase letters, digits and dashes")));
    }
    let org = body.org_slug.filter(|org| !org.is_empty()).unwrap_or_else(|| "personal".to_string());
    emulator.write(|state| {
        if state.apps.contains_key(&name) || state.foreign_apps.contains_key(&name) {
            return Err(name_taken());
        }
        let visible_after = Duration::from_millis(state.settings.app_404_window_ms);
        let mut app = App::new(name.clone(), org, body.network.unwrap_or_default(), visible_after);
        app.app_role = body.app_role_id.unwrap_or_default();
        let rendered = views::app(&app);
        state.apps.insert(name, app);
        Ok((StatusCode::CREATED, Json(rendered)))
    })
}

fn valid_app_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 63 && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !name.starts_with('-')
}

pub async fn get(State(emulator): State<Arc<Emulator>>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    emulator.read(|state| app(state, &name).map(|app| Json(views::app(app))))
}

/// Deletes the app with all it owns: its machine processes are killed,
/// then its volumes' directories removed (a machine may still be writing).
pub async fn delete(State(emulator): State<Arc<Emulator>>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    let removed = emulator.write(|state| {
        app(state, &name)?;
        state.apps.remove(&name).ok_or_else(|| ApiError::not_found(format!("app {name} not found")))
    })?;
    let killed: Vec<oneshot::Receiver<()>> = removed
        .machines
        .iter()
        .filter_map(|machine| {
            let (ack, done) = oneshot::channel();
            machine.ops.send(Op::Shutdown(ack)).ok().map(|()| done)
        })
        .collect();
    emulator.logs.forget_app(&name);
    let volume_dirs: Vec<PathBuf> = removed.volumes.iter().map(|volume| emulator.data.volume(&volume.id)).collect();
    tokio::spawn(async move {
        for done in killed {
            // An actor that already ended (destroyed machine) drops its ack.
            let _ = done.await;
        }
        for dir in volume_dirs {
            if let Err(e) = data_dir::remove(&dir) {
                eprintln!("fly-emulator: cannot remove the directory of a deleted app's volume, {}: {e}", dir.display());
            }
        }
    });
    Ok(StatusCode::ACCEPTED)
}
