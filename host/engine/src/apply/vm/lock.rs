//! The host lock every deploy to a VM holds: one file, `<root>/.ferry.lock`,
//! holding its owner and an expiry the holder pushes forward with every
//! action. Kamal's users meet locks left by a killed run that block every
//! later deploy until someone removes them by hand; here a lock is stale,
//! and taken over, once it expired or once its owner's process is gone
//! from this machine.

use serde::{Deserialize, Serialize};

use crate::apply::{Owner, now_ms};

/// What the lock file holds (one line of JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLock {
    pub owner: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub pid: Option<u32>,
    pub expires_ms: u64,
}

impl HostLock {
    pub fn mine(owner: &Owner, ttl_ms: u64) -> Self {
        HostLock { owner: owner.id.clone(), url: owner.url.clone(), host: owner.host.clone(), pid: owner.pid, expires_ms: now_ms().saturating_add(ttl_ms) }
    }

    pub fn held_by(&self, owner: &Owner) -> bool {
        self.owner == owner.id && self.host == owner.host && self.pid == owner.pid
    }

    /// Why the lock may be taken over, if it may.
    pub fn stale_because(&self, now_ms: u64) -> Option<String> {
        if self.expires_ms <= now_ms {
            return Some(format!("it expired {} s ago", (now_ms - self.expires_ms) / 1000));
        }
        let here = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).ok();
        match (self.pid, &self.host) {
            (Some(pid), Some(host)) if Some(host) == here.as_ref() && !std::path::Path::new(&format!("/proc/{pid}")).exists() => {
                Some(format!("its process {pid} on {host} is gone"))
            }
            _ => None,
        }
    }

    /// "ferry run 42 (https://…)" or "ferry on host pid 7".
    pub fn describe(&self) -> String {
        match (&self.url, &self.host, self.pid) {
            (Some(url), _, _) => format!("{} ({url})", self.owner),
            (None, Some(host), Some(pid)) => format!("{} on {host}, pid {pid}", self.owner),
            _ => self.owner.clone(),
        }
    }
}

/// The sh script that creates the lock file only if there is none
/// (noclobber makes the create atomic) and otherwise prints the holder.
pub fn try_create_script(path: &str, line: &str) -> String {
    let (path, line) = (ferry_ssh::shell_quote(path), ferry_ssh::shell_quote(line));
    format!("mkdir -p \"$(dirname {path})\" && if ( set -C; printf '%s\\n' {line} > {path} ) 2>/dev/null; then echo acquired; else cat {path}; fi")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(id: &str) -> Owner {
        Owner { id: id.into(), url: None, host: Some("ci-box".into()), pid: Some(1) }
    }

    #[test]
    fn a_lock_is_stale_once_expired_and_held_only_by_its_owner() {
        let lock = HostLock::mine(&owner("run-1"), 60_000);
        assert!(lock.held_by(&owner("run-1")) && !lock.held_by(&owner("run-2")));
        assert_eq!(lock.stale_because(now_ms()), None, "pid 1 on another host: only expiry counts");
        assert!(lock.stale_because(lock.expires_ms + 5_000).unwrap().contains("expired 5 s ago"));
        let line = serde_json::to_string(&lock).unwrap();
        assert_eq!(serde_json::from_str::<HostLock>(&line).unwrap(), lock);
        assert!(try_create_script("/srv/.ferry.lock", &line).contains("set -C"));
    }
}
