//! The journal as a document in the state store: `journal/<app>/<run>.json`,
//! written with compare-and-swap after every event.

use crate::journal::{JOURNAL_FORMAT, Journal, PhaseRecord};
use ferry_state::{Format, StateStore, Version, read_format_json, write_json};

use super::ApplyError;

/// Journals of another format (a newer ferry's) are refused, not misread.
const FORMAT: Format = Format { kind: "journal", reads: JOURNAL_FORMAT };

pub(super) struct Doc {
    key: String,
    pub(super) journal: Journal,
    version: Option<Version>,
}

fn key(app: &str, run: &str) -> String {
    format!("journal/{app}/{run}.json")
}

impl Doc {
    pub(super) fn load(store: &dyn StateStore, app: &str, run: &str) -> Result<Self, ApplyError> {
        let key = key(app, run);
        Ok(match read_format_json::<Journal>(store, &key, FORMAT)? {
            Some((journal, version)) => Doc { key, journal, version: Some(version) },
            None => Doc { key, journal: Journal::new(app, run), version: None },
        })
    }

    pub(super) fn is_new(&self) -> bool {
        self.version.is_none()
    }

    pub(super) fn save(&mut self, store: &dyn StateStore) -> Result<(), ApplyError> {
        self.version = Some(write_json(store, &self.key, &self.journal, self.version.as_ref())?);
        Ok(())
    }

    pub(super) fn phase(&self, phase: &str) -> &PhaseRecord {
        self.journal.phases.iter().rev().find(|p| p.phase == phase).expect("the phase was added before use")
    }

    pub(super) fn phase_mut(&mut self, phase: &str) -> &mut PhaseRecord {
        self.journal.phase_mut(phase).expect("the phase was added before use")
    }
}

/// A run's journal, if it exists.
pub fn load_journal(store: &dyn StateStore, app: &str, run: &str) -> Result<Option<Journal>, ApplyError> {
    Ok(read_format_json::<Journal>(store, &key(app, run), FORMAT)?.map(|(j, _)| j))
}

/// The run of `app` whose latest phase started last. A journal that cannot
/// be read (corrupted, or of another format) is skipped with a warning that
/// names it: one bad file must not block every other run of the app; it
/// still fails loudly when that very run is asked for.
pub fn latest_run(store: &dyn StateStore, app: &str) -> Result<Option<String>, ApplyError> {
    latest_run_where(store, app, |_| true)
}

/// The newest run of `app` whose journal `wanted` accepts.
pub fn latest_run_where(store: &dyn StateStore, app: &str, wanted: impl Fn(&Journal) -> bool) -> Result<Option<String>, ApplyError> {
    let folder = format!("journal/{app}/");
    let mut best: Option<(u64, String)> = None;
    for k in store.list(&folder)? {
        // The run is named by the key, not by what the document claims.
        let Some(run) = k.strip_prefix(&folder).and_then(|rest| rest.strip_suffix(".json")).filter(|r| !r.contains('/')) else { continue };
        let journal = match read_format_json::<Journal>(store, &k, FORMAT) {
            Ok(Some((journal, _))) => journal,
            Ok(None) => continue,
            Err(e) if e.is_unreadable_document() => {
                tracing::warn!("skipping a journal that cannot be read: {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if !wanted(&journal) {
            continue;
        }
        let started = journal.phases.iter().map(|p| p.started_at_ms).max().unwrap_or(0);
        if best.as_ref().is_none_or(|(t, _)| started >= *t) {
            best = Some((started, run.to_string()));
        }
    }
    Ok(best.map(|(_, run)| run))
}

/// The apps that have a journal of `run`: how `ferry abort --run` finds a
/// run whose app is not the one fly.toml names now (a migration renames
/// it; a workflow without parse-config keeps it under `app`).
pub fn apps_with_run(store: &dyn StateStore, run: &str) -> Result<Vec<String>, ApplyError> {
    let suffix = format!("/{run}.json");
    Ok(store
        .list("journal/")?
        .into_iter()
        .filter_map(|k| k.strip_prefix("journal/").and_then(|rest| rest.strip_suffix(&suffix)).filter(|app| !app.contains('/')).map(str::to_string))
        .collect())
}
