//! What `ferry abort` would undo, shown (and hashed) before it undoes it.
//!
//! An abort is as much a change as an apply: undoing a first deploy deletes
//! the volumes it created. So it gets a plan of its own — each undo, newest
//! first, with the host's rating of what the undo does — that a person
//! reviews and names by hash, as they do an apply's plan.

use ferry_model::{Risk, Undo};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::journal::{ActionState, Journal, PhaseStatus};
use crate::policy::{describe_undo, undo_floor};

/// One undo an abort would run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedUndo {
    pub phase: String,
    pub action: String,
    /// The action being undone, as its plan said it.
    pub summary: String,
    /// What the undo does, in the host's words.
    pub undo: String,
    pub risk: Risk,
    /// Why the undo carries that risk.
    pub reason: &'static str,
    /// False when the run stopped inside the action: the undo runs only if
    /// the action turns out to have happened.
    pub certain: bool,
}

/// Every undo an abort of one run would run, newest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UndoPlan {
    pub app: String,
    pub run: String,
    pub started_at_ms: u64,
    pub undos: Vec<PlannedUndo>,
}

impl UndoPlan {
    /// What the abort will do, from the run's journal (phases already
    /// aborted or rolled back have nothing left to undo).
    pub fn of(journal: &Journal) -> Self {
        let mut undos = Vec::new();
        for record in journal.phases.iter().rev().filter(|r| !matches!(r.status, PhaseStatus::Aborted | PhaseStatus::RolledBack)) {
            for action in record.plan.actions().collect::<Vec<_>>().into_iter().rev() {
                let certain = match record.state(&action.id) {
                    ActionState::Done(_) => true,
                    ActionState::InDoubt(_) | ActionState::Failed(_) => false,
                    ActionState::Pending | ActionState::Undone => continue,
                };
                let floor = undo_floor(&action.operation, &action.undo);
                let undo = match &action.undo {
                    Undo::None(reason) => format!("nothing undoes it (the step says: {reason})"),
                    Undo::Run(_) | Undo::RestorePrevious => describe_undo(&action.operation, &action.undo),
                };
                undos.push(PlannedUndo {
                    phase: record.phase.clone(),
                    action: action.id.clone(),
                    summary: action.summary.clone(),
                    undo,
                    risk: floor.risk,
                    reason: floor.reason,
                    certain,
                });
            }
        }
        let started_at_ms = journal.phases.iter().map(|p| p.started_at_ms).min().unwrap_or(0);
        UndoPlan { app: journal.app.clone(), run: journal.run.clone(), started_at_ms, undos }
    }

    /// The sha256, in hex, of what the abort will run: the run and each
    /// undo (phase, action, what it does), in order. `ferry abort
    /// --plan-hash` checks it again under the lock.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(format!("abort {}\n", self.run));
        for u in &self.undos {
            hasher.update(format!("{}\0{}\0{}\0{}\n", u.phase, u.action, u.undo, u.certain));
        }
        hex::encode(hasher.finalize())
    }

    /// The highest risk among the undos.
    pub fn risk(&self) -> Risk {
        self.undos.iter().map(|u| u.risk).max().unwrap_or(Risk::Safe)
    }
}

#[cfg(test)]
mod tests {
    use crate::journal::{Event, PhaseRecord, UndoData};
    use ferry_model::{Action, FlyOp, FlyVolume, Operation, Plan, StepSection};

    use super::*;

    fn journal(status: PhaseStatus, events: &[(&str, Event)]) -> Journal {
        let volume = |id: &str| Action {
            id: id.into(),
            summary: format!("create volume {id}"),
            risk: Risk::Safe,
            operation: Operation::Fly(FlyOp::CreateVolume(FlyVolume {
                app: "shop".into(),
                name: id.into(),
                region: "ams".into(),
                size_gb: 1,
                compute: None,
                compute_image: None,
                snapshot_retention: None,
                auto_backup: None,
            })),
            undo: Undo::RestorePrevious,
            detail: None,
        };
        let mut plan = Plan::new("deploy");
        plan.steps.push(StepSection { step: "deploy".into(), version: "1".into(), actions: vec![volume("a"), volume("b"), volume("c")], findings: vec![] });
        let mut record = PhaseRecord { phase: "deploy".into(), plan_hash: plan.hash(), plan, status, started_at_ms: 5, entries: vec![] };
        for (action, event) in events {
            record.record(action, 1, event.clone());
        }
        Journal { format: 1, app: "shop".into(), run: "r1".into(), phases: vec![record] }
    }

    fn started() -> Event {
        Event::Started { undo: UndoData::Fly(crate::fly::ops::FlyUndo::Existing { ids: vec![] }) }
    }

    #[test]
    fn an_abort_undoes_what_happened_newest_first_rated_by_the_undo() {
        let done = Event::Done { duration_ms: 1, outputs: vec![] };
        let j = journal(PhaseStatus::Failed, &[("a", started()), ("a", done.clone()), ("b", started())]);
        let plan = UndoPlan::of(&j);
        let ids: Vec<(&str, bool)> = plan.undos.iter().map(|u| (u.action.as_str(), u.certain)).collect();
        assert_eq!(ids, [("b", false), ("a", true)], "c never started");
        assert_eq!(plan.risk(), Risk::Destructive, "deleting a volume is destructive even though creating it was safe");
        assert!(plan.undos[1].undo.contains("deletes the volumes it created"), "{}", plan.undos[1].undo);
        // Once aborted, nothing is left, and the hash says so.
        let aborted = UndoPlan::of(&journal(PhaseStatus::Aborted, &[("a", started()), ("a", done)]));
        assert!(aborted.undos.is_empty());
        assert_ne!(aborted.hash(), plan.hash());
    }
}
