//! Postgres on the host, for an app that had Fly Postgres (its DATABASE_URL
//! was a secret): a container on the app's Docker network, published on
//! 127.0.0.1 only, its data in a host directory, its password made on the
//! host and never seen by ferry's plan or journal. The app's DATABASE_URL
//! points at it by container name.

use ferry_step_sdk::types::{Action, Operation, Risk, Undo, VmContainer, VmEnvFile, VmFileValue, VmHealth, VmOp, VmPort, VmSecret};

use crate::action;
use crate::app::VmApp;
use crate::observed::{LABEL_APP, Observed};

/// The secret a Fly Postgres attachment sets, and that this Postgres replaces.
pub const DATABASE_URL: &str = "DATABASE_URL";
/// The label that tells the database container from the app's releases.
pub const LABEL_ROLE: &str = "ferry.role";
const PORT: u16 = 5432;

/// The database container of one app on one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Postgres {
    pub image: String,
    pub container: String,
    /// Role and database, both named after the app (`-` becomes `_`).
    pub name: String,
    pub data_dir: String,
    pub password_file: String,
    pub env_file: String,
    /// Where a migration keeps the dump of the Fly Postgres it copied in.
    pub import_dir: String,
    /// Where it listens on the host's loopback.
    pub host_port: u16,
}

impl Postgres {
    pub fn new(app: &VmApp, image: &str, listening: &[u16]) -> Self {
        let dir = format!("{}/postgres", app.paths.dir);
        // A port in use (a Postgres of the host's own): the next free one.
        let host_port = (PORT..PORT + 100).find(|p| !listening.contains(p)).unwrap_or(PORT);
        Postgres {
            image: image.into(),
            container: format!("{}-postgres", app.name),
            name: app.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            data_dir: format!("{dir}/data"),
            password_file: format!("{dir}/password"),
            env_file: format!("{dir}/env"),
            import_dir: format!("{dir}/import"),
            host_port,
        }
    }

    /// Whether the app's database container exists on the host already.
    pub fn exists(&self, observed: &Observed) -> bool {
        observed.containers.iter().any(|c| c.name == self.container)
    }

    /// The app's DATABASE_URL: the container by name on the app's network.
    pub fn url_value(&self) -> VmFileValue {
        VmFileValue {
            name: DATABASE_URL.into(),
            path: self.password_file.clone(),
            template: format!("postgres://{0}:{{file}}@{1}:{PORT}/{0}?sslmode=disable", self.name, self.container),
        }
    }

    /// The password, the container's own env file, and the container (one
    /// that exists already is only started if it is stopped).
    pub fn actions(&self, app: &VmApp, observed: &Observed, wait_timeout_ms: u64) -> Vec<Action> {
        let target = observed.target.name.as_str();
        vec![
            action(
                format!("vm-secret:{target}:{}", self.password_file),
                format!("make the database password in {} (mode 600, on the host; kept if it exists)", self.password_file),
                Risk::Safe,
                Operation::Vm(VmOp::Secret(VmSecret { target: target.into(), path: self.password_file.clone() })),
                // The data directory an undo leaves was initialized with it.
                Undo::None("the password stays beside the database files it opens".into()),
            ),
            action(
                format!("vm-env-file:{target}:{}", self.container),
                format!("write {} (mode 600): POSTGRES_USER, POSTGRES_DB and POSTGRES_PASSWORD for {}", self.env_file, self.container),
                Risk::Safe,
                Operation::Vm(VmOp::EnvFile(VmEnvFile {
                    target: target.into(),
                    path: self.env_file.clone(),
                    env: vec![("POSTGRES_USER".into(), self.name.clone()), ("POSTGRES_DB".into(), self.name.clone())],
                    secrets: Vec::new(),
                    from_files: vec![VmFileValue { name: "POSTGRES_PASSWORD".into(), path: self.password_file.clone(), template: "{file}".into() }],
                })),
                Undo::RestorePrevious,
            ),
            self.run(app, target, wait_timeout_ms, self.exists(observed)),
        ]
    }

    fn run(&self, app: &VmApp, target: &str, wait_timeout_ms: u64, exists: bool) -> Action {
        let ready = ["pg_isready", "-q", "-h", "127.0.0.1", "-U", &self.name, "-d", &self.name].map(String::from).to_vec();
        let container = VmContainer {
            target: target.into(),
            name: self.container.clone(),
            image: self.image.clone(),
            env_file: Some(self.env_file.clone()),
            env: Vec::new(),
            ports: vec![VmPort { host_ip: "127.0.0.1".into(), host_port: self.host_port, container_port: PORT }],
            volumes: vec![(self.data_dir.clone(), "/var/lib/postgresql/data".into())],
            network: Some(app.name.clone()),
            labels: vec![(LABEL_APP.into(), app.name.clone()), (LABEL_ROLE.into(), "postgres".into())],
            command: Vec::new(),
            health: Some(VmHealth { port: self.host_port, path: String::new(), timeout_ms: wait_timeout_ms, exec: ready }),
        };
        let summary = if exists {
            format!("keep {} running (it exists: started if stopped, not re-created); ready when pg_isready answers", self.container)
        } else {
            format!(
                "start {} ({}) on the network {} and 127.0.0.1:{} only, data in {}; ready when pg_isready answers",
                self.container, self.image, app.name, self.host_port, self.data_dir
            )
        };
        action(format!("vm-run:{target}:{}", self.container), summary, Risk::Safe, Operation::Vm(VmOp::Run(container)), Undo::RestorePrevious)
    }
}
