//! One lock per app, so two runs never interleave their actions.
//!
//! A lock has an owner (the run, e.g. a GitHub Actions run URL) and an
//! expiry. The holder refreshes it while it works; a run that was cancelled
//! or killed stops refreshing, and the next run takes the lock over once it
//! has expired — nobody has to clean up by hand. Every change is a
//! compare-and-swap on the store, so two runs racing for a free lock cannot
//! both win.

use serde::{Deserialize, Serialize};

use crate::{StateStore, StoreError, Version, read_json, write_json};

/// What is stored at `locks/<app>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// Who holds it: a run id.
    pub owner: String,
    /// What it is for, e.g. `apply deploy` or `abort`.
    pub purpose: String,
    /// Where to look at the holder (a CI run URL), if known.
    pub url: Option<String>,
    pub acquired_at_ms: u64,
    pub expires_at_ms: u64,
    /// The machine and process holding it, when it runs outside CI: a lock
    /// whose process is gone from this machine is stale at once.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub pid: Option<u32>,
}

impl LockRecord {
    /// True when the holder is known to be gone: it ran on `host` as a
    /// process that no longer exists.
    pub fn holder_gone(&self, this_host: &str) -> bool {
        match (&self.host, self.pid) {
            (Some(host), Some(pid)) if host == this_host => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            _ => false,
        }
    }
}

