//! IP assignments. Public addresses come from the documentation ranges
//! (203.0.113.0/24, 198.51.100.0/24, 2001:db8::/32), so nothing routes to
//! them; Flycast (`private_v6`) addresses keep Fly's `fdaa:` prefix because
//! clients (fly-go's `IsFlycast`) recognise them by it.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult, JsonBody};
use super::{app, app_mut, views};
use crate::emulator::Emulator;
use crate::state::IpAssignment;

pub async fn list(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let ips: Vec<Value> = app(state, &app_name)?.ips.iter().map(views::ip).collect();
        Ok(Json(json!({"ips": ips})))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AssignIp {
    #[serde(rename = "type")]
    kind: String,
    region: Option<String>,
    org_slug: Option<String>,
    service_name: Option<String>,
}

pub async fn assign(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>, JsonBody(body): JsonBody<AssignIp>) -> ApiResult<Json<Value>> {
    emulator.write(|state| {
        let org = app(state, &app_name)?.org_slug.clone();
        let n = state.next_address();
        let octet = n % 254 + 1;
        let (ip, shared, network_org) = match body.kind.as_str() {
            "v4" => (format!("203.0.113.{octet}"), false, None),
            "shared_v4" => (format!("198.51.100.{octet}"), true, None),
            "v6" => (format!("2001:db8:f1::{n:x}"), false, None),
            "private_v6" => (format!("fdaa:0:1:a7b:ffff::{n:x}"), false, Some(body.org_slug.clone().unwrap_or(org))),
            other => {
                return Err(ApiError::bad_request(format!("invalid type {other:?}: expected v4, v6, shared_v4 or private_v6")));
            }
        };
        let assignment = IpAssignment {
            ip,
            region: body.region.clone().unwrap_or_else(|| "global".to_string()),
            service_name: body.service_name.clone().unwrap_or_default(),
            shared,
            network_org,
            created_at: SystemTime::now(),
        };
        let rendered = views::ip(&assignment);
        app_mut(state, &app_name)?.ips.push(assignment);
        Ok(Json(rendered))
    })
}

pub async fn delete(State(emulator): State<Arc<Emulator>>, Path((app_name, ip)): Path<(String, String)>) -> ApiResult<StatusCode> {
    emulator.write(|state| {
        let app = app_mut(state, &app_name)?;
        let index = app.ips.iter().position(|assignment| assignment.ip == ip).ok_or_else(|| ApiError::not_found(format!("ip {ip} not found")))?;
        app.ips.remove(index);
        Ok(StatusCode::NO_CONTENT)
    })
}
