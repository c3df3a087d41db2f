//! What one run has learned from the API that later operations need: the
//! secrets version a set returned (every later machine must boot with at
//! least it), and the release record the API numbered for the deploy (its
//! id and version go into every machine the plan creates or updates).
//!
//! Neither can be in the reviewed plan (the API assigns them after
//! review), so they travel as the outputs of the actions that obtained
//! them: the journal keeps those outputs, and the applier hands the
//! outputs of every action done earlier in the run to the executor
//! ([`FlyOps::learn`]) before it goes on. A run killed after its secrets
//! were set, or after its release was created, resumes with both known.

use std::collections::BTreeMap;
use std::sync::MutexGuard;

use ferry_fly::{CreateRelease, LaunchInput, MachineConfig, Release, ReleaseStatus, metadata, post_deployment_info};
use ferry_model::FlyRelease;

use super::FlyOps;
use crate::apply::executor::ExecError;

/// Metadata key of a blue/green deploy's greens. The plan leaves its value
/// empty; the host writes the deploy's unix seconds, flyctl's format
/// (`strategy_bluegreen.go`), which the reviewed plan cannot hold.
pub(super) const BLUEGREEN_TAG: &str = "fly_bluegreen_deployment_tag";

/// How many of the app's latest releases are read to find one an
/// interrupted run created.
const RECENT_RELEASES: u32 = 10;

/// The keys of a create-release action's outputs.
mod out {
    pub const ID: &str = "release-id";
    pub const VERSION: &str = "release-version";
    pub const STARTED_AT: &str = "started-at";
    pub const WARNING: &str = "warning";
}

/// A release record of this run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct RunRelease {
    /// Empty when the release API failed: machines then carry flyctl's
    /// "no release" values (`""`, `"0"`).
    pub id: String,
    pub version: i64,
    /// Unix seconds when the deploy started: the blue/green tag.
    pub started_at: u64,
}

#[derive(Debug, Default)]
pub(super) struct RunState {
    /// App → the newest secrets version a set of this run returned.
    secrets: BTreeMap<String, u64>,
    /// App → this run's release.
    releases: BTreeMap<String, RunRelease>,
    /// App → a release an interrupted create made, found when the applier
    /// asked whether that create took effect: the create that follows
    /// reuses it instead of making a second one.
    found: BTreeMap<String, Release>,
    /// The last failure of a Fly operation in this process: a release
    /// undone after it is marked failed with it.
    failure: Option<String>,
}

