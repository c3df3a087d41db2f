//! `/v1/apps`: create, list, get, delete.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult, JsonBody, Query};
use super::{app, views};
use crate::emulator::Emulator;
use crate::lifecycle::Op;
use crate::state::App;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    org_slug: Option<String>,
}

pub async fn list(
    State(emulator): State<Arc<Emulator>>,
    Query(query): Query<ListQuery>,
) -> Json<Value> {
    let apps: Vec<Value> = emulator.read(|state| {
        state
            .apps
            .values()
            .filter(|app| {
                query
                    .org_slug
                    .as_ref()
                    .is_none_or(|org| &app.org_slug == org)
            })
            .map(views::app)
            .collect()
    });
    Json(json!({"total_apps": apps.len(), "apps": apps}))
}

/// OpenAPI spells the name `app_name`; fly-go sends `name`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateApp {
    app_name: Option<String>,
    name: Option<String>,
    org_slug: Option<String>,
    network: Option<String>,
}

pub async fn create(
    State(emulator): State<Arc<Emulator>>,
    JsonBody(body): JsonBody<CreateApp>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = body.app_name.or(body.name).unwrap_or_default();
    if !valid_app_name(&name) {
        return Err(ApiError::bad_request(format!(
            "invalid app name {name:?}: use lowercase letters, digits and dashes"
        )));
    }
    let org = body.org_slug.unwrap_or_else(|| "personal".to_string());
    emulator.write(|state| {
        if state.apps.contains_key(&name) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Name has already been taken",
            ));
        }
        let app = App::new(name.clone(), org, body.network.unwrap_or_default());
        let rendered = views::app(&app);
        state.apps.insert(name, app);
        Ok((StatusCode::CREATED, Json(rendered)))
    })
}

fn valid_app_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

pub async fn get(
    State(emulator): State<Arc<Emulator>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    emulator.read(|state| app(state, &name).map(|app| Json(views::app(app))))
}

/// Deletes the app with all it owns; its machine processes are killed.
pub async fn delete(
    State(emulator): State<Arc<Emulator>>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let removed = emulator.write(|state| state.apps.remove(&name));
    let app = removed.ok_or_else(|| ApiError::not_found(format!("app {name} not found")))?;
    for machine in &app.machines {
        let _ = machine.ops.send(Op::Destroy);
    }
    emulator.logs.forget_app(&name);
    Ok(StatusCode::ACCEPTED)
}
