//! Turns an action's operation into a change of the world, through the
//! providers. This is the only place ferry changes anything.

use std::path::PathBuf;
use std::time::Duration;

use ferry_model::Operation;
use ferry_model::policy::OperationClass;
use ferry_model::journal::UndoData;

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

/// Which provider carries an operation out.
#[derive(PartialEq)]
enum Provider {
    /// The checkout and the clock, here.
    Local,
    Fly,
    Dns,
    Data,
    Vm,
}

/// The provider follows the operation's class (the one grants are checked
/// by), so a new operation is routed wherever its class says, with no
/// catch-all to send it to the wrong executor.
fn provider(op: &Operation) -> Provider {
    match OperationClass::of(op) {
        OperationClass::Checkout | OperationClass::Control => Provider::Local,
        OperationClass::Fly => Provider::Fly,
        OperationClass::Dns => Provider::Dns,
        OperationClass::Data => Provider::Data,
        OperationClass::Vm => Provider::Vm,
    }
}

impl Executor for Providers {
    fn prepare(&self, op: &Operation) -> Result<UndoData, ExecError> {
        match provider(op) {
            Provider::Fly => return self.fly()?.prepare(op),
            Provider::Dns => return self.dns.prepare(op),
            Provider::Data => return self.data.prepare(op),
            Provider::Vm => return self.vm.prepare(op),
            Provider::Local => {}
        }
        match op {
            Operation::EditConfig(edit) => {
                let text = ferry_checkout::read_file(&self.checkout, &edit.file).map_err(err)?;
                let previous = ferry_checkout::get_key(&edit.file, &text, &edit.key).map_err(err)?;
                Ok(UndoData::ConfigValue { previous })
            }
            Operation::WriteFile(write) => Ok(UndoData::FileContents { previous: ferry_checkout::read_optional(&self.checkout, &write.file).map_err(err)? }),
            _ => Ok(UndoData::None),
        }
    }

    fn execute(&self, op: &Operation, keepalive: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError> {
        match provider(op) {
            Provider::Fly => return self.fly()?.execute(op, keepalive),
            Provider::Dns => return self.dns.execute(op),
            Provider::Data => return self.data.execute(op, keepalive),
            Provider::Vm => return self.vm.execute(op, keepalive),
            Provider::Local => {}
        }
        match op {
            Operation::EditConfig(edit) => {
                ferry_checkout::edit_file(&self.checkout, &edit.file, &edit.key, edit.value.as_deref()).map_err(err)?;
                Ok(vec![("file".into(), edit.file.clone())])
            }
            Operation::WriteFile(write) => {
                ferry_checkout::write_file(&self.checkout, &write.file, Some(&write.contents)).map_err(err)?;
                Ok(vec![("file".into(), write.file.clone())])
            }
            Operation::WaitMs(ms) => {
                wait(Duration::from_millis(*ms), keepalive);
                Ok(Vec::new())
            }
            _ => Ok(Vec::new()),
        }
    }

    fn observe(&self, op: &Operation, started_at_ms: u64) -> Result<bool, ExecError> {
        match provider(op) {
            Provider::Fly => return self.fly()?.observe(op, started_at_ms),
            Provider::Dns => return self.dns.observe(op),
            Provider::Data => return self.data.observe(op),
            Provider::Vm => return self.vm.observe(op),
            Provider::Local => {}
        }
        match op {
            Operation::EditConfig(edit) => {
                let text = ferry_checkout::read_file(&self.checkout, &edit.file).map_err(err)?;
                let now = ferry_checkout::get_key(&edit.file, &text, &edit.key).map_err(err)?;
                let want = edit.value.as_deref().map(ferry_checkout::normalize_literal).transpose().map_err(err)?;
                Ok(now == want)
            }
            Operation::WriteFile(write) => Ok(ferry_checkout::read_optional(&self.checkout, &write.file).map_err(err)?.as_deref() == Some(write.contents.as_str())),
            // A wait is over once its time has passed since it started.
            Operation::WaitMs(ms) => Ok(crate::apply::now_ms() >= started_at_ms.saturating_add(*ms)),
            _ => Ok(false),
        }
    }

    fn restore(&self, op: &Operation, undo: &UndoData) -> Result<(), ExecError> {
        match provider(op) {
            Provider::Fly => return self.fly()?.restore(op, undo),
            Provider::Dns => return self.dns.restore(op, undo),
            Provider::Data => return self.data.restore(op, undo),
            Provider::Vm => return self.vm.restore(op, undo),
            Provider::Local => {}
        }
        match (op, undo) {
            (Operation::EditConfig(edit), UndoData::ConfigValue { previous }) => {
                ferry_checkout::edit_file(&self.checkout, &edit.file, &edit.key, previous.as_deref()).map(drop).map_err(err)
            }
            (Operation::WriteFile(write), UndoData::FileContents { previous }) => {
                ferry_checkout::write_file(&self.checkout, &write.file, previous.as_deref()).map(drop).map_err(err)
            }
            (_, UndoData::None) => Ok(()),
            (op, undo) => Err(ExecError(format!("cannot restore {op:?} from {undo:?}"))),
        }
    }

    fn learn(&self, op: &Operation, outputs: &[(String, String)]) {
        self.learn_fly(op, outputs);
    }
}

impl Providers {
    /// What [`Executor::learn`] hands the Fly side.
    fn learn_fly(&self, op: &Operation, outputs: &[(String, String)]) {
        if let (Provider::Fly, Some(fly)) = (provider(op), &self.fly) {
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
