//! Machine leases: acquire (retrying 409 like fly-go `AcquireLease`), a
//! background refresh, and release on `release()` or drop.
//!
//! flyctl's defaults are kept: a 13 s TTL refreshed every `(ttl - 1s) / 3`
//! with jitter, so a CI job that is killed leaves a lease that expires
//! within seconds instead of blocking the next deploy for 30 minutes
//! (flyctl#1728).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::{Request, Retry, jitter_fraction};
use crate::types::Lease;

/// flyctl's `DefaultLeaseTtl`.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(13);

impl FlyClient {
    /// Acquires the machine's lease for `ttl` (rounded to whole seconds, at
    /// least 1) and keeps it refreshed until the guard is released or
    /// dropped.
    ///
    /// A 409 (held by someone else) is retried per
    /// [`crate::Config::lease_retry`]; if it persists the result is
    /// [`FlyError::LeaseHeld`] naming the holder, which callers should treat
    /// as final, as flyctl does. Machines on unreachable hosts cannot be
    /// leased.
    pub fn acquire_lease(&self, app: &str, machine_id: &str, ttl: Duration, description: &str) -> Result<LeaseGuard, FlyError> {
        #[derive(Serialize)]
        struct Body<'a> {
            description: &'a str,
            ttl: u64,
        }
        let secs = ttl_secs(ttl);
        let request =
            Request::flaps(Method::POST, &["apps", app, "machines", machine_id, "lease"]).query("ttl", secs.to_string()).json(&Body { description, ttl: secs });
        let policy = self.config().lease_retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.http().send(&request) {
                Ok(response) => {
                    let lease: Lease = response.json()?;
                    let nonce = granted_nonce(&lease).ok_or_else(|| FlyError::Decode {
                        ctx: response.ctx.clone(),
                        message: format!("lease not granted (status {:?}, code {:?}, message {:?})", lease.status, lease.code, lease.message),
                    })?;
                    return Ok(self.adopt_lease(app, machine_id, nonce, ttl));
                }
                Err(e) if is_conflict(&e) && attempt < policy.attempts => {
                    tracing::debug!(machine_id, error = %e, "lease held; retrying");
                    thread::sleep(policy.delay(attempt - 1));
                }
                Err(e) if is_conflict(&e) => return Err(self.lease_held(app, machine_id, e)),
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes charge of a lease obtained elsewhere, typically the one a
    /// create with `lease_ttl` returned in [`crate::Machine::nonce`]: the
    /// guard refreshes and releases it like an acquired one.
    pub fn adopt_lease(&self, app: &str, machine_id: &str, nonce: &str, ttl: Duration) -> LeaseGuard {
        let mut guard = LeaseGuard {
            client: self.clone(),
            app: app.to_owned(),
            machine_id: machine_id.to_owned(),
            nonce: nonce.to_owned(),
            refresher: None,
            released: false,
        };
        guard.refresher = Refresher::start(&guard, ttl);
        guard
    }

    /// The current lease on the machine, `None` when there is none.
    pub fn get_lease(&self, app: &str, machine_id: &str) -> Result<Option<Lease>, FlyError> {
        match self.http().send(&Request::flaps(Method::GET, &["apps", app, "machines", machine_id, "lease"])) {
            Ok(response) => response.json().map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `LeaseHeld` with whatever `GET …/lease` says about the holder.
    fn lease_held(&self, app: &str, machine_id: &str, error: FlyError) -> FlyError {
        let message = match &error {
            FlyError::LeaseHeld { message, .. } | FlyError::Api { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let holder = match self.get_lease(app, machine_id) {
            Ok(Some(Lease { data: Some(data), .. })) if !data.owner.is_empty() => {
                let mut holder = data.owner;
                if !data.description.is_empty() {
                    holder.push_str(&format!(" ({})", data.description));
                }
                if data.expires_at > 0 {
                    holder.push_str(&format!(", expires at unix time {}", data.expires_at));
                }
                holder
            }
            _ => match error {
                FlyError::LeaseHeld { holder, .. } => holder,
                _ => "another client".to_owned(),
            },
        };
        FlyError::LeaseHeld { machine_id: machine_id.to_owned(), holder, message }
    }
}

fn ttl_secs(ttl: Duration) -> u64 {
    ttl.as_secs_f64().round().max(1.0) as u64
}

fn is_conflict(error: &FlyError) -> bool {
    matches!(error, FlyError::LeaseHeld { .. } | FlyError::Api { status: 409, .. })
}

/// The nonce of a granted lease: flyctl requires `status == "success"` and
/// data; an empty status is tolerated when a nonce is present.
fn granted_nonce(lease: &Lease) -> Option<&str> {
    if !(lease.status.is_empty() || lease.status == "success") {
        return None;
    }
    lease.data.as_ref().map(|d| d.nonce.as_str()).filter(|n| !n.is_empty())
}

/// A held lease. Pass [`LeaseGuard::nonce`] to every mutation of the
/// machine. Refreshed in the background; released by
/// [`LeaseGuard::release`] or, failing that, on drop (errors are then only
/// logged). A lease that is already gone ("lease not found") counts as
/// released.
#[derive(Debug)]
pub struct LeaseGuard {
    client: FlyClient,
    app: String,
    machine_id: String,
    nonce: String,
    refresher: Option<Refresher>,
    released: bool,
}

impl LeaseGuard {
    /// The nonce for `fly-machine-lease-nonce`.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The leased machine.
    pub fn machine_id(&self) -> &str {
        &self.machine_id
    }

    /// Stops refreshing and releases the lease.
    pub fn release(mut self) -> Result<(), FlyError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), FlyError> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        // Stop (and join) the refresher first: a refresh landing after the
        // release could take the lease again.
        if let Some(refresher) = self.refresher.take() {
            refresher.stop();
        }
        // Releasing with a nonce is idempotent (a repeat gets "not found"),
        // so it may be retried like a GET; flyctl retries it too.
        let request =
            Request::flaps(Method::DELETE, &["apps", &self.app, "machines", &self.machine_id, "lease"]).nonce(Some(&self.nonce)).retry(Retry::Idempotent);
        match self.client.http().send(&request) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() || e.to_string().contains("lease not found") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            tracing::warn!(machine_id = %self.machine_id, error = %e, "failed to release the machine lease; it expires on its own");
        }
    }
}

/// The background refresh thread and its stop signal.
#[derive(Debug)]
struct Refresher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: JoinHandle<()>,
}

impl Refresher {
    fn start(guard: &LeaseGuard, ttl: Duration) -> Option<Self> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let client = guard.client.clone();
        let (app, machine_id, nonce) = (guard.app.clone(), guard.machine_id.clone(), guard.nonce.clone());
        let secs = ttl_secs(ttl);
        // flyctl: every (ttl - 1s) / 3, i.e. ~4 s for 13 s.
        let ttl = Duration::from_secs(secs);
        let interval = ttl.checked_sub(Duration::from_secs(1)).filter(|d| !d.is_zero()).unwrap_or(ttl) / 3;
        let spawned = thread::Builder::new().name(format!("fly-lease-{}", guard.machine_id)).spawn(move || {
            let (stopped, condvar) = &*signal;
            loop {
                // ±10 % so many leases do not refresh in lockstep.
                let pause = interval.mul_f64(0.9 + 0.2 * jitter_fraction());
                let flag = stopped.lock().unwrap_or_else(|e| e.into_inner());
                let (flag, _) = condvar.wait_timeout_while(flag, pause, |s| !*s).unwrap_or_else(|e| e.into_inner());
                if *flag {
                    return;
                }
                drop(flag);
                let request = Request::flaps(Method::POST, &["apps", &app, "machines", &machine_id, "lease"])
                    .query("ttl", secs.to_string())
                    .nonce(Some(&nonce))
                    .timeout(client.config().request_timeout.min(ttl));
                match client.http().send(&request).and_then(|r| r.json::<Lease>()) {
                    Ok(lease) if granted_nonce(&lease) == Some(nonce.as_str()) => {}
                    Ok(lease) => {
                        tracing::warn!(%machine_id, status = %lease.status, message = %lease.message, "lease refresh did not confirm our lease")
                    }
                    Err(e) => tracing::warn!(%machine_id, error = %e, "lease refresh failed"),
                }
            }
        });
        match spawned {
            Ok(handle) => Some(Refresher { stop, handle }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the lease refresh thread; the lease will expire after its TTL");
                None
            }
        }
    }

    fn stop(self) {
        let (stopped, condvar) = &*self.stop;
        *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
        condvar.notify_all();
        if self.handle.join().is_err() {
            tracing::warn!("lease refresh thread panicked");
        }
    }
}
