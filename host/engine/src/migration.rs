//! A migration to a new Fly app (`ferry migrate`): the record `create`
//! keeps in the state store, its phases in order, and which of them may run
//! when. Each phase is planned by the built-in `migrate` step and applied
//! into one journaled run named by the migration's id; the CLI only shows
//! the results and the next command.

use ferry_state::{StateStore, StoreError};
use serde::{Deserialize, Serialize};

/// The phases after `create`, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The new app built beside the old one.
    Prepare,
    /// The old app stopped and its volumes copied.
    Data,
    /// DNS moved to the new app.
    Finalize,
    /// The old app deleted: nothing moves back after it.
    Decommission,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Prepare, Phase::Data, Phase::Finalize, Phase::Decommission];

    /// The name the migrate step plans it by, and the CLI's subcommand.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Prepare => "prepare",
            Phase::Data => "data",
            Phase::Finalize => "finalize",
            Phase::Decommission => "decommission",
        }
    }

    /// The phase that must be applied before this one. `data` is optional:
    /// an app without volumes goes from prepare to finalize.
    pub fn needs(self) -> Option<Phase> {
        match self {
            Phase::Prepare => None,
            Phase::Data | Phase::Finalize => Some(Phase::Prepare),
            Phase::Decommission => Some(Phase::Finalize),
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("`{0}` is not a migration id (mig- and hex digits)")]
    BadId(String),
    #[error("no migration {id} in {store}: `ferry migrate create` makes one")]
    NotFound { id: String, store: String },
    #[error("migration {id} was aborted")]
    Aborted { id: String },
    #[error("migration {id} has not applied {needs} yet")]
    NotYet { id: String, needs: Phase },
    #[error("migration {id} deleted {from} in decommission: there is nothing to move back to")]
    Decommissioned { id: String, from: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `create` recorded: every phase plans from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    pub id: String,
    pub from: String,
    pub to: String,
    pub org: String,
    pub region: Option<String>,
    pub regions: Option<String>,
    pub image: Option<String>,
    pub dns_zone: Option<String>,
    /// The Fly Postgres app a move to a server deletes at decommission
    /// (absent from records older than it).
    #[serde(default)]
    pub postgres_app: Option<String>,
    pub created_at_ms: u64,
    /// Phases applied, in the order they were.
    pub applied: Vec<Phase>,
    pub aborted: bool,
}

impl Migration {
    /// `mig-` and 8 hex digits from the clock and the process.
    pub fn new_id() -> String {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let seed = u64::try_from(nanos & u128::from(u64::MAX)).unwrap_or(0) ^ (u64::from(std::process::id()) << 32);
        format!("mig-{:08x}", seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32)
    }

    pub fn has_applied(&self, phase: Phase) -> bool {
        self.applied.contains(&phase)
    }

    /// Whether `phase` may be planned and applied now: not after an abort,
    /// and not before the phase it needs.
    pub fn may_run(&self, phase: Phase) -> Result<(), MigrationError> {
        if self.aborted {
            return Err(MigrationError::Aborted { id: self.id.clone() });
        }
        match phase.needs().filter(|needs| !self.has_applied(*needs)) {
            Some(needs) => Err(MigrationError::NotYet { id: self.id.clone(), needs }),
            None => Ok(()),
        }
    }

    /// Whether the migration can still be undone: until decommission.
    pub fn may_abort(&self) -> Result<(), MigrationError> {
        if self.has_applied(Phase::Decommission) {
            return Err(MigrationError::Decommissioned { id: self.id.clone(), from: self.from.clone() });
        }
        Ok(())
    }

    /// Records `phase` as applied (once); true when it was not yet, so the
    /// record needs saving.
    pub fn record_applied(&mut self, phase: Phase) -> bool {
        let new = !self.has_applied(phase);
        if new {
            self.applied.push(phase);
        }
        new
    }

    /// The first phase not applied yet; `None` when all are, or after an abort.
    pub fn next_phase(&self) -> Option<Phase> {
        if self.aborted {
            return None;
        }
        Phase::ALL.into_iter().find(|p| !self.has_applied(*p))
    }

    /// The migrate step's parameters for this migration.
    pub fn params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![("id", self.id.clone()), ("to", self.to.clone()), ("org", self.org.clone())];
        let optional = [
            ("from", Some(&self.from).filter(|f| !f.is_empty())),
            ("region", self.region.as_ref()),
            ("regions", self.regions.as_ref()),
            ("image", self.image.as_ref()),
            ("dns-zone", self.dns_zone.as_ref()),
            ("postgres-app", self.postgres_app.as_ref()),
        ];
        params.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v.clone()))));
        params
    }

    fn key(id: &str) -> String {
        format!("migrations/{id}.json")
    }

    pub fn load(store: &dyn StateStore, id: &str) -> Result<Migration, MigrationError> {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(MigrationError::BadId(id.to_string()));
        }
        match ferry_state::read_json::<Migration>(store, &Self::key(id))? {
            Some((m, _)) => Ok(m),
            None => Err(MigrationError::NotFound { id: id.to_string(), store: store.describe() }),
        }
    }

    pub fn save(&self, store: &dyn StateStore) -> Result<(), MigrationError> {
        let key = Self::key(&self.id);
        let version = store.read(&key)?.map(|(_, v)| v);
        ferry_state::write_json(store, &key, self, version.as_ref())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn migration() -> Migration {
        Migration {
            id: "mig-0000beef".into(),
            from: "shop".into(),
            to: "shop-v2".into(),
            org: "personal".into(),
            region: None,
            regions: None,
            image: None,
            dns_zone: Some("example.com.".into()),
            postgres_app: None,
            created_at_ms: 0,
            applied: Vec::new(),
            aborted: false,
        }
    }

    #[test]
    fn phases_run_after_the_phase_they_need_and_data_is_optional() {
        let mut m = migration();
        assert!(matches!(m.may_run(Phase::Finalize), Err(MigrationError::NotYet { needs: Phase::Prepare, .. })));
        assert!(m.may_run(Phase::Prepare).is_ok());
        assert!(m.record_applied(Phase::Prepare));
        assert!(!m.record_applied(Phase::Prepare), "already recorded");
        assert_eq!(m.applied, [Phase::Prepare], "recorded once");
        assert!(m.may_run(Phase::Finalize).is_ok(), "an app without volumes skips data");
        assert!(matches!(m.may_run(Phase::Decommission), Err(MigrationError::NotYet { needs: Phase::Finalize, .. })));
        assert_eq!(m.next_phase(), Some(Phase::Data));
        m.record_applied(Phase::Finalize);
        m.record_applied(Phase::Decommission);
        assert!(matches!(m.may_abort(), Err(MigrationError::Decommissioned { .. })));
    }

    #[test]
    fn nothing_runs_after_an_abort() {
        let m = Migration { aborted: true, ..migration() };
        assert!(matches!(m.may_run(Phase::Prepare), Err(MigrationError::Aborted { .. })));
        assert_eq!(m.next_phase(), None);
    }

    #[test]
    fn the_record_keeps_phase_names_as_text_and_round_trips_through_a_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = ferry_state::DirStore::open(dir.path().join("state")).unwrap();
        let mut m = migration();
        m.record_applied(Phase::Prepare);
        m.save(&store).unwrap();
        m.record_applied(Phase::Data);
        m.save(&store).unwrap();
        assert_eq!(Migration::load(&store, &m.id).unwrap(), m);
        assert_eq!(serde_json::to_value(&m).unwrap()["applied"], serde_json::json!(["prepare", "data"]));
        assert!(matches!(Migration::load(&store, "../../etc"), Err(MigrationError::BadId(_))));
        assert!(matches!(Migration::load(&store, "mig-00000000"), Err(MigrationError::NotFound { .. })));
    }
}
