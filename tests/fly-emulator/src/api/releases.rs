//! Release records (flyctl's uiex API on api.fly.io): what the dashboard and
//! `fly releases` show. The current release is the newest `complete` one.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::error::{ApiError, ApiResult, JsonBody};
use super::{app, app_mut, views};
use crate::emulator::Emulator;
use crate::ids;
use crate::state::Release;

const STATUSES: [&str; 4] = ["running", "complete", "failed", "interrupted"];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateRelease {
    app_name: String,
    strategy: String,
    definition: Value,
    image: String,
}

pub async fn create(
    State(emulator): State<Arc<Emulator>>,
    JsonBody(body): JsonBody<CreateRelease>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    emulator.write(|state| {
        let app = app_mut(state, &body.app_name)?;
        let now = SystemTime::now();
        let release = Release {
            id: ids::ulid(),
            version: app.releases.iter().map(|r| r.version).max().unwrap_or(0) + 1,
            app_name: body.app_name.clone(),
            status: "pending".to_string(),
            strategy: body.strategy,
            image: body.image,
            definition: body.definition,
            metadata: Value::Null,
            created_at: now,
            updated_at: now,
        };
        let rendered = views::release(&release);
        app.releases.push(release);
        Ok((StatusCode::CREATED, Json(rendered)))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UpdateRelease {
    status: String,
    metadata: Value,
}

pub async fn update(
    State(emulator): State<Arc<Emulator>>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateRelease>,
) -> ApiResult<Json<Value>> {
    if !STATUSES.contains(&body.status.as_str()) {
        return Err(ApiError::bad_request(format!(
            "invalid status {:?}: expected one of {}",
            body.status,
            STATUSES.join(", ")
        )));
    }
    emulator.write(|state| {
        let release = state
            .apps
            .values_mut()
            .flat_map(|app| app.releases.iter_mut())
            .find(|release| release.id == id)
            .ok_or_else(|| ApiError::not_found(format!("release {id} not found")))?;
        release.status = body.status;
        if !body.metadata.is_null() {
            release.metadata = body.metadata;
        }
        release.updated_at = SystemTime::now();
        Ok(Json(views::release(release)))
    })
}

pub async fn current(
    State(emulator): State<Arc<Emulator>>,
    Path(app_name): Path<String>,
) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let release = app(state, &app_name)?
            .releases
            .iter()
            .rev()
            .find(|release| release.status == "complete")
            .ok_or_else(|| {
                ApiError::not_found(format!("app {app_name} has no complete release"))
            })?;
        Ok(Json(views::release(release)))
    })
}
