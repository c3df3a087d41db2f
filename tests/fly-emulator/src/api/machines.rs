//! Machine CRUD: list, get, create, update, destroy. Handlers validate and
//! record the immediate effect (`replacing`, `destroying`, …); the machine's
//! actor does the rest (see `lifecycle.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::actions::mutate;
use super::auth::Caller;
use super::error::{ApiError, ApiResult, JsonBody, Query};
use super::leases::new_lease;
use super::{app, app_mut, guard_lease, lease_nonce, live_machine_mut, machine, views};
use crate::config::MachineConfig;
use crate::echo;
use crate::emulator::Emulator;
use crate::ids;
use crate::image::ImageRef;
use crate::lifecycle::{self, Op};
use crate::state::{App, Machine, MachineState, MachineVersion, State as EmulatorState};

const DEFAULT_REGION: &str = "iad";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    include_deleted: Option<bool>,
    region: Option<String>,
}

pub async fn list(State(emulator): State<Arc<Emulator>>, Path(app_name): Path<String>, Query(query): Query<ListQuery>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let machines = app(state, &app_name)?
            .machines
            .iter()
            .filter(|m| query.include_deleted.unwrap_or(false) || m.state != MachineState::Destroyed)
            .filter(|m| query.region.as_ref().is_none_or(|region| &m.region == region))
            .map(|m| m.stale_view().cloned().unwrap_or_else(|| views::machine(m, None)))
            .collect();
        Ok(Json(Value::Array(machines)))
    })
}

pub async fn get(State(emulator): State<Arc<Emulator>>, Path((app_name, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    emulator.read(|state| {
        let machine = machine(app(state, &app_name)?, &id)?;
        if machine.hidden_by_404_window(&state.settings) {
            return Err(super::machine_not_found(&id));
        }
        if let Some(stale) = machine.stale_view() {
            return Ok(Json(stale.clone()));
        }
        Ok(Json(views::machine(machine, None)))
    })
}

/// fly-go's `LaunchMachineInput` (`machine_types.go:1127-1143`), for create
/// and update alike. Unknown keys are refused (see `wire.rs` on why).
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LaunchInput {
    config: Option<Value>,
    region: Option<String>,
    name: Option<String>,
    skip_launch: bool,
    skip_service_registration: bool,
    /// fly-go always sends it (`json:"skip_secrets"`, no omitempty).
    skip_secrets: bool,
    min_secrets_version: Option<u64>,
    lease_ttl: Option<u64>,
}

impl LaunchInput {
    /// The config as the API stores it, and its typed view.
    fn config(&self) -> ApiResult<(Value, MachineConfig)> {
        let sent = self.config.as_ref().filter(|config| config.is_object()).ok_or_else(|| ApiError::bad_request("config is required"))?;
        let config = echo::machine_config(sent).map_err(|e| ApiError::bad_request(format!("invalid machine config: {e}")))?;
        let spec = MachineConfig::parse(&config).map_err(ApiError::bad_request)?;
        if spec.image.is_empty() {
            return Err(ApiError::bad_request("config.image is required"));
        }
        Ok((config, spec))
    }
}

/// A machine asking for a secrets version the app does not have yet is
/// refused. What flaps does is unverified (brief §7: "neither the docs nor
/// fly-go define what the API does with a too-new `min_secrets_version`
/// (refuse? wait?)"); refusing makes a client bug visible at once, where
/// waiting would hang it. A version the app has is always honoured, even
/// before it has propagated (see `lifecycle::prepare_launch`).
fn check_secrets_version(app: &App, wanted: Option<u64>) -> ApiResult<()> {
    match wanted {
        Some(wanted) if wanted > app.secrets_version => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("min_secrets_version {wanted} is newer than the app's secrets (version {}); set the secrets first", app.secrets_version),
        )),
        _ => Ok(()),
    }
}

/// The image's `image_ref`, resolved before the machine changes: from the
/// linked registry when the image is in it (see `registry.rs`), else
/// parsed from the reference.
async fn resolve_image(emulator: &Emulator, image: &str) -> ApiResult<Option<ImageRef>> {
    match emulator.read(|state| state.registry.clone()) {
        Some(registry) => registry.resolve(image).await,
        None => Ok(None),
    }
}

/// Unregistered images are refused synchronously, the way flaps refuses an
/// image it cannot resolve, and the machine is left as it was. An image the
/// linked registry served exists from then on (healthy, unless registered
/// otherwise).
fn require_image(state: &mut EmulatorState, image: &str, pulled: Option<ImageRef>) -> ApiResult<ImageRef> {
    match pulled {
        Some(image_ref) => {
            state.images.entry(image.to_string()).or_default();
            Ok(image_ref)
        }
        None if state.images.contains_key(image) => Ok(ImageRef::parse(image)),
        None => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("failed to launch VM: image not found: {image}"))),
    }
}

/// Checks the mount against the app's volumes and returns the region the
/// machine must run in (a volume pins its machine to the volume's region).
fn mount_region(app: &App, spec: &MachineConfig, machine_id: Option<&str>, requested: Option<&str>) -> ApiResult<Option<String>> {
    if spec.mounts.len() > 1 {
        return Err(ApiError::bad_request("a machine can only have one mount"));
    }
    let Some(volume_id) = spec.volume() else {
        return Ok(None);
    };
    let volume = app.volume(volume_id).ok_or_else(|| ApiError::bad_request(format!("volume {volume_id} not found")))?;
    if let Some(holder) = app.attached_machine(volume_id).filter(|holder| Some(*holder) != machine_id) {
        return Err(ApiError::bad_request(format!("volume {volume_id} is already attached to machine {holder}")));
    }
    if let Some(region) = requested.filter(|region| *region != volume.region) {
        return Err(ApiError::bad_request(format!("volume {volume_id} is in region {}, not {region}", volume.region)));
    }
    Ok(Some(volume.region.clone()))
}