/// Who asks for a lock.
#[derive(Clone, Debug)]
pub struct Holder<'a> {
    pub owner: &'a str,
    pub purpose: &'a str,
    pub url: Option<&'a str>,
    pub host: Option<&'a str>,
    pub pid: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{app} is locked by {owner} ({purpose}{url}) for another {}s; wait for it, or if that run is gone, \
         run `ferry unlock --app {app}` after checking",
        expires_in_ms / 1000
    )]
    Held { app: String, owner: String, purpose: String, url: String, expires_in_ms: u64 },
    #[error("the lock on {app} was taken over by {owner} while this run held it; stopping")]
    Lost { app: String, owner: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A held lock. Release it with [`Lock::release`]; dropping it without
/// release leaves it to expire.
#[derive(Debug)]
pub struct Lock {
    key: String,
    app: String,
    record: LockRecord,
    version: Version,
    ttl_ms: u64,
    /// The owner whose expired lock this one replaced, if any.
    pub took_over_from: Option<LockRecord>,
}

fn key(app: &str) -> String {
    format!("locks/{app}.json")
}

/// Takes the lock on `app`, or fails naming who holds it. A lock is taken
/// over when it expired, or when `is_stale` says its holder is gone (a
/// process that died on this machine, a CI run that finished).
pub fn acquire(
    store: &dyn StateStore,
    app: &str,
    who: &Holder,
    ttl_ms: u64,
    now_ms: u64,
    is_stale: &dyn Fn(&LockRecord) -> bool,
) -> Result<Lock, LockError> {
    let key = key(app);
    let owner = who.owner;
    loop {
        let current = read_json::<LockRecord>(store, &key)?;
        let (expected, took_over_from) = match current {
            Some((held, _)) if held.owner != owner && held.expires_at_ms > now_ms && !is_stale(&held) => {
                return Err(LockError::Held {
                    app: app.to_string(),
                    url: held.url.as_deref().map(|u| format!(", {u}")).unwrap_or_default(),
                    owner: held.owner,
                    purpose: held.purpose,
                    expires_in_ms: held.expires_at_ms - now_ms,
                });
            }
            Some((held, version)) if held.owner != owner => (Some(version), Some(held)),
            Some((_, version)) => (Some(version), None),
            None => (None, None),
        };
        let record = LockRecord {
            owner: owner.to_string(),
            purpose: who.purpose.to_string(),
            url: who.url.map(str::to_string),
            acquired_at_ms: now_ms,
            expires_at_ms: now_ms + ttl_ms,
            host: who.host.map(str::to_string),
            pid: who.pid,
        };
        match write_json(store, &key, &record, expected.as_ref()) {
            Ok(version) => return Ok(Lock { key, app: app.to_string(), record, version, ttl_ms, took_over_from }),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

impl Lock {
    pub fn record(&self) -> &LockRecord {
        &self.record
    }

    /// Extends the expiry; fails if another run took the lock meanwhile.
    pub fn refresh(&mut self, store: &dyn StateStore, now_ms: u64) -> Result<(), LockError> {
        let next = LockRecord { expires_at_ms: now_ms + self.ttl_ms, ..self.record.clone() };
        match write_json(store, &self.key, &next, Some(&self.version)) {
            Ok(version) => {
                self.version = version;
                self.record = next;
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => {
                let owner = read_json::<LockRecord>(store, &self.key)?.map(|(r, _)| r.owner).unwrap_or_else(|| "nobody".into());
                Err(LockError::Lost { app: self.app.clone(), owner })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// True when half the lifetime has passed: time to refresh.
    pub fn due(&self, now_ms: u64) -> bool {
        now_ms + self.ttl_ms / 2 >= self.record.expires_at_ms
    }

    pub fn release(self, store: &dyn StateStore) -> Result<(), LockError> {
        match store.delete(&self.key, &self.version) {
            Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Removes a lock regardless of its owner (`ferry unlock`); returns what it held.
pub fn force_unlock(store: &dyn StateStore, app: &str) -> Result<Option<LockRecord>, LockError> {
    let key = key(app);
    match read_json::<LockRecord>(store, &key)? {
        Some((record, version)) => {
            store.delete(&key, &version)?;
            Ok(Some(record))
        }
        None => Ok(None),
    }
}

/// The lock on `app`, if any.
pub fn current(store: &dyn StateStore, app: &str) -> Result<Option<LockRecord>, LockError> {
    Ok(read_json::<LockRecord>(store, &key(app))?.map(|(r, _)| r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DirStore;

    fn who<'a>(owner: &'a str, url: Option<&'a str>) -> Holder<'a> {
        Holder { owner, purpose: "apply deploy", url, host: None, pid: None }
    }

    fn never(_: &LockRecord) -> bool {
        false
    }

    fn store() -> (tempfile::TempDir, DirStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn a_held_lock_refuses_others_and_names_its_owner() {
        let (_d, s) = store();
        let lock = acquire(&s, "shop", &who("run-1", Some("https://ci/run/1")), 60_000, 1_000, &never).unwrap();
        let err = acquire(&s, "shop", &who("run-2", None), 60_000, 2_000, &never).unwrap_err().to_string();
        assert!(err.starts_with("shop is locked by run-1 (apply deploy, https://ci/run/1) for another 59s"), "{err}");
        lock.release(&s).unwrap();
        acquire(&s, "shop", &who("run-2", None), 60_000, 3_000, &never).unwrap();
    }

    #[test]
    fn an_expired_lock_is_taken_over_and_its_old_holder_finds_out() {
        let (_d, s) = store();
        let mut first = acquire(&s, "shop", &who("run-1", None), 10_000, 0, &never).unwrap();
        assert!(first.due(6_000));
        first.refresh(&s, 6_000).unwrap();
        assert!(acquire(&s, "shop", &who("run-2", None), 10_000, 15_000, &never).is_err(), "refreshed until 16s");
        let second = acquire(&s, "shop", &who("run-2", None), 10_000, 17_000, &never).unwrap();
        assert_eq!(second.took_over_from.as_ref().map(|r| r.owner.as_str()), Some("run-1"));
        let err = first.refresh(&s, 17_500).unwrap_err();
        assert!(matches!(err, LockError::Lost { ref owner, .. } if owner == "run-2"), "{err}");
    }

    #[test]
    fn a_lock_whose_process_died_on_this_host_is_taken_over_at_once() {
        let (_d, s) = store();
        let mut dead = std::process::Command::new("true").spawn().unwrap();
        let pid = dead.id();
        dead.wait().unwrap();
        let holder = Holder { owner: "run-1", purpose: "apply", url: None, host: Some("box"), pid: Some(pid) };
        acquire(&s, "shop", &holder, 600_000, 0, &never).unwrap();
        let stale = |r: &LockRecord| r.holder_gone("box");
        let alive = Holder { owner: "run-2", purpose: "apply", url: None, host: Some("box"), pid: Some(std::process::id()) };
        let lock = acquire(&s, "shop", &alive, 600_000, 1, &stale).unwrap();
        assert_eq!(lock.took_over_from.unwrap().owner, "run-1");
        // A live holder on another host is not presumed dead.
        let other = Holder { owner: "run-3", purpose: "apply", url: None, host: Some("other"), pid: Some(1) };
        assert!(acquire(&s, "shop", &other, 600_000, 2, &|r: &LockRecord| r.holder_gone("other")).is_err());
    }

    #[test]
    fn the_same_owner_may_take_its_own_lock_again() {
        let (_d, s) = store();
        acquire(&s, "shop", &who("run-1", None), 10_000, 0, &never).unwrap();
        acquire(&s, "shop", &who("run-1", None), 10_000, 1, &never).unwrap();
        assert_eq!(force_unlock(&s, "shop").unwrap().unwrap().owner, "run-1");
        assert!(current(&s, "shop").unwrap().is_none());
    }
}
