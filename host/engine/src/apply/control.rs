//! Approval gates and waits: operations that change nothing.

use std::convert::Infallible;
use std::time::Duration;

use ferry_model::ControlOp;
use ferry_model::Risk::Safe;

use super::executor::{ExecError, Ops, Outputs};
use crate::policy::words::*;
use crate::policy::{Floor, NOTHING_TO_PUT_BACK, OperationPolicy, Restore, at};

/// The control side of the executor: it needs nothing but the clock.
#[derive(Debug)]
pub struct ControlOps;

impl Ops for ControlOps {
    type Op = ControlOp;
    /// Nothing is ever captured.
    type Undo = Infallible;

    fn prepare(&self, op: &ControlOp) -> Result<Option<Infallible>, ExecError> {
        match op {
            ControlOp::Approval(_) | ControlOp::WaitMs(_) => Ok(None),
        }
    }

    fn execute(&self, op: &ControlOp, keepalive: &mut dyn FnMut()) -> Result<Outputs, ExecError> {
        match op {
            ControlOp::WaitMs(ms) => {
                wait(Duration::from_millis(*ms), keepalive);
                Ok(Vec::new())
            }
            // The applier stops at an approval until it is given; once
            // given, there is nothing left to carry out.
            ControlOp::Approval(_) => Ok(Vec::new()),
        }
    }

    fn observe(&self, op: &ControlOp, started_at_ms: u64) -> Result<bool, ExecError> {
        match op {
            // A wait is over once its time has passed since it started.
            ControlOp::WaitMs(ms) => Ok(crate::apply::now_ms() >= started_at_ms.saturating_add(*ms)),
            // An approval interrupted is asked for again.
            ControlOp::Approval(_) => Ok(false),
        }
    }

    fn restore(&self, op: &ControlOp, _undo: Option<&Infallible>) -> Result<(), ExecError> {
        match op {
            ControlOp::Approval(_) | ControlOp::WaitMs(_) => Ok(()),
        }
    }
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

impl OperationPolicy for ControlOp {
    fn name(&self) -> &'static str {
        match self {
            ControlOp::Approval(_) => "approval",
            ControlOp::WaitMs(_) => "wait-ms",
        }
    }

    fn floor(&self) -> Floor {
        match self {
            ControlOp::Approval(_) => at(Safe, "changes nothing: the apply waits for a person"),
            ControlOp::WaitMs(_) => at(Safe, "changes nothing: the apply waits"),
        }
    }

    fn restore(&self) -> Restore {
        match self {
            ControlOp::Approval(_) | ControlOp::WaitMs(_) => NOTHING_TO_PUT_BACK,
        }
    }

    fn describe(&self) -> String {
        match self {
            ControlOp::Approval(message) => format!("stop until a person approves: {message}"),
            ControlOp::WaitMs(ms) => format!("wait {}", duration(*ms)),
        }
    }
}
