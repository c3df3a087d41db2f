//! Per-key machine metadata. It lives in `config.metadata` (so it shows in
//! the machine's config) but changing it makes no new version.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::actions::mutate;
use super::error::{ApiError, ApiResult, JsonBody};
use super::{app, machine};
use crate::config::MachineConfig;
use crate::emulator::Emulator;
use crate::state::Machine;

pub async fn get(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let machine = machine(app(state, &app_name)?, &id)?;
        Ok(Json(machine.config.get("metadata").filter(|m| m.is_object()).cloned().unwrap_or_else(|| json!({}))))
    })
}

#[derive(Debug, Deserialize)]
pub struct SetMetadata {
    value: String,
}

pub async fn set(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id, key)): Path<(String, String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<SetMetadata>,
) -> ApiResult<StatusCode> {
    mutate(&emulator, &app_name, &id, &headers, |machine| {
        edit_metadata(machine, |metadata| {
            metadata.insert(key, Value::String(body.value));
        })
    })?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id, key)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    mutate(&emulator, &app_name, &id, &headers, |machine| {
        edit_metadata(machine, |metadata| {
            metadata.remove(&key);
        })
    })?;
    Ok(StatusCode::NO_CONTENT)
}

fn edit_metadata(machine: &mut Machine, edit: impl FnOnce(&mut Map<String, Value>)) -> ApiResult<()> {
    let config = machine.config.as_object_mut().ok_or_else(|| ApiError::bad_request("machine has no config"))?;
    let metadata = config.entry("metadata").or_insert_with(|| json!({}));
    if !metadata.is_object() {
        *metadata = json!({});
    }
    if let Some(metadata) = metadata.as_object_mut() {
        edit(metadata);
    }
    machine.spec = MachineConfig::parse(&machine.config).map_err(ApiError::bad_request)?;
    machine.updated_at = std::time::SystemTime::now();
    Ok(())
}
