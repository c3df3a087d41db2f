//! Turns an action's operation into a change of the world, through the
//! providers. This is the only place ferry changes anything.
//!
//! The dispatch is by provider ([`Operation`]'s first level); each provider
//! implements [`Ops`] for its own operations and its own undo type, and
//! matches them without a wildcard.

use std::path::PathBuf;

use crate::journal::UndoData;
use crate::policy::OperationPolicy;
use ferry_model::Operation;

use super::checkout::CheckoutOps;
use super::control::ControlOps;
use crate::data::ops::DataOps;
use crate::dns::ops::DnsOps;
use crate::fly::ops::FlyOps;
use crate::vm::ops::VmOps;

pub use super::error::ExecError;

/// The outputs a done action journals (`file`, `image`, `note`…).
pub type Outputs = Vec<(String, String)>;

/// What the host knows how to do, one method per stage of an action.
pub trait Executor {
    /// Captures what undoing the operation will need, before it runs.
    fn prepare(&self, op: &Operation) -> Result<UndoData, ExecError>;
    /// Carries the operation out. Long operations call `keepalive` as they
    /// progress; the app's lock does not depend on it (the apply renews the
    /// lock from a thread while the operation runs).
    fn execute(&self, op: &Operation, keepalive: &mut dyn FnMut()) -> Result<Outputs, ExecError>;
    /// After a run stopped inside the operation (started at `started_at_ms`):
    /// is its effect already in place?
    fn observe(&self, op: &Operation, started_at_ms: u64) -> Result<bool, ExecError>;
    /// Puts back what `prepare` captured.
    fn restore(&self, op: &Operation, undo: &UndoData) -> Result<(), ExecError>;
    /// Takes in the outputs of an action done earlier in this run, journaled
    /// by this process or by one that stopped: a later operation may need
    /// what the API answered then and the reviewed plan cannot hold (the
    /// secrets version to boot machines with, the release the API
    /// numbered). The applier calls it for every done action of the run
    /// before it goes on, and for each action as it is done.
    fn learn(&self, op: &Operation, outputs: &[(String, String)]) {
        let _ = (op, outputs);
    }
}

/// One provider's side of the executor: the stages of an action for its
/// own operations (`ferry_model::ops::<provider>`), with its own undo type.
pub trait Ops {
    type Op;
    /// What `prepare` captures for the undo.
    type Undo;
    /// `None`: nothing to capture for this operation.
    fn prepare(&self, op: &Self::Op) -> Result<Option<Self::Undo>, ExecError>;
    fn execute(&self, op: &Self::Op, keepalive: &mut dyn FnMut()) -> Result<Outputs, ExecError>;
    fn observe(&self, op: &Self::Op, started_at_ms: u64) -> Result<bool, ExecError>;
    /// `undo` is what `prepare` captured (`None` if it captured nothing).
    fn restore(&self, op: &Self::Op, undo: Option<&Self::Undo>) -> Result<(), ExecError>;
    fn learn(&self, op: &Self::Op, outputs: &[(String, String)]) {
        let _ = (op, outputs);
    }
}

/// The error of a restore whose journal holds another operation's state:
/// a journal edited by hand, or written by another version of ferry.
pub fn mismatch(op: &impl std::fmt::Debug, undo: &impl std::fmt::Debug) -> ExecError {
    ExecError::Failed(format!("cannot restore {op:?} from {undo:?}"))
}

/// The executor of a real run: the checkout for config edits, the clock
/// for waits, the Machines API for Fly operations.
#[derive(Debug)]
pub struct Providers {
    pub checkout: PathBuf,
    /// `None` when no Fly API token is configured.
    pub fly: Option<std::sync::Arc<FlyOps>>,
    /// The zones the workflow configures.
    pub dns: DnsOps,
    /// The databases the workflow's `[data]` configures.
    pub data: DataOps,
    /// The hosts the workflow's `[targets.vm]` configures.
    pub vm: VmOps,
}

impl Providers {
    fn fly(&self) -> Result<&FlyOps, ExecError> {
        self.fly.as_deref().ok_or_else(|| ExecError::Config("this action needs the Fly API: set FLY_API_TOKEN (a deploy token for the app is enough)".into()))
    }

