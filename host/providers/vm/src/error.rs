use ferry_ssh::SshError;

#[derive(Debug, thiserror::Error)]
pub enum VmError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error("{host}: {message}")]
    Host { host: String, message: String },
    #[error("{host}: could not read `{what}` from docker: {message}")]
    Parse { host: String, what: String, message: String },
    #[error("building the image's context: {0}")]
    Local(std::io::Error),
    /// A command run on this machine, not the host (`docker save`).
    #[error("{command} here: {message}")]
    LocalCommand { command: String, message: String },
    #[error("container {container} {message}")]
    Unhealthy { container: String, message: String },
}
