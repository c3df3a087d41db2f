//! The journal of an apply: every action's start (with what its undo
//! needs), its end, its failure, its undo. It is written to the state store
//! before and after each action, so a run killed at any point can be
//! resumed or undone from it.

use ferry_model::Plan;
use serde::{Deserialize, Serialize};

use crate::apply::checkout::CheckoutUndo;
use crate::data::ops::DataUndo;
use crate::dns::ops::DnsUndo;
use crate::fly::ops::FlyUndo;
use crate::vm::ops::VmUndo;

/// The version of the journal's JSON shape. 3: the plans it holds are of
/// plan format 4.
pub const JOURNAL_FORMAT: u32 = 3;

/// One run: the phases applied under one id (a deploy, or a migration's
/// prepare/data/finalize…).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub format: u32,
    pub app: String,
    pub run: String,
    pub phases: Vec<PhaseRecord>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseStatus {
    /// Actions are being applied (or the run stopped mid-way: resume it).
    Applying,
    /// Stopped at an approval action until someone approves.
    WaitingApproval,
    /// Every action is done.
    Applied,
    /// An action failed; the phase's completed actions were undone.
    RolledBack,
    /// An action failed and was left as it was (`--no-rollback`).
    Failed,
    /// `ferry abort` undid it.
    Aborted,
}

impl PhaseStatus {
    /// True when nothing more will happen to the phase without a new plan.
    pub fn is_final(self) -> bool {
        matches!(self, PhaseStatus::Applied | PhaseStatus::RolledBack | PhaseStatus::Aborted)
    }
}

/// A phase: the plan that was applied and what happened to each action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseRecord {
    pub phase: String,
    pub plan_hash: String,
    pub plan: Plan,
    pub status: PhaseStatus,
    pub started_at_ms: u64,
    pub entries: Vec<Entry>,
}

/// One event of one action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub action: String,
    pub at_ms: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// What the host records so it can undo an action: the state it replaced,
/// in the type of the provider that carries the action out (each beside its
/// operations in [`crate::ops`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UndoData {
    /// Nothing is needed (the undo is its own operation, or there is none).
    None,
    Checkout(CheckoutUndo),
    Fly(FlyUndo),
    Dns(DnsUndo),
    Data(DataUndo),
    Vm(VmUndo),
}

/// A machine as it was before an action changed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousMachine {
    pub id: String,
    pub name: String,
    pub region: String,
    pub state: String,
    pub cordoned: bool,
    /// Its `MachineConfig`, exactly as the API returned it.
    pub config: serde_json::Value,
}

/// The output of a done action that the results show beside it: what it
/// measured as it ran (the bytes it copied, the rows it verified), set
/// beside the numbers the plan showed.
pub const NOTE_OUTPUT: &str = "note";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "event")]
pub enum Event {
    /// About to run; `undo` is captured before anything changes.
    Started {
        undo: UndoData,
    },
    Done {
        duration_ms: u64,
        outputs: Vec<(String, String)>,
    },
    /// Found already in effect after an interrupted run; not run again.
    Reconciled,
    Failed {
        duration_ms: u64,
        error: String,
    },
    Undone {
        duration_ms: u64,
    },
    UndoFailed {
        error: String,
    },
    /// Not undone: nothing can undo it (the reason from the plan).
    NotUndoable {
        reason: String,
    },
}

/// Where an action stands, from its latest events.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionState {
    Pending,
    /// Started but neither done nor failed: the run stopped inside it.
    InDoubt(UndoData),
    Done(UndoData),
    Failed(UndoData),
    Undone,
}

impl PhaseRecord {
    pub fn record(&mut self, action: &str, at_ms: u64, event: Event) {
        self.entries.push(Entry { action: action.to_string(), at_ms, event });
    }

    /// The state of `action` after every event recorded for it.
    pub fn state(&self, action: &str) -> ActionState {
        let mut state = ActionState::Pending;
        for e in self.entries.iter().filter(|e| e.action == action) {
            state = match (&e.event, state) {
                (Event::Started { undo }, _) => ActionState::InDoubt(undo.clone()),
                (Event::Done { .. } | Event::Reconciled, ActionState::InDoubt(u) | ActionState::Failed(u)) => ActionState::Done(u),
                (Event::Done { .. } | Event::Reconciled, s) => s,
                (Event::Failed { .. }, ActionState::InDoubt(u)) => ActionState::Failed(u),
                (Event::Failed { .. }, s) => s,
                (Event::Undone { .. } | Event::NotUndoable { .. }, _) => ActionState::Undone,
                (Event::UndoFailed { .. }, s) => s,
            };
        }
        state
    }

    /// How many times `action` was started, across every run of the phase.
    pub fn starts(&self, action: &str) -> usize {
        self.entries.iter().filter(|e| e.action == action && matches!(e.event, Event::Started { .. })).count()
    }

    /// The last duration recorded for `action`, with its outcome.
    pub fn outcome(&self, action: &str) -> Option<&Event> {
        self.entries.iter().rev().find(|e| e.action == action && !matches!(e.event, Event::Started { .. })).map(|e| &e.event)
    }
}

impl Journal {
    pub fn new(app: &str, run: &str) -> Self {
        Journal { format: JOURNAL_FORMAT, app: app.to_string(), run: run.to_string(), phases: Vec::new() }
    }

    pub fn phase_mut(&mut self, phase: &str) -> Option<&mut PhaseRecord> {
        self.phases.iter_mut().rev().find(|p| p.phase == phase)
    }
}

/// How an apply ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    Applied,
    /// Nothing to do: this plan was applied already.
    AlreadyApplied,
    /// Stopped before an approval action.
    WaitingApproval {
        action: String,
        message: String,
    },
    /// An action failed and the phase's completed actions were undone.
    RolledBack {
        action: String,
        error: String,
        /// The platform said the failure was its own and passing (a 503, a
        /// dropped connection): the same apply, run again, may succeed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        transient: bool,
    },
    /// An action failed and nothing was undone (`--no-rollback`).
    Failed {
        action: String,
        error: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        transient: bool,
    },
}