    fn checkout(&self) -> CheckoutOps<'_> {
        CheckoutOps::new(&self.checkout)
    }
}

impl Executor for Providers {
    fn prepare(&self, op: &Operation) -> Result<UndoData, ExecError> {
        let captured = match op {
            Operation::Control(op) => ControlOps.prepare(op)?.map(|never| match never {}),
            Operation::Checkout(op) => self.checkout().prepare(op)?.map(UndoData::Checkout),
            Operation::Fly(op) => self.fly()?.prepare(op)?.map(UndoData::Fly),
            Operation::Dns(op) => self.dns.prepare(op)?.map(UndoData::Dns),
            Operation::Data(op) => self.data.prepare(op)?.map(UndoData::Data),
            Operation::Vm(op) => self.vm.prepare(op)?.map(UndoData::Vm),
        };
        Ok(captured.unwrap_or(UndoData::None))
    }

    fn execute(&self, op: &Operation, keepalive: &mut dyn FnMut()) -> Result<Outputs, ExecError> {
        match op {
            Operation::Control(op) => ControlOps.execute(op, keepalive),
            Operation::Checkout(op) => self.checkout().execute(op, keepalive),
            Operation::Fly(op) => self.fly()?.execute(op, keepalive),
            Operation::Dns(op) => self.dns.execute(op, keepalive),
            Operation::Data(op) => self.data.execute(op, keepalive),
            Operation::Vm(op) => self.vm.execute(op, keepalive),
        }
    }

    fn observe(&self, op: &Operation, started_at_ms: u64) -> Result<bool, ExecError> {
        match op {
            Operation::Control(op) => ControlOps.observe(op, started_at_ms),
            Operation::Checkout(op) => self.checkout().observe(op, started_at_ms),
            Operation::Fly(op) => self.fly()?.observe(op, started_at_ms),
            Operation::Dns(op) => self.dns.observe(op, started_at_ms),
            Operation::Data(op) => self.data.observe(op, started_at_ms),
            Operation::Vm(op) => self.vm.observe(op, started_at_ms),
        }
    }

    fn restore(&self, op: &Operation, undo: &UndoData) -> Result<(), ExecError> {
        use UndoData as U;
        match (op, undo) {
            (Operation::Control(op), U::None) => ControlOps.restore(op, None),
            (Operation::Checkout(op), U::None) => self.checkout().restore(op, None),
            (Operation::Checkout(op), U::Checkout(u)) => self.checkout().restore(op, Some(u)),
            (Operation::Fly(op), U::None) => self.fly()?.restore(op, None),
            (Operation::Fly(op), U::Fly(u)) => self.fly()?.restore(op, Some(u)),
            (Operation::Dns(op), U::None) => self.dns.restore(op, None),
            (Operation::Dns(op), U::Dns(u)) => self.dns.restore(op, Some(u)),
            (Operation::Data(op), U::None) => self.data.restore(op, None),
            (Operation::Data(op), U::Data(u)) => self.data.restore(op, Some(u)),
            (Operation::Vm(op), U::None) => self.vm.restore(op, None),
            (Operation::Vm(op), U::Vm(u)) => self.vm.restore(op, Some(u)),
            // Another provider's state: named in full, so a new provider
            // is named here by the compiler too.
            (
                Operation::Control(_) | Operation::Checkout(_) | Operation::Fly(_) | Operation::Dns(_) | Operation::Data(_) | Operation::Vm(_),
                U::Checkout(_) | U::Fly(_) | U::Dns(_) | U::Data(_) | U::Vm(_),
            ) => Err(ExecError::Failed(format!("cannot restore {} from the journal's {undo:?}", op.name()))),
        }
    }

    fn learn(&self, op: &Operation, outputs: &[(String, String)]) {
        match op {
            Operation::Control(op) => ControlOps.learn(op, outputs),
            Operation::Checkout(op) => self.checkout().learn(op, outputs),
            Operation::Fly(op) => {
                if let Some(fly) = &self.fly {
                    fly.learn(op, outputs);
                }
            }
            Operation::Dns(op) => self.dns.learn(op, outputs),
            Operation::Data(op) => self.data.learn(op, outputs),
            Operation::Vm(op) => self.vm.learn(op, outputs),
        }
    }
}
