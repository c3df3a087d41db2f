//! Volumes: create (or fork with `source_volume_id`, or restore with
//! `snapshot_id`), list, get, update, extend, delete, snapshots. Attachment
//! is derived from machine configs.
//!
//! Each volume's bytes are a directory (`data_dir.rs`): empty for a new
//! volume, a copy of the source's for a fork ("exact copy … including its
//! data", never synced afterwards, `flydocs:volumes/volume-manage.mdx`), a
//! copy of the snapshot's for a restore; a snapshot copies the volume's
//! directory when it is asked for. The copy runs before the volume is
//! recorded and outside the state lock; a volume is listed only once its
//! bytes are there. Deleting a volume removes its directory. The older
//! `content` blob (`/_emulator/volumes/{id}/content`) travels alongside.
//!
//! Snapshots are asynchronous: "The state of the new snapshot will go from
//! `waiting` to `running` to `created`" and "might take a few seconds or
//! longer" (`docs:volumes/snapshots.html.markerb:58, 77`). The create
//! answers before the snapshot exists; a listed snapshot has an empty id
//! while it is waiting (flyctl prints "(pending)" for an empty id,
//! `internal/command/volumes/snapshots/list.go:96-100`); the list order is
//! unspecified (flyctl sorts by `created_at` itself, `:79-82`), so the
//! emulator shuffles it. Restoring a snapshot that is not `created` yet is
//! refused (unverified: a plausible choice, brief §5).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult, JsonBody};
use super::{app, app_mut, views};
use crate::data_dir::{self, DataDir};
use crate::emulator::Emulator;
use crate::ids;
use crate::state::{App, MachineState, Snapshot, SnapshotStatus, Volume};
use crate::wire;

const DEFAULT_REGION: &str = "iad";

pub async fn list(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let app = app(state, &app_name)?;
        Ok(Json(app.volumes.iter().map(|volume| views::volume(app, volume)).collect()))
    })
}

pub async fn get(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let app = app(state, &app_name)?;
        Ok(Json(views::volume(app, volume(app, &id)?)))
    })
}

fn volume<'a>(app: &'a App, id: &str) -> ApiResult<&'a Volume> {
    app.volume(id).ok_or_else(|| ApiError::not_found(format!("volume {id} not found")))
}

fn volume_mut<'a>(app: &'a mut App, id: &str) -> ApiResult<&'a mut Volume> {
    app.volumes.iter_mut().find(|v| v.id == id).ok_or_else(|| ApiError::not_found(format!("volume {id} not found")))
}

/// fly-go's `CreateVolumeRequest` (`volume_types.go:29-51`). Its pointer
/// fields have no omitempty, so fly-go sends explicit `null`s; all of them
/// are accepted. `compute` (a `MachineGuest`) and `compute_image` are
/// placement hints: checked, then not otherwise used, as the emulator has
/// one host. Unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreateVolume {
    name: String,
    region: Option<String>,
    size_gb: Option<u64>,
    encrypted: Option<bool>,
    require_unique_zone: Option<bool>,
    // Accepted and ignored: the emulator has one host, so no placement hint matters.
    #[allow(dead_code)]
    unique_zone_app_wide: Option<bool>,
    snapshot_retention: Option<u64>,
    auto_backup_enabled: Option<bool>,
    fstype: Option<String>,
    snapshot_id: Option<String>,
    source_volume_id: Option<String>,
    compute: Option<Value>,
    #[allow(dead_code)]
    compute_image: Option<String>,
}

