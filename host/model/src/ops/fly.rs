//! The Fly Machines API: apps, machines, volumes, secrets, addresses, certificates, releases (`wit/ops-fly.wit`).
//!
//! The records and the variant are the WIT file's own, generated
//! (`super::contract`). What the host says about each operation and does
//! with it (its policy, undo record and executor) is in the engine, in one
//! module per provider, so a new operation is written in its WIT file, its
//! engine module and the step that plans it.

pub use super::contract::ferry::step::fly_ops::*;

impl std::fmt::Display for IpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IpKind::V4 => "v4",
            IpKind::V6 => "v6",
            IpKind::SharedV4 => "shared_v4",
            IpKind::PrivateV6 => "private_v6",
        })
    }
}

impl std::fmt::Display for ReleaseStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReleaseStrategy::Rolling => "ROLLING",
            ReleaseStrategy::Canary => "CANARY",
            ReleaseStrategy::Bluegreen => "BLUEGREEN",
            ReleaseStrategy::Immediate => "IMMEDIATE",
        })
    }
}
