//! Knobs for the platform's timing-dependent behaviour, set through
//! `POST /_emulator/settings` or `fly-emulator serve --settings JSON`.
//!
//! Which behaviours are on by default:
//! - Behaviours the docs describe as asynchronous are on, with short
//!   timings: snapshots go `waiting` → `running` → `created`.
//! - Eventual-consistency windows whose length Fly does not document are
//!   off (0) by default and switched on by the tests that exercise them:
//!   a new machine or app answering 404, secrets reaching new machines
//!   late, a stale read right after an update. A default window would make
//!   every test's timing part of its outcome.
//! - Rate limits are off by default although the docs give their numbers:
//!   test harnesses poll the API far faster than Fly allows. A test (or a
//!   suite, through `--settings`) turns them on; the numbers default to
//!   the documented ones.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long a just-created machine answers 404 on `GET` and `wait`
    /// (flyctl#4618; flyctl retries such 404s, `leasable_machine.go:225-291`).
    pub create_404_window_ms: u64,
    /// How long a just-created app answers 404 everywhere under
    /// `/v1/apps/{app}` (fly-go's `WaitForApp` retries 404 and 401 for up to
    /// a minute after every create, `flaps/flaps_apps.go:129-145`).
    pub app_404_window_ms: u64,
    /// How long a secrets change takes to reach machines launched without
    /// `min_secrets_version`, and lists without `version=`.
    pub secrets_propagation_ms: u64,
    /// How long a new snapshot is `waiting` (with an empty id), then `running`.
    pub snapshot_waiting_ms: u64,
    pub snapshot_running_ms: u64,
    /// Snapshots are listed in a random order (flyctl sorts them itself,
    /// `internal/command/volumes/snapshots/list.go:79-82`).
    pub snapshot_shuffle: bool,
    /// When set, a certificate becomes `active` this long after it was
    /// added; otherwise only `POST /_emulator/apps/{app}/certificates/{hostname}/issue` issues it.
    pub certificate_issue_ms: Option<u64>,
    /// How long after an update `GET` and the list still show the machine
    /// as it was before (the race of brief §14; how long it lasts on Fly is
    /// unverified).
    pub update_stale_read_ms: u64,
    /// Default and maximum `limit` of the certificate list (unverified).
    pub certificate_page_size: usize,
    pub certificate_max_page_size: usize,
    pub rate_limits: RateLimits,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            create_404_window_ms: 0,
            app_404_window_ms: 0,
            secrets_propagation_ms: 0,
            snapshot_waiting_ms: 200,
            snapshot_running_ms: 300,
            snapshot_shuffle: true,
            certificate_issue_ms: None,
            update_stale_read_ms: 0,
            certificate_page_size: 25,
            certificate_max_page_size: 200,
            rate_limits: RateLimits::default(),
        }
    }
}

/// Fly's documented limits: "1 request, per second, per action … with a
/// short-term burst limit up to 3 req/s"; Get Machine "5 req/s, with a
/// short-term burst limit up to 10 req/s"; "app deletions are limited to 100
/// per minute" (`docs:machines/api/working-with-machines-api.html.markerb:79-85`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    pub enabled: bool,
    pub per_second: f64,
    pub burst: f64,
    pub get_machine_per_second: f64,
    pub get_machine_burst: f64,
    pub app_deletes_per_minute: f64,
}

impl Default for RateLimits {
    fn default() -> RateLimits {
        RateLimits { enabled: false, per_second: 1.0, burst: 3.0, get_machine_per_second: 5.0, get_machine_burst: 10.0, app_deletes_per_minute: 100.0 }
    }
}

impl Settings {
    /// These settings with `patch` merged in (objects merge key by key);
    /// an unknown key or a value of the wrong type is an error.
    pub fn patched(&self, patch: &Value) -> Result<Settings, String> {
        if !patch.is_object() {
            return Err("settings must be a JSON object".to_string());
        }
        let mut merged = serde_json::to_value(self).map_err(|e| e.to_string())?;
        merge(&mut merged, patch);
        serde_json::from_value(merged).map_err(|e| format!("invalid settings: {e}"))
    }
}

fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                match base.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value);
                    }
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patches_merge_and_refuse_unknown_keys() {
        let settings = Settings::default().patched(&json!({"rate_limits": {"enabled": true}, "app_404_window_ms": 500})).unwrap();
        assert!(settings.rate_limits.enabled);
        assert_eq!(settings.rate_limits.burst, 3.0, "other limits keep their values");
        assert_eq!(settings.app_404_window_ms, 500);
        assert!(Settings::default().patched(&json!({"bogus": 1})).is_err());
        assert!(Settings::default().patched(&json!({"rate_limits": {"bogus": 1}})).is_err());
        assert!(Settings::default().patched(&json!({"app_404_window_ms": "soon"})).is_err());
    }
}
