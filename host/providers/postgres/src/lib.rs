//! PostgreSQL for ferry's copy-data step.
//!
//! Two ways to move a database: a streaming `pg_dump | pg_restore` (simple, needs
//! downtime for its whole duration) and logical replication (copy while the app
//! runs, freeze writes only for the final catch-up). Either way the result is
//! checked with order-independent per-table checksums, so ferry never claims a
//! copy it has not verified.
//!
//! Connections are plain text (`NoTls`) for now: TLS is a later addition, and a URL
//! asking for `sslmode=require` is refused rather than silently downgraded.
//!
//! Connection URLs are secrets: they only ever live in [`DbUrl`], are passed to
//! the PostgreSQL tools through `PG*` environment variables (never argv), and are
//! redacted from every error message.

mod catalog;
mod conn;
mod dump;
mod error;
mod freeze;
mod inventory;
mod logical;
mod sql;
mod tools;
mod url;
mod verify;

pub use catalog::{Catalog, ObjectDiff, catalog};
pub use dump::{CopyStats, copy_schema, dump_restore};
pub use error::PgError;
pub use freeze::{freeze, is_frozen, unfreeze};
pub use inventory::{Inventory, ReplicaIdentity, Sequence, Table, clear, clear_all_script, inventory, is_empty};
pub use logical::{
    FinishStats, ReplicationStatus, copy_large_objects, copy_sequences, create_publication, create_subscription, drop_logical, finish_logical,
    replication_status, reset_replica_identity, set_replica_identity_full, wait_caught_up,
};
pub use sql::{qualified_name, quote_ident, quote_literal, quote_qualified};
pub use url::DbUrl;
pub use verify::{DIGEST_FIELD_SEPARATOR, PSEUDO_ENTRIES, TableCheck, TableDigest, Verification, compare, digest_script, digests, parse_digests, verify};
