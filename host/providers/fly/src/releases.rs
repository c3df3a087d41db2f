//! Release records on `api.fly.io` (flyctl `internal/uiex/releases.go`), so
//! the dashboard and `fly releases` show ferry's deploys, numbered by the
//! platform. Machines work without them: callers should report a failure
//! here and carry on, as flyctl does for the final status.
//!
//! Requests carry `Authorization: Bearer <every macaroon, then every user
//! token>`, as flyctl's uiex client sends them (not the Machines API's
//! `FlyV1` form); the transport picks the header by base.

use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::{Base, Request, Retry};
use crate::types::null_default;

/// `POST /api/v1/releases` body, in the order flyctl's struct encodes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CreateRelease {
    /// The app.
    pub app_name: String,
    /// Build id, when the image was built by Fly's builders; flyctl sends
    /// `0` for `--image` (the field has no `omitempty`).
    pub build_id: i64,
    /// fly.toml as JSON: what `fly config save` and `fly scale count` later
    /// read back as the app's config.
    pub definition: Value,
    /// The image deployed.
    pub image: String,
    /// `ROLLING`, `CANARY`, `BLUEGREEN`, `IMMEDIATE` (upper case).
    pub strategy: String,
}

/// What flyctl puts in a release's metadata when it finishes it:
/// `{"post_deployment_info": {"flyctl_version", "error"}}` (fly-go
/// `types.go`; `error` is always present, empty on success).
pub fn post_deployment_info(client_version: &str, error: &str) -> Value {
    serde_json::json!({"post_deployment_info": {"flyctl_version": client_version, "error": error}})
}

/// A release record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Release id; machines carry it as `fly_release_id`.
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    /// Release version; machines carry it as `fly_release_version`.
    #[serde(default, deserialize_with = "null_default")]
    pub version: i64,
    /// `pending`, `running`, `complete`, `failed`, `interrupted`.
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
    /// The image the release deploys.
    #[serde(default, deserialize_with = "null_default")]
    pub image_ref: String,
    /// RFC 3339 creation time.
    #[serde(default, deserialize_with = "null_default")]
    pub created_at: String,
}

/// The status of a release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseStatus {
    /// Deploying.
    Running,
    /// Deployed.
    Complete,
    /// Failed (put the error in the metadata).
    Failed,
    /// Cancelled.
    Interrupted,
}

/// `{"release": {...}}` (create) or the bare record (update).
#[derive(Deserialize)]
#[serde(untagged)]
enum Wrapped {
    Wrapped { release: Release },
    Bare(Release),
}

impl From<Wrapped> for Release {
    fn from(w: Wrapped) -> Self {
        match w {
            Wrapped::Wrapped { release } | Wrapped::Bare(release) => release,
        }
    }
}

fn string_or_number<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    match Value::deserialize(de)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("release id must be a string or number, got {other}"))),
    }
}

impl FlyClient {
    /// Creates a release record (`POST /api/v1/releases`; the answer is
    /// `{"release": {…}}`). Retried only as fly-go's transport retries (502,
    /// 503, 429, a refused connection), as flyctl's uiex client is: another
    /// repeat could create a second release.
    pub fn create_release(&self, release: &CreateRelease) -> Result<Release, FlyError> {
        let request = Request::new(Method::POST, Base::Uiex, &["api", "v1", "releases"]).json(release);
        Ok(self.http().send(&request)?.json::<Wrapped>()?.into())
    }

    /// The app's latest releases, newest first (`GET
    /// /api/v1/apps/{app}/releases?limit=`, flyctl `uiex.ListReleases`).
    pub fn list_releases(&self, app: &str, limit: u32) -> Result<Vec<Release>, FlyError> {
        #[derive(Deserialize)]
        struct Listing {
            #[serde(default, deserialize_with = "null_default")]
            releases: Vec<Release>,
        }
        let request = Request::new(Method::GET, Base::Uiex, &["api", "v1", "apps", app, "releases"]).query("limit", limit.to_string());
        Ok(self.http().send(&request)?.json::<Listing>()?.releases)
    }

    /// Sets a release's status (`PATCH /api/v1/releases/{id}` with
    /// `{"metadata", "status"}`; flyctl sends `"metadata": null` with
    /// `running`, and [`post_deployment_info`] at the end). Setting a status
    /// is idempotent, so 5xx and transport errors are retried.
    pub fn update_release(&self, release_id: &str, status: ReleaseStatus, metadata: Option<&Value>) -> Result<Release, FlyError> {
        #[derive(Serialize)]
        struct Body<'a> {
            metadata: Option<&'a Value>,
            status: ReleaseStatus,
        }
        let request = Request::new(Method::PATCH, Base::Uiex, &["api", "v1", "releases", release_id]).json(&Body { metadata, status }).retry(Retry::Idempotent);
        let response = self.http().send(&request)?;
        // flyctl ignores this body; what the server sends is unverified.
        Ok(response.json::<Wrapped>().map(Release::from).unwrap_or_else(|_| Release {
            id: release_id.to_owned(),
            status: status.as_str().to_owned(),
            ..Release::default()
        }))
    }
}

impl ReleaseStatus {
    /// The API's name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Running => "running",
            ReleaseStatus::Complete => "complete",
            ReleaseStatus::Failed => "failed",
            ReleaseStatus::Interrupted => "interrupted",
        }
    }
}
