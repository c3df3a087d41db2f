//! Machine process output, kept per machine for the logs API.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::SystemTime;

/// Lines kept per machine; older ones are dropped.
const LINES_PER_MACHINE: usize = 1000;

#[derive(Debug, Default)]
pub struct LogStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Global sequence; the logs API's `next_token` is the last seq returned.
    seq: u64,
    /// (app, machine id) → lines, oldest first.
    machines: HashMap<(String, String), VecDeque<LogLine>>,
}

#[derive(Debug, Clone)]
pub struct LogLine {
    pub seq: u64,
    pub timestamp: SystemTime,
    pub message: String,
    /// `info` for stdout, `error` for stderr.
    pub level: &'static str,
    pub instance: String,
    pub region: String,
}

impl LogStore {
    pub fn push(&self, app: &str, machine: &str, region: &str, level: &'static str, message: String) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.seq += 1;
        let line = LogLine { seq: inner.seq, timestamp: SystemTime::now(), message, level, instance: machine.to_string(), region: region.to_string() };
        let lines = inner.machines.entry((app.to_string(), machine.to_string())).or_default();
        if lines.len() == LINES_PER_MACHINE {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// Lines of `app` (optionally one machine) after sequence `after`, oldest
    /// first, at most `limit`.
    pub fn query(&self, app: &str, instance: Option<&str>, after: u64, limit: usize) -> Vec<LogLine> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines: Vec<LogLine> = inner
            .machines
            .iter()
            .filter(|((line_app, machine), _)| line_app == app && instance.is_none_or(|wanted| wanted == machine))
            .flat_map(|(_, lines)| lines.iter().filter(|line| line.seq > after).cloned())
            .collect();
        lines.sort_by_key(|line| line.seq);
        lines.truncate(limit);
        lines
    }

    /// Drops an app's logs (the app was deleted; a new app may reuse the name).
    pub fn forget_app(&self, app: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.machines.retain(|(line_app, _), _| line_app != app);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_by_sequence_and_filters_by_instance() {
        let store = LogStore::default();
        store.push("app", "m1", "iad", "info", "one".into());
        store.push("app", "m2", "iad", "info", "two".into());
        store.push("other", "m3", "iad", "info", "elsewhere".into());
        store.push("app", "m1", "iad", "error", "three".into());
        let all: Vec<_> = store.query("app", None, 0, 10).into_iter().map(|l| l.message).collect();
        assert_eq!(all, ["one", "two", "three"]);
        let m1 = store.query("app", Some("m1"), 0, 10);
        assert_eq!(m1.len(), 2);
        let after_first = store.query("app", Some("m1"), m1[0].seq, 10);
        assert_eq!(after_first[0].message, "three");
        assert_eq!(store.query("app", None, 0, 1).len(), 1);
    }

    #[test]
    fn keeps_the_last_lines_of_each_machine() {
        let store = LogStore::default();
        for i in 0..LINES_PER_MACHINE + 5 {
            store.push("app", "m1", "iad", "info", i.to_string());
        }
        let lines = store.query("app", None, 0, usize::MAX);
        assert_eq!(lines.len(), LINES_PER_MACHINE);
        assert_eq!(lines[0].message, "5");
        store.forget_app("app");
        assert!(store.query("app", None, 0, usize::MAX).is_empty());
    }
}
