//! Turns an action's operation into a change of the world, through the
//! providers. This is the only place ferry changes anything.

use std::path::PathBuf;
use std::time::Duration;

use ferry_model::Operation;
use ferry_model::journal::UndoData;
use ferry_model::{CheckoutOp, ControlOp, Routed};

use super::data::DataOps;
use super::dns::DnsOps;
use super::fly::FlyOps;
use super::vm::VmOps;

/// Why an operation could not be carried out.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExecError(pub String);

/// What the host knows how to do, one method per stage of an action.
pub trait Executor {
    /// Captures what undoing the operation will need, before it runs.
    fn prepare(&self, op: &Operation) -> Result<UndoData, ExecError>;
    /// Carries the operation out. Long operations call `keepalive` as they
    /// progress; the app's lock does not depend on it (the apply renews the
    /// lock from a thread while the operation runs).
    fn execute(&self, op: &Operation, keepalive: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError>;
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

/// The executor of a real run: the checkout for config edits, the clock
/// for waits, the Machines API for Fly operations.
#[derive(Debug)]
pub struct Providers {
    pub checkout: PathBuf,
    /// `None` when no Fly API token is configured.
    pub fly: Option<FlyOps>,
    /// The zones the workflow configures.
    pub dns: DnsOps,
    /// The databases the workflow's `[data]` configures.
    pub data: DataOps,
    /// The hosts the workflow's `[targets.vm]` configures.
    pub vm: VmOps,
}

impl Providers {
    fn fly(&self) -> Result<&FlyOps, ExecError> {
        self.fly.as_ref().ok_or_else(|| ExecError("this action needs the Fly API: set FLY_API_TOKEN (a deploy token for the app is enough)".into()))
    }
}

impl Executor for Providers {
    fn prepare(&self, op: &Operation) -> Result<UndoData, ExecError> {
        match op.route() {
            Routed::Fly(op) => self.fly()?.prepare(op),
            Routed::Dns(op) => self.dns.prepare(op),
            Routed::Data(op) => self.data.prepare(op),
            Routed::Vm(op) => self.vm.prepare(op),
            Routed::Checkout(CheckoutOp::EditConfig(edit)) => {
                let text = ferry_checkout::read_file(&self.checkout, &edit.file).map_err(err)?;
                let previous = ferry_checkout::get_key(&edit.file, &text, &edit.key).map_err(err)?;
                Ok(UndoData::ConfigValue { previous })
            }
            Routed::Checkout(CheckoutOp::WriteFile(write)) => {
                Ok(UndoData::FileContents { previous: ferry_checkout::read_optional(&self.checkout, &write.file).map_err(err)? })
            }
            Routed::Control(ControlOp::Approval(_) | ControlOp::WaitMs(_)) => Ok(UndoData::None),
        }
    }

    fn execute(&self, op: &Operation, keepalive: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError> {
        match op.route() {
            Routed::Fly(op) => self.fly()?.execute(op, keepalive),
            Routed::Dns(op) => self.dns.execute(op),
            Routed::Data(op) => self.data.execute(op, keepalive),
            Routed::Vm(op) => self.vm.execute(op, keepalive),
            Routed::Checkout(CheckoutOp::EditConfig(edit)) => {
                ferry_checkout::edit_file(&self.checkout, &edit.file, &edit.key, edit.value.as_deref()).map_err(err)?;
                Ok(vec![("file".into(), edit.file.clone())])
            }
            Routed::Checkout(CheckoutOp::WriteFile(write)) => {
                ferry_checkout::write_file(&self.checkout, &write.file, Some(&write.contents)).map_err(err)?;
                Ok(vec![("file".into(), write.file.clone())])
            }
            Routed::Control(ControlOp::WaitMs(ms)) => {
                wait(Duration::from_millis(ms), keepalive);
                Ok(Vec::new())
            }
            // The applier stops at an approval until it is given; once
            // given, there is nothing left to carry out.
            Routed::Control(ControlOp::Approval(_)) => Ok(Vec::new()),
        }
    }

    fn observe(&self, op: &Operation, started_at_ms: u64) -> Result<bool, ExecError> {
        match op.route() {
            Routed::Fly(op) => self.fly()?.observe(op, started_at_ms),
            Routed::Dns(op) => self.dns.observe(op),
            Routed::Data(op) => self.data.observe(op),
            Routed::Vm(op) => self.vm.observe(op),
            Routed::Checkout(CheckoutOp::EditConfig(edit)) => {
                let text = ferry_checkout::read_file(&self.checkout, &edit.file).map_err(err)?;
                let now = ferry_checkout::get_key(&edit.file, &text, &edit.key).map_err(err)?;
                let want = edit.value.as_deref().map(ferry_checkout::normalize_literal).transpose().map_err(err)?;
                Ok(now == want)
            }
            Routed::Checkout(CheckoutOp::WriteFile(write)) => {
                Ok(ferry_checkout::read_optional(&self.checkout, &write.file).map_err(err)?.as_deref() == Some(write.contents.as_str()))
            }
            // A wait is over once its time has passed since it started.
            Routed::Control(ControlOp::WaitMs(ms)) => Ok(crate::apply::now_ms() >= started_at_ms.saturating_add(ms)),
            // An approval interrupted is asked for again.
            Routed::Control(ControlOp::Approval(_)) => Ok(false),
        }
    }

    fn restore(&self, op: &Operation, undo: &UndoData) -> Result<(), ExecError> {
        match (op.route(), undo) {
            (Routed::Fly(op), _) => self.fly()?.restore(op, undo),
            (Routed::Dns(op), _) => self.dns.restore(op, undo),
            (Routed::Data(op), _) => self.data.restore(op, undo),
            (Routed::Vm(op), _) => self.vm.restore(op, undo),
            (Routed::Checkout(CheckoutOp::EditConfig(edit)), UndoData::ConfigValue { previous }) => {
                ferry_checkout::edit_file(&self.checkout, &edit.file, &edit.key, previous.as_deref()).map(drop).map_err(err)
            }
            (Routed::Checkout(CheckoutOp::WriteFile(write)), UndoData::FileContents { previous }) => {
                ferry_checkout::write_file(&self.checkout, &write.file, previous.as_deref()).map(drop).map_err(err)
            }
            (Routed::Checkout(_) | Routed::Control(_), UndoData::None) => Ok(()),
            (Routed::Checkout(_) | Routed::Control(_), undo) => Err(ExecError(format!("cannot restore {op:?} from {undo:?}"))),
        }
    }

    fn learn(&self, op: &Operation, outputs: &[(String, String)]) {
        if let (Routed::Fly(op), Some(fly)) = (op.route(), &self.fly) {
            fly.learn(op, outputs);
        }
    }
}

fn err(e: impl std::fmt::Display) -> ExecError {
    ExecError(e.to_string())
}

/// Sleeps in slices, keeping the lock alive.
fn wait(total: Duration, keepalive: &mut dyn FnMut()) {
    let slice = Duration::from_secs(1);
    let started = std::time::Instant::now();
    while let Some(left) = total.checked_sub(started.elapsed()).filter(|d| !d.is_zero()) {
        std::thread::sleep(left.min(slice));
        keepalive();
    }
}
