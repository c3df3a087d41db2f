//! Fly.io: what a step may read of an app (`reader`, the `fly` import),
//! and how the host carries out Fly operations (`ops`).

pub mod ops;
pub mod reader;
