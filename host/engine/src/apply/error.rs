//! Why an operation could not be carried out, typed by where it failed.
//!
//! The apply reports the text either way; the type is kept so that it can
//! also say whether running the same apply again may succeed (a platform
//! that answered 503 or dropped the connection) or whether a person must
//! change something first, and so that a caller can read the API's status.

use ferry_dns::DnsError;
use ferry_fly::FlyError;
use ferry_postgres::PgError;
use ferry_ssh::SshError;
use ferry_vm::VmError;
use ferry_volume::VolumeError;

/// Why an operation could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The Fly Machines API refused the request or could not be reached.
    #[error("{}", joined(context, source))]
    Fly { context: String, source: FlyError },
    /// A DNS server or a DNS provider's API.
    #[error("{}", joined(context, source))]
    Dns { context: String, source: DnsError },
    /// A PostgreSQL server or one of its client tools.
    #[error("{}", joined(context, source))]
    Pg { context: String, source: PgError },
    /// A command on a host over SSH.
    #[error("{}", joined(context, source))]
    Ssh { context: String, source: SshError },
    /// Docker or nginx on a VM target.
    #[error("{}", joined(context, source))]
    Vm { context: String, source: VmError },
    /// A volume's copy (rsync, over SSH or locally).
    #[error("{}", joined(context, source))]
    Volume { context: String, source: VolumeError },
    /// ferry.toml, the environment or the plan does not say how to do it
    /// (a zone with no provider, a variable that is not set).
    #[error("{0}")]
    Config(String),
    /// The world is not as the operation needs it or left it: a check or a
    /// verification failed, a wait ran out, a command exited non-zero.
    #[error("{0}")]
    Failed(String),
    /// Machines of one batch that failed each its own way, one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ExecError>),
    /// The last of several tries (`--deploy-retries`).
    #[error("{last} (after {retries} retries)")]
    Retried { retries: u32, last: Box<ExecError> },
}

fn joined(context: &str, source: &dyn std::fmt::Display) -> String {
    if context.is_empty() { source.to_string() } else { format!("{context}: {source}") }
}

/// `ExecError::fly("creating app web")` as a `map_err` argument: the
/// provider's error, with what ferry was doing in front of it.
macro_rules! constructors {
    ($($name:ident => $variant:ident($error:ty)),* $(,)?) => {
        impl ExecError {
            $(
                pub fn $name(context: impl Into<String>) -> impl FnOnce($error) -> ExecError {
                    let context = context.into();
                    move |source| ExecError::$variant { context, source }
                }
            )*
        }
        $(
            impl From<$error> for ExecError {
                fn from(source: $error) -> ExecError {
                    ExecError::$variant { context: String::new(), source }
                }
            }
        )*
    };
}

constructors! {
    fly => Fly(FlyError),
    dns => Dns(DnsError),
    pg => Pg(PgError),
    ssh => Ssh(SshError),
    vm => Vm(VmError),
    volume => Volume(VolumeError),
}

impl ExecError {
    /// A JSON document of the plan or the journal (a machine config, a
    /// release definition) that does not read as the operation needs.
    pub fn json(context: impl Into<String>) -> impl FnOnce(serde_json::Error) -> ExecError {
        let context = context.into();
        move |e| ExecError::Failed(format!("{context}: {e}"))
    }

    /// Whether the same apply, run again, may well get past this: the
    /// provider says the failure was the platform's and passing (see each
    /// provider's `is_transient`). SSH and Docker failures are not
    /// counted: a host that cannot be reached is as often a wrong address.
    pub fn is_transient(&self) -> bool {
        match self {
            ExecError::Fly { source, .. } => source.is_transient(),
            ExecError::Dns { source, .. } => source.is_transient(),
            ExecError::Pg { source, .. } => source.is_transient(),
            ExecError::Retried { last, .. } => last.is_transient(),
            ExecError::Several(all) => all.iter().all(ExecError::is_transient),
            ExecError::Ssh { .. } | ExecError::Vm { .. } | ExecError::Volume { .. } | ExecError::Config(_) | ExecError::Failed(_) => false,
        }
    }

    /// The HTTP status an API answered with, when the failure was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ExecError::Fly { source, .. } => source.status(),
            ExecError::Dns { source: DnsError::Api { status, .. } | DnsError::Unauthorized { status, .. }, .. } => Some(*status),
            ExecError::Retried { last, .. } => last.status(),
            ExecError::Several(all) => all.iter().find_map(ExecError::status),
            ExecError::Dns { .. }
            | ExecError::Pg { .. }
            | ExecError::Ssh { .. }
            | ExecError::Vm { .. }
            | ExecError::Volume { .. }
            | ExecError::Config(_)
            | ExecError::Failed(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fly_api(status: u16) -> FlyError {
        let ctx = ferry_fly::RequestContext { method: "POST".into(), host: "https://api.machines.dev".into(), path: "/v1/apps/web".into(), request_id: None };
        FlyError::Api { ctx, status, message: "m".into(), code: None }
    }

    #[test]
    fn a_platform_that_is_down_is_transient_a_refusal_is_not() {
        assert!(ExecError::fly("updating machine m1")(fly_api(503)).is_transient());
        assert!(ExecError::fly("")(fly_api(429)).is_transient());
        assert!(!ExecError::fly("")(fly_api(422)).is_transient());
        assert!(!ExecError::Failed("verification failed".into()).is_transient());
        let retried = ExecError::Retried { retries: 2, last: Box::new(ExecError::fly("machine m1")(fly_api(502))) };
        assert!(retried.is_transient());
        assert_eq!(retried.status(), Some(502));
        let batch = |second| ExecError::Several(vec![ExecError::fly("machine m1")(fly_api(503)), second]);
        assert!(batch(ExecError::fly("machine m2")(fly_api(500))).is_transient());
        assert!(!batch(ExecError::Failed("machine m2 crashed".into())).is_transient(), "one lasting failure needs a person");
    }

    #[test]
    fn the_context_comes_first_and_an_empty_one_is_left_out() {
        let with = ExecError::fly("creating app web")(fly_api(500)).to_string();
        let without = ExecError::from(fly_api(500)).to_string();
        assert_eq!(with, format!("creating app web: {without}"));
        assert_eq!(ExecError::Retried { retries: 1, last: Box::new(ExecError::Failed("boom".into())) }.to_string(), "boom (after 1 retries)");
    }
}