pub async fn create(
    State(emulator): State<Arc<Emulator>>,
    Path(app_name): Path<String>,
    Extension(caller): Extension<Caller>,
    JsonBody(input): JsonBody<LaunchInput>,
) -> ApiResult<Json<Value>> {
    let (config, spec) = input.config()?;
    let actor_context = emulator.clone();
    let pulled = resolve_image(&emulator, &spec.image).await?;
    emulator.write(|state| {
        let image_ref = require_image(state, &spec.image, pulled)?;
        let address = state.next_address();
        let app = app_mut(state, &app_name)?;
        let region = mount_region(app, &spec, None, input.region.as_deref())?.or(input.region.clone()).unwrap_or_else(|| DEFAULT_REGION.to_string());
        check_secrets_version(app, input.min_secrets_version)?;
        let id = ids::machine_id();
        let version = ids::ulid();
        let now = SystemTime::now();
        let mut machine = Machine {
            id: id.clone(),
            name: input.name.clone().unwrap_or_else(ids::machine_name),
            region,
            state: MachineState::Created,
            image_ref,
            versions: vec![MachineVersion { version: version.clone(), config: config.clone(), created_at: now }],
            config,
            spec,
            instance_id: ids::ulid(),
            version,
            min_secrets_version: input.min_secrets_version,
            booted_secrets_version: None,
            stale_view: None,
            private_ip: format!("fdaa:0:1:a7b:{address:x}::2"),
            events: Vec::new(),
            checks: Vec::new(),
            // Green machines of a bluegreen deploy take no traffic until uncordoned.
            cordoned: input.skip_service_registration,
            lease: None,
            skip_secrets: input.skip_secrets,
            created_at: now,
            created: Instant::now(),
            updated_at: now,
            process: None,
            run_id: 0,
            ops: lifecycle::spawn_actor(actor_context, app_name.clone(), id),
        };
        machine.reset_checks("machine not started");
        machine.push_event("launch", "created", "user", json!({}));
        let nonce = input.lease_ttl.map(|ttl| {
            let lease = new_lease(&caller, ttl, String::new(), machine.instance_id.clone());
            let nonce = lease.nonce.clone();
            machine.lease = Some(lease);
            nonce
        });
        let rendered = views::machine(&machine, nonce.as_deref());
        if input.skip_launch {
            machine.state = MachineState::Stopped;
        } else {
            let _ = machine.ops.send(Op::Start);
        }
        app.machines.push(machine);
        app.had_machine = true;
        Ok(Json(rendered))
    })
}

/// `POST /machines/{id}`: replaces the config (new version) and restarts the
/// machine with it, unless `skip_launch`.
pub async fn update(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(input): JsonBody<LaunchInput>,
) -> ApiResult<Json<Value>> {
    let (config, spec) = input.config()?;
    let pulled = resolve_image(&emulator, &spec.image).await?;
    emulator.write(|state| {
        let image_ref = require_image(state, &spec.image, pulled)?;
        let stale_for = Duration::from_millis(state.settings.update_stale_read_ms);
        let app = app_mut(state, &app_name)?;
        let current_region = machine(app, &id)?.region.clone();
        mount_region(app, &spec, Some(&id), Some(&current_region))?;
        check_secrets_version(app, input.min_secrets_version)?;
        let machine = live_machine_mut(app, &id)?;
        guard_lease(machine, lease_nonce(&headers))?;
        if !stale_for.is_zero() {
            machine.stale_view = Some((views::machine(machine, None), Instant::now() + stale_for));
        }
        let version = ids::ulid();
        machine.versions.insert(0, MachineVersion { version: version.clone(), config: config.clone(), created_at: SystemTime::now() });
        machine.version = version;
        machine.instance_id = ids::ulid();
        machine.image_ref = image_ref;
        machine.config = config;
        machine.spec = spec;
        machine.skip_secrets = input.skip_secrets;
        machine.min_secrets_version = input.min_secrets_version;
        if let Some(name) = input.name.clone() {
            machine.name = name;
        }
        if input.skip_service_registration {
            machine.cordoned = true;
        }
        machine.state = MachineState::Replacing;
        machine.reset_checks("machine is being replaced");
        machine.push_event("update", "replacing", "user", json!({}));
        let _ = machine.ops.send(Op::Replace { launch: !input.skip_launch });
        Ok(Json(views::machine(machine, None)))
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DestroyQuery {
    kill: Option<bool>,
    force: Option<bool>,
}

pub async fn destroy(
    State(emulator): State<Arc<Emulator>>,
    Path((app_name, id)): Path<(String, String)>,
    Query(query): Query<DestroyQuery>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let kill = query.kill.or(query.force).unwrap_or(false);
    mutate(&emulator, &app_name, &id, &headers, |machine| {
        if machine.state.is_active() && !kill {
            return Err(ApiError::precondition("unable to destroy machine, not currently stopped"));
        }
        machine.state = MachineState::Destroying;
        let _ = machine.ops.send(Op::Destroy);
        Ok(json!({"ok": true}))
    })
    .map(Json)
}
