//! The legacy log polling API flyctl falls back to
//! (`GET /api/v1/apps/{app}/logs`): machine process output, oldest first,
//! paged by `next_token`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::app;
use super::error::{ApiError, ApiResult, Query};
use crate::emulator::Emulator;
use crate::ids::rfc3339_millis;

const PAGE_SIZE: usize = 500;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogsQuery {
    instance: Option<String>,
    region: Option<String>,
    next_token: Option<String>,
}

pub async fn poll(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>, Query(query): Query<LogsQuery>) -> ApiResult<Json<Value>> {
    emulator.read(|state| app(state, &app_name).map(|_| ()))?;
    let after = match query.next_token.as_deref().filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => token.parse().map_err(|_| ApiError::bad_request("invalid next_token"))?,
    };
    let instance = query.instance.as_deref().filter(|i| !i.is_empty());
    let lines = emulator.logs.query(&app_name, instance, after, PAGE_SIZE);
    let next_token = lines.last().map_or(after, |line| line.seq);
    let data: Vec<Value> = lines
        .iter()
        .filter(|line| query.region.as_ref().is_none_or(|region| region.is_empty() || &line.region == region))
        .map(|line| {
            json!({
                "id": line.seq.to_string(),
                "type": "logs",
                "attributes": {
                    "timestamp": rfc3339_millis(line.timestamp),
                    "message": line.message,
                    "level": line.level,
                    "instance": line.instance,
                    "region": line.region,
                    "meta": {},
                },
            })
        })
        .collect();
    Ok(Json(json!({"data": data, "meta": {"next_token": next_token.to_string()}})))
}
