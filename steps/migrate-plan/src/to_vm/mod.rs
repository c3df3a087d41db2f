//! A migration off Fly to a Docker host of the team's own (`ferry migrate
//! create --to vm:<target>`): the same reviewed, journaled phases as a move
//! to a new Fly app, planned from the source app (the `fly` import), the
//! host (the `vm` import), the zone (`dns`) and the checkout's workflows.
//!
//! - **create**: preflight only ([`preflight::checks`]).
//! - **prepare**: the host provisioned and the app deployed to it beside
//!   nothing (nginx answers the app's names, DNS still points at Fly), with
//!   its certificate issued by DNS-01 when the target has `[acme]`, and the
//!   workflows' `fly deploy` replaced by `ferry deploy --target vm`.
//! - **finalize**: the hostnames' records switched to the host, after a TLS
//!   check against the host itself.
//!
//! Abort walks every phase back through the journal: the host's
//! containers, site, files and directories ferry made go; Fly was never
//! changed.

pub mod phases;
pub mod preflight;
pub mod workflows;

use ferry_step_sdk::host::vm::{CertificateInfo, ContainerState, HostFacts, VmTargetInfo};

/// `vm:<target>` names a Docker host; anything else is a Fly app.
pub fn target_name(to: &str) -> Option<&str> {
    to.strip_prefix("vm:")
}

/// What the `vm` import reported about the host.
#[derive(Clone, Debug)]
pub struct Host {
    pub target: VmTargetInfo,
    /// The host's facts, or why it could not be read (unreachable, a
    /// changed host key).
    pub facts: Result<HostFacts, String>,
    pub containers: Vec<ContainerState>,
    pub releases: Vec<String>,
    /// The certificate the site would serve, when the target manages one.
    pub certificate: Option<CertificateInfo>,
}

/// A workflow file of the checkout and its text.
#[derive(Clone, Debug)]
pub struct Workflow {
    pub path: String,
    pub text: String,
}
