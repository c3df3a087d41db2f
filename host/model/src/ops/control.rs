//! Operations that change nothing: approval gates and waits (`wit/ops-control.wit`).
//!
//! The records and the variant are the WIT file's own, generated
//! (`super::contract`). What the host says about each operation and does
//! with it (its policy, undo record and executor) is in the engine, in one
//! module per provider, so a new operation is written in its WIT file, its
//! engine module and the step that plans it.

pub use super::contract::ferry::step::control_ops::*;
