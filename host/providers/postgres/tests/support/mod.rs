//! Shared test support: throwaway PostgreSQL clusters and a seeded app database.
#![allow(dead_code)]

pub mod cluster;

pub use cluster::{Cluster, seed_app};
