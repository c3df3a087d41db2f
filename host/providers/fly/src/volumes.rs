//! Volumes (fly-go `flaps_volumes.go`). A volume lives on one host and
//! attaches to one machine; forks (`source_volume_id`) copy it in-platform.

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;
use crate::types::{CreateVolumeRequest, ExtendedVolume, Volume};

/// States of a volume on its way out; fly-go's `GetVolumes` hides them.
const DESTROYED_STATES: [&str; 5] = ["scheduling_destroy", "fork_cleanup", "waiting_for_detach", "pending_destroy", "destroying"];

/// A volume snapshot (`GET …/volumes/{vol}/snapshots`, fly-go
/// `VolumeSnapshot`). Snapshots are asynchronous: a new one goes from
/// `waiting` to `running` to `created` (Fly's snapshot docs), and may be
/// listed with an empty `id` while pending (flyctl prints "(pending)").
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct VolumeSnapshot {
    #[serde(default, deserialize_with = "crate::types::null_default")]
    pub id: String,
    #[serde(default, deserialize_with = "crate::types::null_default")]
    pub size: u64,
    #[serde(default, deserialize_with = "crate::types::null_default")]
    pub status: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub retention_days: Option<u32>,
}

impl VolumeSnapshot {
    /// Whether the snapshot is complete and can be restored.
    pub fn is_created(&self) -> bool {
        self.status == "created"
    }

    /// Ordering key: by `created_at` (parsed, so `…00Z` and `…00.5Z` order
    /// right), a snapshot without one (pending) last.
    fn age_key(&self) -> (bool, Option<std::time::SystemTime>, String) {
        let at = self.created_at.as_deref().filter(|s| !s.is_empty());
        (at.is_none(), at.and_then(|s| humantime::parse_rfc3339_weak(s).ok()), at.unwrap_or_default().to_owned())
    }
}

/// How long [`FlyClient::snapshot_volume`] waits, and how often it looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotWait {
    /// Give up after this long (a large volume takes minutes).
    pub timeout: Duration,
    /// Time between lists.
    pub poll_interval: Duration,
}

impl Default for SnapshotWait {
    fn default() -> Self {
        SnapshotWait { timeout: Duration::from_secs(30 * 60), poll_interval: Duration::from_secs(2) }
    }
}

impl FlyClient {
    /// Takes a snapshot of the volume now. Fly only schedules it and answers
    /// without its id (fly-go decodes nothing): use
    /// [`FlyClient::snapshot_volume`] to get the snapshot this call made.
    pub fn create_snapshot(&self, app: &str, volume_id: &str) -> Result<(), FlyError> {
        self.http().send(&Request::flaps(Method::POST, &["apps", app, "volumes", volume_id, "snapshots"])).map(drop)
    }

    /// The volume's snapshots, in the API's order (unspecified: flyctl
    /// sorts them itself).
    pub fn list_snapshots(&self, app: &str, volume_id: &str) -> Result<Vec<VolumeSnapshot>, FlyError> {
        self.http().send(&Request::flaps(Method::GET, &["apps", app, "volumes", volume_id, "snapshots"]))?.json()
    }

    /// Takes a snapshot and returns it once it is `created`.
    ///
    /// The snapshots listed before the request are set aside; of those
    /// listed after it, the newest by `created_at` is the one this call made
    /// (never the list's last entry: the API's order is not guaranteed).
    /// While that one is pending (no id yet, `waiting`, `running`) the list
    /// is read again every `wait.poll_interval`; a `failed` one is an error,
    /// and so is `wait.timeout` passing, naming the volume and what was seen.
    pub fn snapshot_volume(&self, app: &str, volume_id: &str, wait: &SnapshotWait) -> Result<VolumeSnapshot, FlyError> {
        let before: HashSet<String> = self.list_snapshots(app, volume_id)?.into_iter().map(|s| s.id).filter(|id| !id.is_empty()).collect();
        self.create_snapshot(app, volume_id)?;
        let started = Instant::now();
        loop {
            let mut new: Vec<VolumeSnapshot> =
                self.list_snapshots(app, volume_id)?.into_iter().filter(|s| s.id.is_empty() || !before.contains(&s.id)).collect();
            new.sort_by_key(VolumeSnapshot::age_key);
            let seen = match new.last() {
                Some(s) if !s.id.is_empty() && s.is_created() => return Ok(s.clone()),
                Some(s) if s.status == "failed" => {
                    return Err(FlyError::Timeout {
                        ctx: None,
                        message: format!(
                            "snapshot {} of volume {volume_id} (app {app}) failed; take it again (`fly volumes snapshots create {volume_id}`) or look at `fly volumes snapshots list {volume_id}`",
                            s.id
                        ),
                    });
                }
                Some(s) if s.id.is_empty() => format!("a pending snapshot without an id yet (status {:?})", s.status),
                Some(s) => format!("snapshot {} in status {:?}", s.id, s.status),
                None => "no new snapshot listed yet".to_owned(),
            };
            if started.elapsed() >= wait.timeout {
                return Err(FlyError::Timeout {
                    ctx: None,
                    message: format!(
                        "volume {volume_id} of app {app}: the snapshot requested {:.0}s ago is not `created` yet (last seen: {seen}); nothing was restored from it",
                        started.elapsed().as_secs_f64()
                    ),
                });
            }
            tracing::debug!(app, volume_id, seen, "waiting for the new snapshot");
            thread::sleep(wait.poll_interval.min(wait.timeout.saturating_sub(started.elapsed())).max(Duration::from_millis(1)));
        }
    }

    /// The app's volumes, without those being destroyed.
    pub fn list_volumes(&self, app: &str) -> Result<Vec<Volume>, FlyError> {
        let mut volumes: Vec<Volume> = self.http().send(&Request::flaps(Method::GET, &["apps", app, "volumes"]))?.json()?;
        volumes.retain(|v| !DESTROYED_STATES.contains(&v.state.as_str()));
        Ok(volumes)
    }

    /// One volume.
    pub fn get_volume(&self, app: &str, volume_id: &str) -> Result<Volume, FlyError> {
        self.http().send(&Request::flaps(Method::GET, &["apps", app, "volumes", volume_id]))?.json()
    }

    /// Creates (or forks, or restores) a volume. Retried only as fly-go's
    /// transport retries (502, 503, 429, a refused connection): volumes
    /// carry no idempotency key.
    pub fn create_volume(&self, app: &str, request: &CreateVolumeRequest) -> Result<Volume, FlyError> {
        self.http().send(&Request::flaps(Method::POST, &["apps", app, "volumes"]).json(request))?.json()
    }

    /// Deletes a volume, returning its final record.
    pub fn delete_volume(&self, app: &str, volume_id: &str) -> Result<Volume, FlyError> {
        self.http().send(&Request::flaps(Method::DELETE, &["apps", app, "volumes", volume_id]))?.json()
    }

    /// Grows a volume to `size_gb`.
    pub fn extend_volume(&self, app: &str, volume_id: &str, size_gb: u64) -> Result<ExtendedVolume, FlyError> {
        #[derive(Serialize)]
        struct Body {
            size_gb: u64,
        }
        let request = Request::flaps(Method::PUT, &["apps", app, "volumes", volume_id, "extend"]).json(&Body { size_gb });
        self.http().send(&request)?.json()
    }
}
