//! ferry's integration tests: one binary, a module per area (as in wasmtime).

#[path = "../support/mod.rs"]
mod support;

mod action;
mod adopt;
mod apply;
mod build;
mod cache;
mod cli;
mod config_edit;
mod cutover;
mod data;
mod deploy;
mod first_hour;
mod github;
mod hostile;
mod inventory;
mod migrate;
mod parse_config;
mod render;
mod sandbox;
mod vm;
mod workflow;
