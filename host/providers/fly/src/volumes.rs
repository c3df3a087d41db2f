//! Volumes (fly-go `flaps_volumes.go`). A volume lives on one host and
//! attaches to one machine; forks (`source_volume_id`) copy it in-platform.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;
use crate::types::{CreateVolumeRequest, ExtendedVolume, Volume};

/// States of a volume on its way out; fly-go's `GetVolumes` hides them.
const DESTROYED_STATES: [&str; 5] = [
    "scheduling_destroy",
    "fork_cleanup",
    "waiting_for_detach",
    "pending_destroy",
    "destroying",
];

/// A volume snapshot (`GET …/volumes/{vol}/snapshots`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct VolumeSnapshot {
    pub id: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

impl FlyClient {
    /// Takes a snapshot of the volume now (Fly answers without its id: list them).
    pub fn create_snapshot(&self, app: &str, volume_id: &str) -> Result<(), FlyError> {
        self.http().send(&Request::flaps(Method::POST, &["apps", app, "volumes", volume_id, "snapshots"])).map(drop)
    }

    /// The volume's snapshots, oldest first.
    pub fn list_snapshots(&self, app: &str, volume_id: &str) -> Result<Vec<VolumeSnapshot>, FlyError> {
        self.http().send(&Request::flaps(Method::GET, &["apps", app, "volumes", volume_id, "snapshots"]))?.json()
    }

    /// The app's volumes, without those being destroyed.
    pub fn list_volumes(&self, app: &str) -> Result<Vec<Volume>, FlyError> {
        let mut volumes: Vec<Volume> = self
            .http()
            .send(&Request::flaps(Method::GET, &["apps", app, "volumes"]))?
            .json()?;
        volumes.retain(|v| !DESTROYED_STATES.contains(&v.state.as_str()));
        Ok(volumes)
    }

    /// One volume.
    pub fn get_volume(&self, app: &str, volume_id: &str) -> Result<Volume, FlyError> {
        self.http()
            .send(&Request::flaps(
                Method::GET,
                &["apps", app, "volumes", volume_id],
            ))?
            .json()
    }

    /// Creates (or forks, or restores) a volume. Not retried: volumes carry
    /// no idempotency key, and a duplicate costs money and confuses mounts.
    pub fn create_volume(
        &self,
        app: &str,
        request: &CreateVolumeRequest,
    ) -> Result<Volume, FlyError> {
        self.http()
            .send(&Request::flaps(Method::POST, &["apps", app, "volumes"]).json(request))?
            .json()
    }

    /// Deletes a volume, returning its final record.
    pub fn delete_volume(&self, app: &str, volume_id: &str) -> Result<Volume, FlyError> {
        self.http()
            .send(&Request::flaps(
                Method::DELETE,
                &["apps", app, "volumes", volume_id],
            ))?
            .json()
    }

    /// Grows a volume to `size_gb`.
    pub fn extend_volume(
        &self,
        app: &str,
        volume_id: &str,
        size_gb: u64,
    ) -> Result<ExtendedVolume, FlyError> {
        #[derive(Serialize)]
        struct Body {
            size_gb: u64,
        }
        let request = Request::flaps(Method::PUT, &["apps", app, "volumes", volume_id, "extend"])
            .json(&Body { size_gb });
        self.http().send(&request)?.json()
    }
}
