//! App secrets (fly-go `flaps/flaps_secrets.go`, `secrets_types.go`).
//! Values go into machine environments at their next start and are only
//! returned with `show_secrets=true`. Every change makes a new version; a
//! read that names `version=` sees at least that version, one that does not
//! may see an older one for `secrets_propagation_ms` after a change
//! (flyctl passes the version it last set on every list,
//! `internal/appsecrets/secrets.go:14-23`, which only matters if a read
//! without it can be stale; how stale is unverified).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult, JsonBody, Query};
use super::{app, app_mut};
use crate::emulator::Emulator;
use crate::ids::rfc3339;
use crate::state::{App, Secret};

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadQuery {
    version: Option<u64>,
    show_secrets: Option<bool>,
}

pub async fn list(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>, Query(query): Query<ReadQuery>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let app = app(state, &app_name)?;
        let secrets = readable(app, query.version)?;
        Ok(Json(json!({"secrets": listing(secrets, query.show_secrets == Some(true))})))
    })
}

pub async fn get(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, name)): Path<(String, String)>,
    Query(query): Query<ReadQuery>,
) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let app = app(state, &app_name)?;
        let secret = readable(app, query.version)?.get(&name).ok_or_else(|| secret_not_found(&name))?;
        Ok(Json(entry(&name, secret, query.show_secrets == Some(true))))
    })
}

/// The secrets a read sees: at least `version` when given (refused when
/// the app has no such version yet, like a too-new `min_secrets_version`),
/// else the propagated ones.
fn readable(app: &App, version: Option<u64>) -> ApiResult<&BTreeMap<String, Secret>> {
    if let Some(wanted) = version.filter(|wanted| *wanted > app.secrets_version) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("secrets version {wanted} does not exist yet (the app is at version {})", app.secrets_version),
        ));
    }
    Ok(&app.secrets_for(version).secrets)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMany {
    values: BTreeMap<String, Option<String>>,
}

/// Sets each name with a value and unsets each name given `null`, as one version.
pub async fn update_many(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>, JsonBody(body): JsonBody<UpdateMany>) -> ApiResult<Json<Value>> {
    if let Some(bad) = body.values.keys().find(|name| !valid_name(name)) {
        return Err(invalid_name(bad));
    }
    emulator.write(|state| {
        let propagation = Duration::from_millis(state.settings.secrets_propagation_ms);
        let app = app_mut(state, &app_name)?;
        for (name, value) in body.values {
            match value {
                Some(value) => store(app, name, value),
                None => {
                    app.secrets.remove(&name);
                }
            }
        }
        let version = app.bump_secrets_version(propagation);
        Ok(Json(json!({"secrets": listing(&app.secrets, false), "version": version})))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetOne {
    value: String,
}

pub async fn set(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<SetOne>,
) -> ApiResult<Json<Value>> {
    if !valid_name(&name) {
        return Err(invalid_name(&name));
    }
    emulator.write(|state| {
        let propagation = Duration::from_millis(state.settings.secrets_propagation_ms);
        let app = app_mut(state, &app_name)?;
        store(app, name.clone(), body.value);
        let version = app.bump_secrets_version(propagation);
        let mut rendered = entry(&name, &app.secrets[&name], false);
        rendered["version"] = json!(version);
        Ok(Json(rendered))
    })
}

pub async fn delete(State(emulator): State<Arc<Emulator>>, Path((app_name, name)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.write(|state| {
        let propagation = Duration::from_millis(state.settings.secrets_propagation_ms);
        let app = app_mut(state, &app_name)?;
        app.secrets.remove(&name).ok_or_else(|| secret_not_found(&name))?;
        let version = app.bump_secrets_version(propagation);
        Ok(Json(json!({"version": version})))
    })
}

fn store(app: &mut App, name: String, value: String) {
    let now = SystemTime::now();
    let digest = hex::encode(&Sha256::digest(&value)[..8]);
    let created_at = app.secrets.get(&name).map_or(now, |old| old.created_at);
    app.secrets.insert(name, Secret { value, digest, created_at, updated_at: now });
}

fn listing(secrets: &BTreeMap<String, Secret>, show_values: bool) -> Vec<Value> {
    secrets.iter().map(|(name, secret)| entry(name, secret, show_values)).collect()
}

/// fly-go's `AppSecret`: `value` only when asked for (`show_secrets=true`).
fn entry(name: &str, secret: &Secret, show_value: bool) -> Value {
    let mut rendered = json!({
        "name": name,
        "digest": secret.digest,
        "created_at": rfc3339(secret.created_at),
        "updated_at": rfc3339(secret.updated_at),
    });
    if show_value {
        rendered["value"] = json!(secret.value);
    }
    rendered
}

/// Secrets become environment variables, so names must be valid ones.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn invalid_name(name: &str) -> ApiError {
    ApiError::bad_request(format!("invalid secret name {name:?}: use letters, digits and underscores"))
}

fn secret_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("secret {name} not found"))
}
