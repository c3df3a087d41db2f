//! Release records (flyctl's uiex API on api.fly.io,
//! `internal/uiex/releases.go`): what the dashboard and `fly releases`
//! show. flyctl creates one before touching machines, PATCHes it `running`,
//! then `complete`, `failed` or `interrupted`
//! (`internal/command/deploy/machines_deploymachinesapp.go:71-119`).
//!
//! Versions come from the app's counter: every create takes the next
//! number, so a failed deploy's number is never reused. The current
//! release is the newest `complete` one.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::Caller;
use super::error::{ApiError, ApiResult, JsonBody, Query};
use super::{app, app_mut, views};
use crate::emulator::Emulator;
use crate::ids;
use crate::state::Release;

/// The statuses a PATCH may set (`machines_deploymachinesapp.go:71-119`).
const STATUSES: [&str; 4] = ["running", "complete", "failed", "interrupted"];

/// uiex's `DeploymentStrategy` values (`releases.go:41-56`).
const STRATEGIES: [&str; 6] = ["BLUEGREEN", "CANARY", "IMMEDIATE", "ROLLING", "ROLLING_ONE", "SIMPLE"];

/// flyctl's `CreateReleaseRequest` (`releases.go:70-76`); unknown keys are
/// refused, like everywhere in the emulator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRelease {
    app_name: String,
    #[serde(default)]
    build_id: i64,
    #[serde(default)]
    definition: Value,
    image: String,
    strategy: String,
}

/// `POST /api/v1/releases` → 201 `{"release": {…}}`: flyctl decodes the
/// wrapped form and accepts 200 or 201 (`releases.go:197-239`).
pub async fn create(
    State(emulator): State<Arc<Emulator>>,
    Extension(caller): Extension<Caller>,
    JsonBody(body): JsonBody<CreateRelease>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !STRATEGIES.contains(&body.strategy.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid strategy {:?}: expected one of {} (flyctl upper-cases it)", body.strategy, STRATEGIES.join(", ")),
        ));
    }
    emulator.write(|state| {
        let app = app_mut(state, &body.app_name)?;
        app.release_counter += 1;
        let now = SystemTime::now();
        let release = Release {
            id: ids::ulid(),
            version: app.release_counter,
            app_name: body.app_name.clone(),
            status: "pending".to_string(),
            strategy: body.strategy,
            image: body.image,
            build_id: body.build_id,
            definition: body.definition,
            metadata: Value::Null,
            user: caller.owner.clone(),
            created_at: now,
            updated_at: now,
        };
        let rendered = json!({"release": views::release(&release)});
        app.releases.push(release);
        Ok((StatusCode::CREATED, Json(rendered)))
    })
}

/// flyctl sends a map, so both keys are always there; `metadata` is `null`
/// with `running` (`releases.go:241-284`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateRelease {
    status: String,
    #[serde(default)]
    metadata: Value,
}

/// `PATCH /api/v1/releases/{id}` → 200 with the bare release (flyctl treats
/// only 200 as success). A finished release answers 422 "the release has
/// already finished" (test-stated: flyctl `TestIsRetryableReleaseStatusError`,
/// `deploy/machines_releasestatus_test.go:14-86`).
pub async fn update(State(emulator): State<Arc<Emulator>>, Path(id): Path<String>, JsonBody(body): JsonBody<UpdateRelease>) -> ApiResult<Json<Value>> {
    if !STATUSES.contains(&body.status.as_str()) {
        return Err(ApiError::bad_request(format!("invalid status {:?}: expected one of {}", body.status, STATUSES.join(", "))));
    }
    emulator.write(|state| {
        let release = state
            .apps
            .values_mut()
            .flat_map(|app| app.releases.iter_mut())
            .find(|release| release.id == id)
            .ok_or_else(|| ApiError::not_found(format!("release {id} not found")))?;
        if release.is_finished() {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "the release has already finished"));
        }
        release.status = body.status;
        if !body.metadata.is_null() {
            release.metadata = body.metadata;
        }
        release.updated_at = SystemTime::now();
        Ok(Json(views::release(release)))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<usize>,
}

/// `GET /api/v1/apps/{app}/releases?limit=` → `{"releases": […]}`, newest
/// first (flyctl `ListReleases`, `releases.go:112-156`; the order is
/// assumed).
pub async fn list(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>, Query(query): Query<ListQuery>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let releases: Vec<Value> =
            app(state, &app_name)?.releases.iter().rev().take(query.limit.filter(|limit| *limit > 0).unwrap_or(usize::MAX)).map(views::release).collect();
        Ok(Json(json!({"releases": releases})))
    })
}

/// `GET /api/v1/apps/{app}/releases/current` → the bare release; 404 when
/// none is complete (flyctl `GetCurrentRelease` reads 404 as "none").
pub async fn current(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let release = app(state, &app_name)?
            .releases
            .iter()
            .rev()
            .find(|release| release.status == "complete")
            .ok_or_else(|| ApiError::not_found(format!("app {app_name} has no complete release")))?;
        Ok(Json(views::release(release)))
    })
}