impl FlyOps {
    pub(super) fn run_state(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The release a done `create-release` journaled.
    pub(super) fn note_release(&self, app: &str, outputs: &[(String, String)]) {
        let value = |key: &str| outputs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let release = RunRelease {
            id: value(out::ID).unwrap_or_default().to_string(),
            version: value(out::VERSION).and_then(|v| v.parse().ok()).unwrap_or(0),
            started_at: value(out::STARTED_AT).and_then(|v| v.parse().ok()).unwrap_or_else(unix_now),
        };
        self.run_state().releases.insert(app.to_string(), release);
    }

    pub(super) fn note_secrets_version(&self, app: &str, version: u64) {
        let mut state = self.run_state();
        let known = state.secrets.entry(app.to_string()).or_insert(version);
        *known = (*known).max(version);
    }

    /// The secrets version machines of `app` must boot with, if this run set
    /// secrets (flyctl's `min_secrets_version`).
    pub(super) fn secrets_version(&self, app: &str) -> Option<u64> {
        self.run_state().secrets.get(app).copied()
    }

    pub(super) fn note_failure(&self, error: &ExecError) {
        self.run_state().failure = Some(error.to_string());
    }

    /// Fills in what the plan could not hold: the release's id and version
    /// in the metadata (when this run has one), the blue/green tag, and the
    /// secrets version to boot with.
    pub(super) fn stamp(&self, app: &str, input: &mut LaunchInput) {
        let state = self.run_state();
        let release = state.releases.get(app);
        if let Some(release) = release.filter(|r| !r.id.is_empty()) {
            input.config.set_metadata(metadata::RELEASE_ID, release.id.clone());
            input.config.set_metadata(metadata::RELEASE_VERSION, release.version.to_string());
        }
        if input.config.metadata_value(BLUEGREEN_TAG) == Some("") {
            let started = release.map_or_else(unix_now, |r| r.started_at);
            input.config.set_metadata(BLUEGREEN_TAG, started.to_string());
        }
        input.min_secrets_version = state.secrets.get(app).copied();
    }

    /// The plan's config as the machine will carry it.
    pub(super) fn stamped(&self, app: &str, config: MachineConfig) -> MachineConfig {
        let mut input = LaunchInput { config, ..Default::default() };
        self.stamp(app, &mut input);
        input.config
    }

    /// Creates the release record (or takes the one an interrupted run made)
    /// and marks it running. The release API failing is a warning: the
    /// deploy goes on, its machines carrying flyctl's "no release" values.
    pub(super) fn create_release(&self, r: &FlyRelease) -> Result<Vec<(String, String)>, ExecError> {
        let started_at = unix_now();
        let found = self.run_state().found.remove(&r.app);
        let created = match found {
            Some(release) => Ok(release),
            None => {
                let definition =
                    serde_json::from_str(&r.definition).map_err(ExecError::json(format!("the plan's release definition of {} is not JSON", r.app)))?;
                let request = CreateRelease { app_name: r.app.clone(), build_id: 0, definition, image: r.image.clone(), strategy: r.strategy.to_string() };
                self.client.create_release(&request)
            }
        };
        let release = match created {
            Ok(release) => release,
            Err(e) => {
                let warning =
                    format!("no release record for {}: {e}; the deploy goes on, and `fly releases` will not list it (machines get fly_release_id \"\")", r.app);
                tracing::warn!("{warning}");
                self.run_state().releases.insert(r.app.clone(), RunRelease { id: String::new(), version: 0, started_at });
                return Ok(vec![
                    (out::ID.into(), String::new()),
                    (out::VERSION.into(), "0".into()),
                    (out::STARTED_AT.into(), started_at.to_string()),
                    (out::WARNING.into(), warning),
                ]);
            }
        };
        let mut outputs =
            vec![(out::ID.into(), release.id.clone()), (out::VERSION.into(), release.version.to_string()), (out::STARTED_AT.into(), started_at.to_string())];
        if let Err(e) = self.client.update_release(&release.id, ReleaseStatus::Running, None) {
            let warning = format!("release {} (v{}) of {} could not be marked running: {e}", release.id, release.version, r.app);
            tracing::warn!("{warning}");
            outputs.push((out::WARNING.into(), warning));
        }
        self.run_state().releases.insert(r.app.clone(), RunRelease { id: release.id, version: release.version, started_at });
        Ok(outputs)
    }

    /// Whether an interrupted create-release took effect: a recent release of
    /// the app for this image, still pending or running, created after the
    /// action started. When there is one, it is kept for the create that
    /// follows (which then makes none), and the answer is "not in place" so
    /// that create runs and journals the release's id. When the releases
    /// cannot be read, the answer is "in place": a second release must never
    /// be created, so the deploy goes on without one.
    pub(super) fn release_in_place(&self, r: &FlyRelease, started_at_ms: u64) -> bool {
        let since = started_at_ms / 1000;
        match self.client.list_releases(&r.app, RECENT_RELEASES) {
            Ok(releases) => {
                let ours = releases.into_iter().find(|x| {
                    matches!(x.status.as_str(), "pending" | "running")
                        && (x.image_ref.is_empty() || x.image_ref == r.image)
                        && created_since(&x.created_at, since)
                });
                if let Some(release) = ours {
                    tracing::info!("release {} (v{}) of {} was created before the run stopped; using it", release.id, release.version, r.app);
                    self.run_state().found.insert(r.app.clone(), release);
                }
                false
            }
            Err(e) => {
                tracing::warn!(
                    "cannot tell whether the stopped run created a release record for {} ({e}); not creating another: the deploy goes on without one",
                    r.app
                );
                true
            }
        }
    }

    /// Marks this run's release complete; a failure is a warning.
    pub(super) fn complete_release(&self, app: &str) -> Result<Vec<(String, String)>, ExecError> {
        let Some(release) = self.run_state().releases.get(app).cloned().filter(|r| !r.id.is_empty()) else {
            return Ok(vec![(out::ID.into(), String::new())]);
        };
        let metadata = post_deployment_info(&client_version(), "");
        let mut outputs = vec![(out::ID.into(), release.id.clone()), ("status".into(), "complete".into())];
        if let Err(e) = self.client.update_release(&release.id, ReleaseStatus::Complete, Some(&metadata)) {
            let warning = format!("release {} (v{}) of {app} could not be marked complete: {e}", release.id, release.version);
            tracing::warn!("{warning}");
            outputs.push((out::WARNING.into(), warning));
        }
        Ok(outputs)
    }

    /// Undoes a create-release: the record stays (releases are history) but
    /// is marked `failed` with the error that stopped the deploy, or
    /// `interrupted` when the deploy was undone without one here (`ferry
    /// abort`). A failure is a warning.
    pub(super) fn fail_release(&self, r: &FlyRelease) -> Result<(), ExecError> {
        let (release, failure) = {
            let state = self.run_state();
            (state.releases.get(&r.app).cloned(), state.failure.clone())
        };
        let Some(release) = release.filter(|x| !x.id.is_empty()) else { return Ok(()) };
        let (status, error) = match failure {
            Some(error) => (ReleaseStatus::Failed, error),
            None => (ReleaseStatus::Interrupted, "the deploy was undone (ferry abort)".to_string()),
        };
        let metadata = post_deployment_info(&client_version(), &error);
        if let Err(e) = self.client.update_release(&release.id, status, Some(&metadata)) {
            tracing::warn!("release {} (v{}) of {} could not be marked {}: {e}", release.id, release.version, r.app, status.as_str());
        }
        Ok(())
    }
}

/// What ferry writes where flyctl writes its version.
fn client_version() -> String {
    concat!("ferry/", env!("CARGO_PKG_VERSION")).to_string()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Whether an RFC 3339 time is at or after `since` (unix seconds), with a
/// minute's slack for clocks that differ; an unreadable time counts.
fn created_since(at: &str, since: u64) -> bool {
    match humantime::parse_rfc3339_weak(at) {
        Ok(at) => at.duration_since(std::time::UNIX_EPOCH).map_or(true, |d| d.as_secs() + 60 >= since),
        Err(_) => true,
    }
}
