//! A Docker host of the team's own, over SSH (`wit/ops-vm.wit`).
//!
//! The records and the variant are the WIT file's own, generated
//! (`super::contract`). What the host says about each operation and does
//! with it (its policy, undo record and executor) is in the engine, in one
//! module per provider, so a new operation is written in its WIT file, its
//! engine module and the step that plans it.

pub use super::contract::ferry::step::vm_ops::*;

impl VmContainer {
    /// `image` run as `name` on `target`, with nothing else set: no
    /// environment, ports, volumes, network, labels, command or health gate.
    pub fn new(target: impl Into<String>, name: impl Into<String>, image: impl Into<String>) -> Self {
        VmContainer {
            target: target.into(),
            name: name.into(),
            image: image.into(),
            env_file: None,
            env: Vec::new(),
            ports: Vec::new(),
            volumes: Vec::new(),
            network: None,
            labels: Vec::new(),
            command: Vec::new(),
            health: None,
        }
    }
}
