//! Release records on `api.fly.io` (flyctl `internal/uiex/releases.go`), so
//! the dashboard and `fly releases` show ferry's deploys. Machines work
//! without them: callers should report a failure here and carry on.

use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::{Base, Request, Retry};
use crate::types::null_default;

/// `POST /api/v1/releases` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CreateRelease {
    /// The app.
    pub app_name: String,
    /// `ROLLING`, `CANARY`, `BLUEGREEN`, `IMMEDIATE`.
    pub strategy: String,
    /// fly.toml as JSON.
    pub definition: Value,
    /// The image deployed.
    pub image: String,
    /// Build id, when the image was built by Fly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<i64>,
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
    /// `running`, `complete`…
    #[serde(default, deserialize_with = "null_default")]
    pub status: String,
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
        other => Err(serde::de::Error::custom(format!(
            "release id must be a string or number, got {other}"
        ))),
    }
}

impl FlyClient {
    /// Creates a release record. Not retried (a repeat creates a second
    /// release).
    pub fn create_release(&self, release: &CreateRelease) -> Result<Release, FlyError> {
        let request =
            Request::new(Method::POST, Base::Uiex, &["api", "v1", "releases"]).json(release);
        Ok(self.http().send(&request)?.json::<Wrapped>()?.into())
    }

    /// Sets a release's status, with optional metadata (flyctl puts the
    /// error text there). Setting a status is idempotent, so 5xx and
    /// transport errors are retried.
    pub fn update_release(
        &self,
        release_id: &str,
        status: ReleaseStatus,
        metadata: Option<&Value>,
    ) -> Result<Release, FlyError> {
        #[derive(Serialize)]
        struct Body<'a> {
            status: ReleaseStatus,
            #[serde(skip_serializing_if = "Option::is_none")]
            metadata: Option<&'a Value>,
        }
        let request = Request::new(
            Method::PATCH,
            Base::Uiex,
            &["api", "v1", "releases", release_id],
        )
        .json(&Body { status, metadata })
        .retry(Retry::Idempotent);
        Ok(self.http().send(&request)?.json::<Wrapped>()?.into())
    }
}
