//! App secrets. Values go into machine environments at their next start and
//! are never returned: responses carry names and digests only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult, JsonBody};
use super::{app, app_mut};
use crate::emulator::Emulator;
use crate::ids::rfc3339;
use crate::state::{App, Secret};

pub async fn list(
    State(emulator): State<Arc<Emulator>>,
    Path(app_name): Path<String>,
) -> ApiResult<Json<Value>> {
    emulator.read(|state| Ok(Json(json!({"secrets": listing(app(state, &app_name)?)}))))
}

pub async fn get(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let secret = app(state, &app_name)?
            .secrets
            .get(&name)
            .ok_or_else(|| secret_not_found(&name))?;
        Ok(Json(entry(&name, secret)))
    })
}

#[derive(Debug, Deserialize)]
pub struct UpdateMany {
    values: BTreeMap<String, Option<String>>,
}

/// Sets each name with a value and unsets each name given `null`, as one version.
pub async fn update_many(
    State(emulator): State<Arc<Emulator>>,
    Path(app_name): Path<String>,
    JsonBody(body): JsonBody<UpdateMany>,
) -> ApiResult<Json<Value>> {
    if let Some(bad) = body.values.keys().find(|name| !valid_name(name)) {
        return Err(invalid_name(bad));
    }
    emulator.write(|state| {
        let app = app_mut(state, &app_name)?;
        for (name, value) in body.values {
            match value {
                Some(value) => store(app, name, value),
                None => {
                    app.secrets.remove(&name);
                }
            }
        }
        app.secrets_version += 1;
        Ok(Json(
            json!({"secrets": listing(app), "version": app.secrets_version}),
        ))
    })
}

#[derive(Debug, Deserialize)]
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
        let app = app_mut(state, &app_name)?;
        store(app, name.clone(), body.value);
        app.secrets_version += 1;
        let mut rendered = entry(&name, &app.secrets[&name]);
        rendered["version"] = json!(app.secrets_version);
        Ok(Json(rendered))
    })
}

pub async fn delete(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    emulator.write(|state| {
        let app = app_mut(state, &app_name)?;
        app.secrets
            .remove(&name)
            .ok_or_else(|| secret_not_found(&name))?;
        app.secrets_version += 1;
        Ok(Json(json!({"version": app.secrets_version})))
    })
}

fn store(app: &mut App, name: String, value: String) {
    let now = SystemTime::now();
    let digest = hex::encode(&Sha256::digest(&value)[..8]);
    let created_at = app.secrets.get(&name).map_or(now, |old| old.created_at);
    app.secrets.insert(
        name,
        Secret {
            value,
            digest,
            created_at,
            updated_at: now,
        },
    );
}

fn listing(app: &App) -> Vec<Value> {
    app.secrets
        .iter()
        .map(|(name, secret)| entry(name, secret))
        .collect()
}

fn entry(name: &str, secret: &Secret) -> Value {
    json!({
        "name": name,
        "digest": secret.digest,
        "created_at": rfc3339(secret.created_at),
        "updated_at": rfc3339(secret.updated_at),
    })
}

/// Secrets become environment variables, so names must be valid ones.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn invalid_name(name: &str) -> ApiError {
    ApiError::bad_request(format!(
        "invalid secret name {name:?}: use letters, digits and underscores"
    ))
}

fn secret_not_found(name: &str) -> ApiError {
    ApiError::not_found(format!("secret {name} not found"))
}
