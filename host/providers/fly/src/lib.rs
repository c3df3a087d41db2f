//! The Fly.io Machines API client for ferry.
//!
//! A blocking client (ferry's executor is synchronous) for the Machines API
//! (`api.machines.dev/v1`) and the two `api.fly.io` endpoints a deploy needs
//! (logs, release records), implementing the rules `fly deploy` follows and
//! a few it should:
//!
//! * `FlyV1` for macaroon tokens, `Bearer` otherwise; the token never
//!   appears in `Debug` or in error messages ([`Token`]);
//! * GETs retried with backoff and jitter on 5xx/429/transport errors,
//!   mutations never retried unless provably unsent;
//! * idempotent creates via a launch id in metadata
//!   ([`LAUNCH_ID_METADATA_KEY`]), and 404-after-create retries
//!   (flyctl#4618);
//! * waits that loop the 60 s server cap up to an overall deadline, health
//!   waits that fail fast on a crash (flyctl#2653);
//! * short leases with background refresh and release on drop
//!   (flyctl#1728);
//! * a lossless [`MachineConfig`] so a saved config can be restored on
//!   rollback.
//!
//! Configuration comes from [`Config`] or the environment
//! ([`FlyClient::from_env`]).

mod apps;
mod auth;
mod certificates;
mod client;
mod config;
mod create;
mod error;
mod health;
mod http;
mod ips;
mod leases;
mod logs;
mod machine_config;
mod machines;
mod releases;
mod secrets;
mod types;
mod volumes;
mod wait;

pub use apps::{AppName, CreateApp};
pub use auth::Token;
pub use certificates::{AcmeChallenge, CERTIFICATE_ACTIVE, Certificate, CertificateSummary, DnsRequirements, ValidationError};
pub use client::FlyClient;
pub use config::{Config, DEFAULT_API_BASE, DEFAULT_FLAPS_BASE, DEFAULT_UIEX_BASE, RetryPolicy};
pub use create::LAUNCH_ID_METADATA_KEY;
pub use error::{FlyError, HealthError, RequestContext};
pub use health::HealthWait;
pub use leases::{DEFAULT_LEASE_TTL, LeaseGuard};
pub use logs::{LogEntry, LogPage};
pub use machine_config::{Check, Guest, Init, MachineConfig, Mount, Port, Restart, Service};
pub use releases::{CreateRelease, Release, ReleaseStatus, post_deployment_info};
pub use types::{
    AllocateIp, App, CheckStatus, CreateVolumeRequest, Event, ExtendedVolume, ImageRef, IpAssignment, IpType, LaunchInput, Lease, LeaseData, ListenSocket,
    Machine, MachineVersion, Organization, ProcessStat, Secret, SecretsUpdate, StopInput, Volume, last_exit_after_start, metadata,
};
pub use volumes::{SnapshotWait, VolumeSnapshot};
pub use wait::{MAX_WAIT_SECS, WaitState};
