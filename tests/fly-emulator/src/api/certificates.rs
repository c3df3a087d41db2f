//! Custom-domain certificates (fly-go `flaps_certificates.go`): list, add
//! with ACME, get, check, delete. Issuance is the control API's job.

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
use crate::state::{App, Certificate};

pub async fn list(
    State(emulator): State<Arc<Emulator>>,
    Path(app_name): Path<String>,
) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let app = app(state, &app_name)?;
        let certificates: Vec<Value> = app
            .certificates
            .iter()
            .map(|c| views::certificate(app, c, false))
            .collect();
        Ok(Json(json!({"certificates": certificates})))
    })
}

#[derive(Debug, Deserialize)]
pub struct AddCertificate {
    hostname: String,
}

/// Adding a hostname the app already has answers its certificate again
/// (200) instead of starting a second issuance; a new one answers 201.
pub async fn add_acme(
    State(emulator): State<Arc<Emulator>>,
    Path(app_name): Path<String>,
    JsonBody(body): JsonBody<AddCertificate>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let hostname = body.hostname.to_ascii_lowercase();
    if !valid_hostname(&hostname) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{:?} is not a valid hostname", body.hostname),
        ));
    }
    emulator.write(|state| {
        let app = app_mut(state, &app_name)?;
        let status = if app.certificates.iter().any(|c| c.hostname == hostname) {
            StatusCode::OK
        } else {
            app.certificates.push(Certificate {
                hostname: hostname.clone(),
                issued: false,
                created_at: SystemTime::now(),
            });
            StatusCode::CREATED
        };
        let certificate = certificate(app, &hostname)?;
        Ok((status, Json(views::certificate(app, certificate, true))))
    })
}

pub async fn get(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, hostname)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let app = app(state, &app_name)?;
        Ok(Json(views::certificate(app, certificate(app, &hostname)?, true)))
    })
}

/// Fly re-checks DNS here; the emulator has nothing to re-check, so it
/// answers the current state.
pub async fn check(
    state: State<Arc<Emulator>>,
    path: Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    get(state, path).await
}

pub async fn delete(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, hostname)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    emulator.write(|state| {
        let app = app_mut(state, &app_name)?;
        let before = app.certificates.len();
        app.certificates.retain(|c| !c.hostname.eq_ignore_ascii_case(&hostname));
        if app.certificates.len() == before {
            return Err(not_found(&hostname));
        }
        Ok(StatusCode::NO_CONTENT)
    })
}

fn certificate<'a>(app: &'a App, hostname: &str) -> ApiResult<&'a Certificate> {
    app.certificates
        .iter()
        .find(|c| c.hostname.eq_ignore_ascii_case(hostname))
        .ok_or_else(|| not_found(hostname))
}

fn not_found(hostname: &str) -> ApiError {
    ApiError::not_found(format!("certificate for {hostname} not found"))
}

/// Marks the certificate issued (as if its DNS had been verified).
pub fn issue(app: &mut App, hostname: &str) -> ApiResult<Value> {
    let found = app
        .certificates
        .iter_mut()
        .find(|c| c.hostname.eq_ignore_ascii_case(hostname))
        .ok_or_else(|| not_found(hostname))?;
    found.issued = true;
    let issued = found.clone();
    Ok(views::certificate(app, &issued, true))
}

/// At least two dot-separated labels of letters, digits and inner dashes,
/// with an optional leading `*.` for a wildcard.
fn valid_hostname(hostname: &str) -> bool {
    let name = hostname.strip_prefix("*.").unwrap_or(hostname);
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}
