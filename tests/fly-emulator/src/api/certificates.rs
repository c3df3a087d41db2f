//! Custom-domain certificates over REST (fly-go `flaps/flaps_certificates.go`,
//! `docs:machines/api/certificates-resource.html.markerb`): list (paginated),
//! add with ACME, import a custom certificate, get, check, delete (all, ACME
//! only, custom only). Statuses are the REST ones: `pending_validation`
//! after an ACME request (`:176`), `pending_ownership` after an import
//! (`:261`), `active` once issued (`:109, 343`); the GraphQL-era "Ready"
//! does not exist here. Issuance needs DNS the emulator cannot see: the
//! control API issues a certificate, or `certificate_issue_ms` does after a
//! while.
//!
//! A hostname in a path must have its `*` URL-encoded ("For wildcard
//! hostnames, URL-encode the `*` character (e.g. `%2A.example.com`)",
//! `:306`; fly-go uses `url.PathEscape`): a raw `*` is refused (assumed).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult, JsonBody, Query};
use super::{app, app_mut, views};
use crate::emulator::Emulator;
use crate::state::{App, Certificate};

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    limit: Option<usize>,
    cursor: Option<String>,
    filter: Option<String>,
}

/// One page, hostnames in order. `next_cursor` (opaque: the hex of the next
/// page's first hostname) is absent on the last page and `total_count`
/// counts every match (fly-go `ListCertificatesResponse`, `types.go:730-734`;
/// the last page is signalled by an empty or absent cursor, flyctl
/// `internal/command/certificates/root.go:281-285`). The default and
/// maximum `limit` are unverified (settings `certificate_page_size`,
/// `certificate_max_page_size`).
pub async fn list(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>, Query(query): Query<ListQuery>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let app = app(state, &app_name)?;
        let settings = &state.settings;
        let limit = match query.limit {
            None | Some(0) => settings.certificate_page_size,
            Some(limit) => limit.min(settings.certificate_max_page_size),
        };
        let after = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(cursor) => Some(
                hex::decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| ApiError::bad_request(format!("invalid cursor {cursor:?}")))?,
            ),
        };
        let mut matching: Vec<&Certificate> =
            app.certificates.iter().filter(|c| query.filter.as_ref().is_none_or(|f| c.hostname.contains(f.as_str()))).collect();
        matching.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        let total = matching.len();
        let start = after.map_or(0, |first| matching.iter().position(|c| c.hostname >= first).unwrap_or(total));
        let page: Vec<Value> = matching[start..].iter().take(limit).map(|c| views::certificate_summary(c)).collect();
        let mut rendered = json!({"certificates": page, "total_count": total});
        if let Some(next) = matching.get(start + limit) {
            rendered["next_cursor"] = json!(hex::encode(&next.hostname));
        }
        Ok(Json(rendered))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddAcme {
    hostname: String,
}

/// `POST …/acme`: adds the hostname and requests Let's Encrypt issuance
/// (201). Adding a hostname the app already has answers its certificate
/// again (200) instead of starting a second issuance (assumed).
pub async fn add_acme(
    State(emulator): State<Arc<Emulator>>,
    Path(app_name): Path<String>,
    JsonBody(body): JsonBody<AddAcme>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    add(&emulator, &app_name, &body.hostname, |certificate| {
        certificate.acme_requested = true;
    })
}

/// fly-go's `ImportCertificateRequest` (`types.go:724-728`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddCustom {
    hostname: String,
    fullchain: String,
    private_key: String,
}

/// `POST …/custom`: imports a PEM certificate; it is `pending_ownership`
/// until the `_fly-ownership` TXT record is verified. The PEM is only
/// checked for its markers: the emulator verifies no signatures.
pub async fn add_custom(
    State(emulator): State<Arc<Emulator>>,
    Path(app_name): Path<String>,
    JsonBody(body): JsonBody<AddCustom>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !body.fullchain.contains("-----BEGIN CERTIFICATE-----") {
        return Err(unprocessable("fullchain must be a PEM-encoded certificate chain"));
    }
    if !body.private_key.contains("PRIVATE KEY-----") {
        return Err(unprocessable("private_key must be a PEM-encoded private key"));
    }
    add(&emulator, &app_name, &body.hostname, |certificate| {
        certificate.custom = true;
    })
}

