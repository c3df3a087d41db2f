//! The Machines API's documented rate limits: a token bucket per (action,
//! identifier). "Machines API rate limits apply per-action, per-machine and
//! are scoped per identifier. That might be Machine ID or App ID, depending
//! on the type of request. The limit is 1 request, per second, per action …
//! with a short-term burst limit up to 3 req/s, per action. This applies to
//! all actions except Get Machine which is 5 req/s, with a short-term burst
//! limit up to 10 req/s. Additionally, app deletions are limited to 100 per
//! minute." (`docs:machines/api/working-with-machines-api.html.markerb:79-85`)
//!
//! Actions are fly-go's names for them (`flaps/actions.go`). Only `/v1`
//! (flaps) is limited; the docs say nothing of api.fly.io's limits.
//!
//! A refused request answers 429 `{"error": "rate limit exceeded"}` with no
//! `Retry-After`: the docs list no 429 body or header (their status table,
//! `:66-77`, has no 429), and neither fly-go nor flyctl reads `Retry-After`
//! (brief §8), so there is nothing to cite for one. The body is assumed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::emulator::Emulator;
use crate::settings::RateLimits;

/// Which bucket a request draws from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub action: &'static str,
    /// The machine id or app name the limit is scoped to.
    pub identifier: String,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<Key, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    /// Takes a token from `key`'s bucket; false when it is empty.
    pub fn admit(&self, key: Key, limits: &RateLimits) -> bool {
        let (per_second, burst) = match key.action {
            "machineGet" => (limits.get_machine_per_second, limits.get_machine_burst),
            "appDelete" => (limits.app_deletes_per_minute / 60.0, limits.app_deletes_per_minute),
            _ => (limits.per_second, limits.burst),
        };
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(key).or_insert(Bucket { tokens: burst, refilled: now });
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets every bucket (when the limits are changed).
    pub fn reset(&self) {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// The action and identifier of a `/v1` request, by fly-go's action names.
pub fn classify(method: &Method, path: &str) -> Option<Key> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let get = method == Method::GET;
    let post = method == Method::POST;
    let delete = method == Method::DELETE;
    let put = method == Method::PUT;
    let key = |action: &'static str, identifier: &str| Some(Key { action, identifier: identifier.to_string() });
    match segments.as_slice() {
        ["v1", "apps"] if post => key("appCreate", "apps"),
        ["v1", "apps"] => key("appList", "apps"),
        // Deletions are counted across apps ("100 per minute").
        ["v1", "apps", _] if delete => key("appDelete", "apps"),
        ["v1", "apps", app] => key("appGet", app),
        ["v1", "apps", app, "machines"] if post => key("machineLaunch", app),
        ["v1", "apps", app, "machines"] => key("machineList", app),
        ["v1", "apps", _, "machines", id] if get => key("machineGet", id),
        ["v1", "apps", _, "machines", id] if delete => key("machineDestroy", id),
        ["v1", "apps", _, "machines", id] => key("machineUpdate", id),
        ["v1", "apps", _, "machines", id, action, ..] => {
            let action = match (*action, method.as_str()) {
                ("start", _) => "machineStart",
                ("stop", _) => "machineStop",
                ("restart", _) => "machineRestart",
                ("suspend", _) => "machineSuspend",
                ("cordon", _) => "machineCordon",
                ("uncordon", _) => "machineUncordon",
                ("wait", _) => "machineWait",
                ("ps", _) => "machinePs",
                ("exec", _) => "machineExec",
                ("events", _) => "machineEvents",
                ("versions", _) => "machineVersions",
                ("lease", "GET") => "machineFindLease",
                ("lease", "DELETE") => "machineReleaseLease",
                ("lease", _) => "machineAcquireLease",
                ("metadata", "GET") => "metadataGet",
                ("metadata", "DELETE") => "metadataDel",
                ("metadata", _) => "metadataSet",
                _ => "machineOther",
            };
            key(action, id)
        }
        ["v1", "apps", app, "volumes"] if post => key("volumeCreate", app),
        ["v1", "apps", app, "volumes"] => key("volumeList", app),
        ["v1", "apps", app, "volumes", _] if put => key("volumetUpdate", app),
        ["v1", "apps", app, "volumes", _] if delete => key("volumeDelete", app),
        ["v1", "apps", app, "volumes", _] => key("volumeGet", app),
        ["v1", "apps", app, "volumes", _, "extend"] => key("volumeExtend", app),
        ["v1", "apps", app, "volumes", _, "snapshots"] if post => key("volumeSnapshotCreate", app),
        ["v1", "apps", app, "volumes", _, "snapshots"] => key("volumeSnapshotList", app),
        ["v1", "apps", app, "secrets"] if post => key("appSecretUpdate", app),
        ["v1", "apps", app, "secrets"] => key("appSecretsList", app),
        ["v1", "apps", app, "secrets", _] if post => key("appSecretSet", app),
        ["v1", "apps", app, "secrets", _] if delete => key("appSecretDelete", app),
        ["v1", "apps", app, "secrets", _] => key("appSecretGet", app),
        ["v1", "apps", app, "ip_assignments"] if post => key("ipAssignmentCreate", app),
        ["v1", "apps", app, "ip_assignments"] => key("ipAssignmentList", app),
        ["v1", "apps", app, "ip_assignments", _] => key("ipAssignmentDelete", app),
        ["v1", "apps", app, "certificates"] => key("certificateList", app),
        ["v1", "apps", app, "certificates", "acme"] if post => key("certificateCreateACME", app),
        ["v1", "apps", app, "certificates", "custom"] if post => key("certificateCreateCustom", app),
        ["v1", "apps", app, "certificates", _] if delete => key("certificateDelete", app),
        ["v1", "apps", app, "certificates", _] => key("certificateGet", app),
        ["v1", "apps", app, "certificates", _, "check"] => key("certificateCheck", app),
        ["v1", "apps", app, "certificates", _, "acme"] => key("certificateDeleteACME", app),
        ["v1", "apps", app, "certificates", _, "custom"] => key("certificateDeleteCustom", app),
        ["v1", ..] => key("other", "v1"),
        _ => None,
    }
}

pub async fn middleware(State(emulator): State<Arc<Emulator>>, request: Request, next: Next) -> Response {
    let limits = emulator.read(|state| state.settings.rate_limits.clone());
    if limits.enabled
        && let Some(key) = classify(request.method(), request.uri().path())
        && !emulator.rate_limiter.admit(key, &limits)
    {
        return (StatusCode::TOO_MANY_REQUESTS, axum::Json(json!({"error": "rate limit exceeded"}))).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits { enabled: true, ..RateLimits::default() }
    }

    #[test]
    fn classifies_by_action_and_identifier() {
        let get = |path: &str| classify(&Method::GET, path).unwrap();
        assert_eq!(get("/v1/apps/a/machines/m1").action, "machineGet");
        assert_eq!(get("/v1/apps/a/machines/m1").identifier, "m1");
        assert_eq!(get("/v1/apps/a/machines").action, "machineList");
        assert_eq!(get("/v1/apps/a/machines").identifier, "a");
        let start = classify(&Method::POST, "/v1/apps/a/machines/m1/start").unwrap();
        assert_eq!((start.action, start.identifier.as_str()), ("machineStart", "m1"));
        let delete = classify(&Method::DELETE, "/v1/apps/a").unwrap();
        assert_eq!((delete.action, delete.identifier.as_str()), ("appDelete", "apps"));
        assert!(classify(&Method::POST, "/api/v1/releases").is_none());
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = RateLimiter::default();
        let key = || Key { action: "machineStart", identifier: "m1".into() };
        assert!((0..3).all(|_| limiter.admit(key(), &limits())), "burst of 3");
        assert!(!limiter.admit(key(), &limits()), "the fourth within a second");
        let other = Key { action: "machineStart", identifier: "m2".into() };
        assert!(limiter.admit(other, &limits()), "another machine has its own bucket");
        let get = || Key { action: "machineGet", identifier: "m1".into() };
        assert!((0..10).all(|_| limiter.admit(get(), &limits())), "Get Machine bursts to 10");
        assert!(!limiter.admit(get(), &limits()));
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(limiter.admit(key(), &limits()), "one token back after a second");
        assert!(!limiter.admit(key(), &limits()));
    }
}
