//! One lock per app, so two runs never interleave their actions.
//!
//! A lock has an owner (one process of a run: in CI the run, attempt, job
//! and a per-process nonce) and an expiry. The holder refreshes it while it
//! works (ferry's engine does so from a thread, every third of the TTL), and
//! a refresh that finds the lock taken over is [`LockError::Lost`]: the
//! holder stops. A run that was cancelled or killed stops refreshing, and
//! the next run takes the lock over once it has expired — nobody has to
//! clean up by hand. Every change is a compare-and-swap on the store, so two
//! runs racing for a free lock cannot both win.

use serde::{Deserialize, Serialize};

use crate::{Format, StateStore, StoreError, Version, read_format_json, write_json};

/// The version of the lock record's JSON shape. Records written before it
/// existed have no `format` and are read as this one.
pub const LOCK_FORMAT: u32 = 1;

const FORMAT: Format = Format { kind: "lock", reads: LOCK_FORMAT };

fn lock_format() -> u32 {
    LOCK_FORMAT
}

/// What is stored at `locks/<app>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    #[serde(default = "lock_format")]
    pub format: u32,
    /// Who holds it: a run id (in CI: the run, attempt, job and process).
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
    /// The record `who` holds from `now_ms` for `ttl_ms`.
    pub fn new(who: &Holder, now_ms: u64, ttl_ms: u64) -> LockRecord {
        LockRecord {
            format: LOCK_FORMAT,
            owner: who.owner.to_string(),
            purpose: who.purpose.to_string(),
            url: who.url.map(str::to_string),
            acquired_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
            host: who.host.map(str::to_string),
            pid: who.pid,
        }
    }

    /// Whether `who` is the holder: the same owner, machine and process.
    pub fn held_by(&self, who: &Holder) -> bool {
        self.owner == who.owner && self.host.as_deref() == who.host && self.pid == who.pid
    }

    /// Why the lock may be taken over at `now_ms` by a process on
    /// `this_host`, if it may: it expired, or its holder's process is gone
    /// from this machine.
    pub fn stale_because(&self, now_ms: u64, this_host: Option<&str>) -> Option<String> {
        if self.expires_at_ms <= now_ms {
            return Some(format!("it expired {} s ago", (now_ms - self.expires_at_ms) / 1000));
        }
        match (this_host, &self.host, self.pid) {
            (Some(here), Some(host), Some(pid)) if self.holder_gone(here) => Some(format!("its process {pid} on {host} is gone")),
            _ => None,
        }
    }

    /// "owner (purpose, url)", for messages that name the holder.
    pub fn describe(&self) -> String {
        let url = self.url.as_deref().map(|u| format!(", {u}")).unwrap_or_default();
        format!("{} ({}{url})", self.owner, self.purpose)
    }

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
    /// Found when renewing: another run holds the lock now (it expired, or
    /// someone ran `ferry unlock`). The run stops: no further action runs.
    #[error(
        "the lock on {app} was taken over by {holder} while this run held it; this run stopped and runs no further \
         action (the journal says what was done)"
    )]
    Lost { app: String, holder: String },
    /// The lock document exists but cannot be read: nobody can tell who
    /// holds it, so nobody takes it. (`why` is part of the message, not a
    /// `source`: it would be printed twice.)
    #[error("{why}; if no ferry run is working on {app}, remove the lock with `ferry unlock --app {app}`")]
    Unreadable { app: String, why: StoreError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `ferry unlock` removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removed {
    /// A lock record, with its holder.
    Lock(LockRecord),
    /// A document at the lock's key that could not be read (why, and its size).
    Unreadable { reason: String, bytes: usize },
}

/// A random id for this process, so two processes of one CI job (a
/// matrix's jobs share the run, the attempt and even the job name) are
/// different owners. Drawn once, from the operating system.
pub fn process_nonce() -> &'static str {
    static NONCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NONCE.get_or_init(|| {
        let mut bytes = [0u8; 6];
        match getrandom::fill(&mut bytes) {
            Ok(()) => hex::encode(bytes),
            // No entropy source: the pid and the clock still differ between processes.
            Err(_) => {
                let ns = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
                format!("{:06x}{:06x}", std::process::id() & 0xff_ffff, ns & 0xff_ffff)
            }
        }
    })
}