pub async fn create(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>, JsonBody(body): JsonBody<CreateVolume>) -> ApiResult<Json<Value>> {
    if !valid_volume_name(&body.name) {
        return Err(ApiError::bad_request(format!("invalid volume name {:?}: up to 30 lowercase letters, digits and underscores", body.name)));
    }
    if let Some(compute) = &body.compute {
        wire::round_trip(compute, &wire::GUEST, "compute").map_err(ApiError::bad_request)?;
    }
    if let Some(fstype) = body.fstype.as_deref().filter(|f| !["ext4", "raw"].contains(f)) {
        return Err(ApiError::bad_request(format!("invalid fstype {fstype:?}: the valid values are \"ext4\" and \"raw\"")));
    }
    // Checked first so that a bad request copies nothing; checked again
    // when the volume is recorded, as the state may change meanwhile.
    let source_dir = emulator.read(|state| origin(state, &emulator.data, &app_name, &body).map(|origin| origin.dir))?;
    let id = ids::volume_id();
    let dir = emulator.data.volume(&id);
    let copied = match &source_dir {
        Some(from) => data_dir::copy(from, &dir).await,
        None => data_dir::create_empty(&dir),
    };
    copied.map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot make the volume's directory: {e}")))?;
    let created = emulator.write(|state| {
        let origin = origin(state, &emulator.data, &app_name, &body)?;
        let app = app_mut(state, &app_name)?;
        let region = body.region.clone().or_else(|| origin.region.clone()).unwrap_or_else(|| DEFAULT_REGION.to_string());
        let size_gb = body.size_gb.unwrap_or(origin.size_gb);
        if size_gb < origin.size_gb {
            return Err(ApiError::bad_request(format!("size_gb must be at least {} (the {}'s size)", origin.size_gb, origin.what)));
        }
        // A fork lands on its source's host, whatever the zone rule says.
        let unique_zone = body.require_unique_zone.unwrap_or(true) && !origin.fork;
        let zone = pick_zone(app, &body.name, &region, unique_zone);
        let volume = Volume {
            id: id.clone(),
            name: body.name.clone(),
            region,
            zone,
            size_gb,
            encrypted: body.encrypted.unwrap_or(true),
            fstype: body.fstype.clone().unwrap_or_else(|| "ext4".to_string()),
            snapshot_retention: body.snapshot_retention.unwrap_or(5),
            auto_backup_enabled: body.auto_backup_enabled.unwrap_or(true),
            source_volume_id: body.source_volume_id.clone(),
            created_at: SystemTime::now(),
            content: origin.content,
        };
        let rendered = views::volume(app, &volume);
        app.volumes.push(volume);
        Ok(Json(rendered))
    });
    if created.is_err() {
        let _ = data_dir::remove(&dir);
    }
    created
}

/// Where a new volume's bytes come from: nothing, a volume of the same app
/// (a fork), or a snapshot of any app's volume (a restore).
struct Origin {
    what: &'static str,
    fork: bool,
    size_gb: u64,
    region: Option<String>,
    content: Vec<u8>,
    /// The directory the new volume's is a copy of; none for a new volume.
    dir: Option<PathBuf>,
}

fn origin(state: &crate::state::State, data: &DataDir, app_name: &str, body: &CreateVolume) -> ApiResult<Origin> {
    match (&body.source_volume_id, &body.snapshot_id) {
        (Some(_), Some(_)) => Err(ApiError::bad_request("give source_volume_id or snapshot_id, not both")),
        (Some(id), None) => {
            // Forks stay inside the app; other apps restore a snapshot.
            let source = volume(app(state, app_name)?, id)?;
            Ok(Origin {
                what: "source volume",
                fork: true,
                size_gb: source.size_gb,
                region: Some(source.region.clone()),
                content: source.content.clone(),
                dir: Some(data.volume(&source.id)),
            })
        }
        (None, Some(id)) if id.is_empty() => Err(ApiError::not_found(
            "snapshot_id is empty: a snapshot listed without an id is still waiting; poll the volume's snapshots until it has an id and is created",
        )),
        (None, Some(id)) => {
            let snapshot = state.snapshots.iter().find(|s| &s.id == id).ok_or_else(|| ApiError::not_found(format!("snapshot {id} not found")))?;
            let status = snapshot.status();
            if status != SnapshotStatus::Created {
                return Err(ApiError::bad_request(format!(
                    "snapshot {id} is {}, not created yet: wait until the volume's snapshot list shows it created",
                    status.as_str()
                )));
            }
            Ok(Origin {
                what: "snapshot",
                fork: false,
                size_gb: snapshot.size_gb,
                region: None,
                content: snapshot.content.clone(),
                dir: Some(data.snapshot(&snapshot.id)),
            })
        }
        (None, None) => Ok(Origin { what: "default", fork: false, size_gb: 1, region: None, content: Vec::new(), dir: None }),
    }
}

