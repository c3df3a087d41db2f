//! Files of the repository's checkout: a TOML key edited in place (comments
//! and layout kept), or a whole file written.

use std::path::Path;

use ferry_model::CheckoutOp;
use ferry_model::Risk::Safe;
use serde::{Deserialize, Serialize};

use super::executor::{ExecError, Ops, Outputs, mismatch};
use crate::policy::{Floor, OperationPolicy, Restore, at, restore};

/// The checkout side of the executor.
#[derive(Debug)]
pub struct CheckoutOps<'a> {
    root: &'a Path,
}

impl<'a> CheckoutOps<'a> {
    pub fn new(root: &'a Path) -> Self {
        CheckoutOps { root }
    }
}

impl Ops for CheckoutOps<'_> {
    type Op = CheckoutOp;
    type Undo = CheckoutUndo;

    fn prepare(&self, op: &CheckoutOp) -> Result<Option<CheckoutUndo>, ExecError> {
        match op {
            CheckoutOp::EditConfig(edit) => {
                let text = ferry_checkout::read_file(self.root, &edit.file).map_err(err)?;
                let previous = ferry_checkout::get_key(&edit.file, &text, &edit.key).map_err(err)?;
                Ok(Some(CheckoutUndo::ConfigValue { previous }))
            }
            CheckoutOp::WriteFile(write) => {
                Ok(Some(CheckoutUndo::FileContents { previous: ferry_checkout::read_optional(self.root, &write.file).map_err(err)? }))
            }
        }
    }

    fn execute(&self, op: &CheckoutOp, _keepalive: &mut dyn FnMut()) -> Result<Outputs, ExecError> {
        match op {
            CheckoutOp::EditConfig(edit) => {
                ferry_checkout::edit_file(self.root, &edit.file, &edit.key, edit.value.as_deref()).map_err(err)?;
                Ok(vec![("file".into(), edit.file.clone())])
            }
            CheckoutOp::WriteFile(write) => {
                ferry_checkout::write_file(self.root, &write.file, Some(&write.contents)).map_err(err)?;
                Ok(vec![("file".into(), write.file.clone())])
            }
        }
    }

    fn observe(&self, op: &CheckoutOp, _started_at_ms: u64) -> Result<bool, ExecError> {
        match op {
            CheckoutOp::EditConfig(edit) => {
                let text = ferry_checkout::read_file(self.root, &edit.file).map_err(err)?;
                let now = ferry_checkout::get_key(&edit.file, &text, &edit.key).map_err(err)?;
                let want = edit.value.as_deref().map(ferry_checkout::normalize_literal).transpose().map_err(err)?;
                Ok(now == want)
            }
            CheckoutOp::WriteFile(write) => Ok(ferry_checkout::read_optional(self.root, &write.file).map_err(err)?.as_deref() == Some(write.contents.as_str())),
        }
    }

    fn restore(&self, op: &CheckoutOp, undo: Option<&CheckoutUndo>) -> Result<(), ExecError> {
        match (op, undo) {
            (CheckoutOp::EditConfig(edit), Some(CheckoutUndo::ConfigValue { previous })) => {
                ferry_checkout::edit_file(self.root, &edit.file, &edit.key, previous.as_deref()).map(drop).map_err(err)
            }
            (CheckoutOp::WriteFile(write), Some(CheckoutUndo::FileContents { previous })) => {
                ferry_checkout::write_file(self.root, &write.file, previous.as_deref()).map(drop).map_err(err)
            }
            (CheckoutOp::EditConfig(_) | CheckoutOp::WriteFile(_), undo) => Err(mismatch(op, &undo)),
        }
    }
}

/// The checkout's file could not be read, written or edited as planned.
fn err(e: ferry_checkout::EditError) -> ExecError {
    ExecError::Failed(e.to_string())
}

/// What a checkout action replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum CheckoutUndo {
    /// The TOML literal a config key held, `None` if it was absent.
    ConfigValue { previous: Option<String> },
    /// What a checkout file held before it was written (`None`: no file).
    FileContents { previous: Option<String> },
}

impl OperationPolicy for CheckoutOp {
    fn name(&self) -> &'static str {
        match self {
            CheckoutOp::EditConfig(_) => "edit-config",
            CheckoutOp::WriteFile(_) => "write-file",
        }
    }

    fn floor(&self) -> Floor {
        match self {
            CheckoutOp::EditConfig(_) => at(Safe, "changes one key of a checkout file; the journal keeps the old value for the undo"),
            CheckoutOp::WriteFile(_) => at(Safe, "writes a checkout file; the journal keeps the old contents for the undo"),
        }
    }

    fn restore(&self) -> Restore {
        let floor = at(Safe, "puts a checkout file back as the journal kept it");
        match self {
            CheckoutOp::EditConfig(_) => restore("puts the previous value back", floor),
            CheckoutOp::WriteFile(_) => restore("puts the file back as it was (or removes it)", floor),
        }
    }

    fn describe(&self) -> String {
        match self {
            CheckoutOp::EditConfig(edit) => match &edit.value {
                Some(value) => format!("set `{}` = {value} in {} (checkout)", edit.key, edit.file),
                None => format!("remove `{}` from {} (checkout)", edit.key, edit.file),
            },
            CheckoutOp::WriteFile(w) => format!("write {} (checkout, {} bytes)", w.file, w.contents.len()),
        }
    }
}