/// The lock record at `key`, refusing one that cannot be read.
fn read_record(store: &dyn StateStore, app: &str, key: &str) -> Result<Option<(LockRecord, Version)>, LockError> {
    read_format_json::<LockRecord>(store, key, FORMAT).map_err(|e| match e {
        e if e.is_unreadable_document() => LockError::Unreadable { app: app.to_string(), why: e },
        e => LockError::Store(e),
    })
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
pub fn acquire(store: &dyn StateStore, app: &str, who: &Holder, ttl_ms: u64, now_ms: u64, is_stale: &dyn Fn(&LockRecord) -> bool) -> Result<Lock, LockError> {
    let key = key(app);
    let owner = who.owner;
    loop {
        let current = read_record(store, app, &key)?;
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
        let record = LockRecord::new(who, now_ms, ttl_ms);
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

    pub fn app(&self) -> &str {
        &self.app
    }

    /// How long the lock lives without a refresh.
    pub fn ttl_ms(&self) -> u64 {
        self.ttl_ms
    }

    /// Extends the expiry; fails with [`LockError::Lost`] if the lock is
    /// no longer this run's (another run took it, or it was removed).
    pub fn refresh(&mut self, store: &dyn StateStore, now_ms: u64) -> Result<(), LockError> {
        let next = LockRecord { expires_at_ms: now_ms + self.ttl_ms, ..self.record.clone() };
        match write_json(store, &self.key, &next, Some(&self.version)) {
            Ok(version) => {
                self.version = version;
                self.record = next;
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => {
                let holder = match read_record(store, &self.app, &self.key) {
                    Ok(Some((record, _))) => record.describe(),
                    Ok(None) => "nobody: the lock was removed (`ferry unlock`?)".into(),
                    Err(e) => format!("an unknown holder ({e})"),
                };
                Err(LockError::Lost { app: self.app.clone(), holder })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub fn release(self, store: &dyn StateStore) -> Result<(), LockError> {
        match store.delete(&self.key, &self.version) {
            Ok(()) | Err(StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Removes the lock on `app` whatever it holds (`ferry unlock`), even a
/// document that cannot be read: that is the way out when a lock file is
/// corrupted. Returns what it removed.
pub fn force_unlock(store: &dyn StateStore, app: &str) -> Result<Option<Removed>, LockError> {
    let key = key(app);
    // Each attempt deletes the version it read; another writer in between
    // (a run refreshing the lock) means reading again.
    const ATTEMPTS: u32 = 20;
    for _ in 0..ATTEMPTS {
        let (removed, version) = match store.read(&key) {
            Ok(None) => return Ok(None),
            Ok(Some((bytes, version))) => match crate::parse_format_json::<LockRecord>(&bytes, FORMAT) {
                Ok(record) => (Removed::Lock(record), version),
                Err(reason) => (Removed::Unreadable { reason, bytes: bytes.len() }, version),
            },
            // Not signed with the state key: removing it is the way out.
            Err(e) => match &e {
                StoreError::Unverified { version, .. } => (Removed::Unreadable { reason: e.to_string(), bytes: 0 }, version.clone()),
                StoreError::Conflict { .. } | StoreError::Backend { .. } | StoreError::Invalid { .. } | StoreError::Format { .. } => {
                    return Err(e.into());
                }
            },
        };
        match store.delete(&key, &version) {
            Ok(()) => return Ok(Some(removed)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict { key }.into())
}

/// The lock on `app`, if any.
pub fn current(store: &dyn StateStore, app: &str) -> Result<Option<LockRecord>, LockError> {
    Ok(read_record(store, app, &key(app))?.map(|(r, _)| r))
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
        first.refresh(&s, 6_000).unwrap();
        assert!(acquire(&s, "shop", &who("run-2", None), 10_000, 15_000, &never).is_err(), "refreshed until 16s");
        let second = acquire(&s, "shop", &who("run-2", None), 10_000, 17_000, &never).unwrap();
        assert_eq!(second.took_over_from.as_ref().map(|r| r.owner.as_str()), Some("run-1"));
        let err = first.refresh(&s, 17_500).unwrap_err();
        assert!(matches!(err, LockError::Lost { ref holder, .. } if holder == "run-2 (apply deploy)"), "{err}");
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
    fn a_record_names_why_it_is_stale_and_who_holds_it() {
        let mut dead = std::process::Command::new("true").spawn().unwrap();
        let pid = dead.id();
        dead.wait().unwrap();
        let holder = Holder { owner: "run-1", purpose: "deploy", url: None, host: Some("box"), pid: Some(pid) };
        let record = LockRecord::new(&holder, 1_000, 60_000);
        assert!(record.held_by(&holder));
        assert!(!record.held_by(&Holder { pid: Some(pid + 1), ..holder.clone() }), "the same owner in another process does not hold it");
        assert_eq!(record.stale_because(61_000, None).as_deref(), Some("it expired 0 s ago"));
        assert_eq!(record.stale_because(2_000, Some("box")), Some(format!("its process {pid} on box is gone")));
        assert_eq!(record.stale_because(2_000, Some("elsewhere")), None, "a process on another machine is not presumed gone");
    }

    #[test]
    fn the_same_owner_may_take_its_own_lock_again() {
        let (_d, s) = store();
        acquire(&s, "shop", &who("run-1", None), 10_000, 0, &never).unwrap();
        acquire(&s, "shop", &who("run-1", None), 10_000, 1, &never).unwrap();
        assert!(matches!(force_unlock(&s, "shop").unwrap(), Some(Removed::Lock(r)) if r.owner == "run-1"));
        assert!(current(&s, "shop").unwrap().is_none());
    }

    #[test]
    fn a_lock_removed_underneath_its_holder_is_lost() {
        let (_d, s) = store();
        let mut first = acquire(&s, "shop", &who("run-1", None), 10_000, 0, &never).unwrap();
        force_unlock(&s, "shop").unwrap();
        let err = first.refresh(&s, 1_000).unwrap_err().to_string();
        assert!(err.contains("taken over by nobody: the lock was removed"), "{err}");
        let _second = acquire(&s, "shop", &who("run-2", Some("https://ci/2")), 10_000, 1_500, &never).unwrap();
        let err = first.refresh(&s, 2_000).unwrap_err().to_string();
        assert!(err.starts_with("the lock on shop was taken over by run-2 (apply deploy, https://ci/2)"), "{err}");
    }

    #[test]
    fn a_record_without_a_format_is_read_and_another_format_is_refused() {
        let (_d, s) = store();
        let old = br#"{"owner":"run-0","purpose":"apply","url":null,"acquired_at_ms":0,"expires_at_ms":1}"#;
        s.write("locks/shop.json", old, None).unwrap();
        assert_eq!(current(&s, "shop").unwrap().unwrap().format, LOCK_FORMAT, "records from before `format` existed");
        let (_, v) = s.read("locks/shop.json").unwrap().unwrap();
        let newer = br#"{"format":99,"owner":"run-9","purpose":"apply","url":null,"acquired_at_ms":0,"expires_at_ms":1}"#;
        s.write("locks/shop.json", newer, Some(&v)).unwrap();
        let err = acquire(&s, "shop", &who("run-1", None), 10_000, 5, &never).unwrap_err().to_string();
        assert!(err.contains("is a lock of format 99, and this ferry reads locks of format 1 only"), "{err}");
        assert!(err.contains("ferry unlock --app shop"), "{err}");
    }
}