fn valid_volume_name(name: &str) -> bool {
    (1..=30).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A 4-hex-digit zone; with `unique`, one no same-named volume in the region uses.
fn pick_zone(app: &App, name: &str, region: &str, unique: bool) -> String {
    loop {
        let zone = format!("{:04x}", fastrand::u16(..));
        let taken = app.volumes.iter().any(|v| v.name == name && v.region == region && v.zone == zone);
        if !unique || !taken {
            return zone;
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdateVolume {
    snapshot_retention: Option<u64>,
    auto_backup_enabled: Option<bool>,
}

pub async fn update(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<UpdateVolume>,
) -> ApiResult<Json<Value>> {
    emulator.write(|state| {
        let app = app_mut(state, &app_name)?;
        let volume = volume_mut(app, &id)?;
        if let Some(retention) = body.snapshot_retention {
            volume.snapshot_retention = retention;
        }
        if let Some(enabled) = body.auto_backup_enabled {
            volume.auto_backup_enabled = enabled;
        }
        let volume = volume.clone();
        Ok(Json(views::volume(app, &volume)))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendVolume {
    size_gb: u64,
}

pub async fn extend(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ExtendVolume>,
) -> ApiResult<Json<Value>> {
    emulator.write(|state| {
        let app = app_mut(state, &app_name)?;
        let volume = volume_mut(app, &id)?;
        if body.size_gb <= volume.size_gb {
            return Err(ApiError::bad_request(format!("size_gb must be greater than the current size ({} GB)", volume.size_gb)));
        }
        volume.size_gb = body.size_gb;
        let volume = volume.clone();
        Ok(Json(json!({"volume": views::volume(app, &volume), "needs_restart": false})))
    })
}

/// Fly refuses to destroy an attached volume ("attached volumes cannot be
/// destroyed", `flydocs:volumes/volume-manage.mdx`, off-fly.md §1.3). Here a
/// volume stays attached until the machine mounting it is `destroyed`, not
/// just `destroying`: until then its process may still be using the
/// directory that the delete removes.
pub async fn delete(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let rendered = emulator.write(|state| {
        let app = app_mut(state, &app_name)?;
        let index = app.volumes.iter().position(|v| v.id == id).ok_or_else(|| ApiError::not_found(format!("volume {id} not found")))?;
        if let Some(machine) = app.attached_machine(&id) {
            return Err(ApiError::bad_request(format!("volume {id} is attached to machine {machine}; destroy the machine first")));
        }
        if let Some(machine) = app.machines.iter().find(|m| m.state == MachineState::Destroying && m.spec.volume() == Some(id.as_str())) {
            return Err(ApiError::bad_request(format!(
                "volume {id} is attached to machine {}, which is being destroyed; wait until it is destroyed",
                machine.id
            )));
        }
        let volume = app.volumes.remove(index);
        let mut rendered = views::volume(app, &volume);
        rendered["state"] = json!("destroyed");
        Ok(rendered)
    })?;
    data_dir::remove(&emulator.data.volume(&id))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("volume {id} was deleted, but its directory was not removed: {e}")))?;
    Ok(Json(rendered))
}

/// Schedules a snapshot (fly-go decodes nothing from the answer,
/// `flaps_volumes.go:102-114`; flyctl prints "Scheduled to snapshot volume"
/// and does not wait, `internal/command/volumes/snapshots/create.go:49-54`).
pub async fn snapshot(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let snapshot = emulator.read(|state| {
        let source = volume(app(state, &app_name)?, &id)?;
        let waiting = Duration::from_millis(state.settings.snapshot_waiting_ms);
        let running = Duration::from_millis(state.settings.snapshot_running_ms);
        Ok(new_snapshot(&app_name, source, waiting, running))
    })?;
    keep_snapshot(&emulator, snapshot).await?;
    Ok(Json(json!({})))
}

/// Copies the volume's directory for `snapshot`, then records it.
pub async fn keep_snapshot(emulator: &Emulator, snapshot: Snapshot) -> ApiResult<Snapshot> {
    data_dir::copy(&emulator.data.volume(&snapshot.volume_id), &emulator.data.snapshot(&snapshot.id))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot copy volume {} for a snapshot: {e}", snapshot.volume_id)))?;
    emulator.write(|state| state.snapshots.push(snapshot.clone()));
    Ok(snapshot)
}

/// A snapshot of `source` as it is now, becoming `running` after `waiting`
/// and `created` after `waiting + running`.
pub fn new_snapshot(app_name: &str, source: &Volume, waiting: Duration, running: Duration) -> Snapshot {
    let now = Instant::now();
    Snapshot {
        id: ids::snapshot_id(),
        app: app_name.to_string(),
        volume_id: source.id.clone(),
        size_gb: source.size_gb,
        content: source.content.clone(),
        created_at: SystemTime::now(),
        running_from: now + waiting,
        created_from: now + waiting + running,
    }
}

/// The volume's snapshots, in no particular order (shuffled unless
/// `snapshot_shuffle` is off, then oldest first).
pub async fn snapshots(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        volume(app(state, &app_name)?, &id)?;
        let mut listed: Vec<Value> = state.snapshots.iter().filter(|s| s.app == app_name && s.volume_id == id).map(views::snapshot).collect();
        if state.settings.snapshot_shuffle {
            fastrand::shuffle(&mut listed);
        }
        Ok(Json(Value::Array(listed)))
    })
}
