//! Files of the repository's checkout (`wit/ops-checkout.wit`).
//!
//! What the host says about each operation: its name, its least risk, what
//! it does and what its undo puts back. The records and the variant are the
//! WIT file's own, generated (`super::contract`): a new operation of this
//! provider is written in its WIT file, then here and in its executor, each
//! named by the compiler as a match it is missing from.

pub use super::contract::ferry::step::checkout_ops::*;

use serde::{Deserialize, Serialize};

use crate::Risk::Safe;
use crate::policy::{Floor, OperationPolicy, Restore, at, restore};

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