fn add(emulator: &Emulator, app_name: &str, hostname: &str, request: impl FnOnce(&mut Certificate)) -> ApiResult<(StatusCode, Json<Value>)> {
    let hostname = hostname.to_ascii_lowercase();
    if !valid_hostname(&hostname) {
        return Err(unprocessable(format!("{hostname:?} is not a valid hostname")));
    }
    emulator.write(|state| {
        let issue_after = state.settings.certificate_issue_ms.map(Duration::from_millis);
        let app = app_mut(state, app_name)?;
        let now = SystemTime::now();
        let status = match app.certificates.iter_mut().find(|c| c.hostname == hostname) {
            Some(existing) => {
                request(existing);
                existing.updated_at = now;
                StatusCode::OK
            }
            None => {
                let mut certificate = Certificate {
                    hostname: hostname.clone(),
                    acme_requested: false,
                    custom: false,
                    issued: false,
                    issue_at: issue_after.map(|after| Instant::now() + after),
                    created_at: now,
                    updated_at: now,
                };
                request(&mut certificate);
                app.certificates.push(certificate);
                StatusCode::CREATED
            }
        };
        let certificate = certificate(app, &hostname)?;
        Ok((status, Json(views::certificate_detail(app, certificate, false))))
    })
}

pub async fn get(State(emulator): State<Arc<Emulator>>, Path((app_name, hostname)): Path<(String, String)>, uri: Uri) -> ApiResult<Json<Value>> {
    require_encoded_wildcard(&uri)?;
    emulator.read(|state| {
        let app = app(state, &app_name)?;
        Ok(Json(views::certificate_detail(app, certificate(app, &hostname)?, false)))
    })
}

/// Fly re-checks DNS here and adds the records it resolved; the emulator
/// has no DNS to look at and reports the records it asks for as resolved
/// once the certificate is issued.
pub async fn check(State(emulator): State<Arc<Emulator>>, Path((app_name, hostname)): Path<(String, String)>, uri: Uri) -> ApiResult<Json<Value>> {
    require_encoded_wildcard(&uri)?;
    emulator.read(|state| {
        let app = app(state, &app_name)?;
        Ok(Json(views::certificate_detail(app, certificate(app, &hostname)?, true)))
    })
}

/// Removes the hostname and all its certificates (204).
pub async fn delete(State(emulator): State<Arc<Emulator>>, Path((app_name, hostname)): Path<(String, String)>, uri: Uri) -> ApiResult<StatusCode> {
    require_encoded_wildcard(&uri)?;
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

/// Stops ACME issuance; a custom certificate stays (204). A hostname left
/// with no certificate at all is removed (assumed).
pub async fn delete_acme(State(emulator): State<Arc<Emulator>>, Path((app_name, hostname)): Path<(String, String)>, uri: Uri) -> ApiResult<StatusCode> {
    remove_source(&emulator, &app_name, &hostname, &uri, |c| c.acme_requested = false)
}

/// Removes the custom certificate; ACME certificates stay (204).
pub async fn delete_custom(State(emulator): State<Arc<Emulator>>, Path((app_name, hostname)): Path<(String, String)>, uri: Uri) -> ApiResult<StatusCode> {
    remove_source(&emulator, &app_name, &hostname, &uri, |c| c.custom = false)
}

fn remove_source(emulator: &Emulator, app_name: &str, hostname: &str, uri: &Uri, remove: impl FnOnce(&mut Certificate)) -> ApiResult<StatusCode> {
    require_encoded_wildcard(uri)?;
    emulator.write(|state| {
        let app = app_mut(state, app_name)?;
        let found = app.certificates.iter_mut().find(|c| c.hostname.eq_ignore_ascii_case(hostname)).ok_or_else(|| not_found(hostname))?;
        remove(found);
        found.updated_at = SystemTime::now();
        app.certificates.retain(|c| c.acme_requested || c.custom);
        Ok(StatusCode::NO_CONTENT)
    })
}

fn certificate<'a>(app: &'a App, hostname: &str) -> ApiResult<&'a Certificate> {
    app.certificates.iter().find(|c| c.hostname.eq_ignore_ascii_case(hostname)).ok_or_else(|| not_found(hostname))
}

fn not_found(hostname: &str) -> ApiError {
    ApiError::not_found(format!("certificate for {hostname} not found"))
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn require_encoded_wildcard(uri: &Uri) -> ApiResult<()> {
    if uri.path().contains('*') {
        return Err(ApiError::bad_request("for wildcard hostnames, URL-encode the * character (e.g. %2A.example.com)"));
    }
    Ok(())
}

/// Marks the certificate issued (as if its DNS or ownership record had
/// been verified).
pub fn issue(app: &mut App, hostname: &str) -> ApiResult<Value> {
    let found = app.certificates.iter_mut().find(|c| c.hostname.eq_ignore_ascii_case(hostname)).ok_or_else(|| not_found(hostname))?;
    found.issued = true;
    found.updated_at = SystemTime::now();
    let issued = found.clone();
    Ok(views::certificate_detail(app, &issued, false))
}

/// At least two dot-separated labels of letters, digits and inner dashes,
/// with an optional leading `*.` for a wildcard.
fn valid_hostname(hostname: &str) -> bool {
    let name = hostname.strip_prefix("*.").unwrap_or(hostname);
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len()) && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !label.starts_with('-') && !label.ends_with('-')
        })
}
