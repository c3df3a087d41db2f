//! Shared test support: throwaway PostgreSQL clusters and a seeded app database.
#![allow(dead_code, unused_imports)]

pub mod cluster;

pub use cluster::{Cluster, seed_app};
