//! Emulated images: what a machine's process does, registered by tests
//! through the control API, and the parsing of image references into the
//! `image_ref` object Fly returns.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How the process of a machine running this image behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageBehaviour {
    pub kind: ImageKind,
    /// How long the VM takes to boot: the machine stays `starting` this
    /// long before its process runs (a start returns before it is
    /// `started`, as Fly's does).
    pub boot_delay_ms: u64,
    /// Delay before the process listens (or crashes).
    pub start_delay_ms: u64,
    /// For `crash-after`: how long the process serves before exiting.
    pub crash_after_ms: u64,
    /// Exit code of `crash` and `crash-after`.
    pub exit_code: Option<i32>,
    /// Text included in every response; defaults to the image tag.
    pub body: Option<String>,
    /// For `unhealthy`: the only path that fails; every path fails when unset.
    pub health_path: Option<String>,
    /// Release-command machines: exit code, printed lines and run time.
    pub release_exit_code: i32,
    pub release_output: Vec<String>,
    pub release_duration_ms: u64,
    /// How long the process takes to shut down after SIGINT or SIGTERM
    /// (it exits 0 then), like a database flushing; 0 = the signal kills it.
    pub stop_delay_ms: u64,
}

impl ImageBehaviour {
    /// The exit code `crash` and `crash-after` images exit with (default 1).
    pub fn crash_exit_code(&self) -> i32 {
        self.exit_code.unwrap_or(1)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageKind {
    /// Listens on every port and answers 200.
    #[default]
    Healthy,
    /// Exits with `exit_code` right after start.
    Crash,
    /// Listens, but answers 500.
    Unhealthy,
    /// Healthy for `crash_after_ms`, then exits with `exit_code`.
    CrashAfter,
    /// Runs the machine's own command (`init.exec`, else `init.entrypoint`
    /// followed by `init.cmd`) as a real process on this host, with its
    /// volume and files under `/mnt` (see `job.rs`). For machines whose
    /// effects a test must see for real, such as a job that copies a
    /// volume's bytes out.
    Exec,
}

/// The `image_ref` object of a machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    pub registry: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
}

impl ImageRef {
    /// Splits `registry/repository:tag@digest` the way Docker does: the first
    /// path component is a registry when it looks like a host. A reference
    /// without a digest gets a stable fake one derived from the reference.
    pub fn parse(reference: &str) -> ImageRef {
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, digest.to_string()),
            None => (reference, format!("sha256:{}", hex::encode(Sha256::digest(reference)))),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => (first.to_string(), rest),
            _ => ("docker.io".to_string(), name),
        };
        let last_slash = path.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match path[last_slash..].rfind(':') {
            Some(colon) => {
                let colon = last_slash + colon;
                (path[..colon].to_string(), path[colon + 1..].to_string())
            }
            None => (path.to_string(), "latest".to_string()),
        };
        ImageRef { registry, repository, tag, digest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fly_registry_references() {
        let parsed = ImageRef::parse("registry.fly.io/my-app:deployment-01H");
        assert_eq!(parsed.registry, "registry.fly.io");
        assert_eq!(parsed.repository, "my-app");
        assert_eq!(parsed.tag, "deployment-01H");
        assert!(parsed.digest.starts_with("sha256:"));
    }

    #[test]
    fn parses_hub_references_and_digests() {
        let parsed = ImageRef::parse("nginx");
        assert_eq!((parsed.registry.as_str(), parsed.repository.as_str()), ("docker.io", "nginx"));
        assert_eq!(parsed.tag, "latest");
        let pinned = ImageRef::parse("localhost:5000/team/app:v2@sha256:abc");
        assert_eq!(pinned.registry, "localhost:5000");
        assert_eq!(pinned.repository, "team/app");
        assert_eq!(pinned.tag, "v2");
        assert_eq!(pinned.digest, "sha256:abc");
    }

    #[test]
    fn behaviour_rejects_unknown_fields() {
        let typo = serde_json::from_str::<ImageBehaviour>(r#"{"kind":"healthy","start_dealy_ms":5}"#);
        assert!(typo.is_err());
        let crash: ImageBehaviour = serde_json::from_str(r#"{"kind":"crash-after"}"#).unwrap();
        assert_eq!(crash.kind, ImageKind::CrashAfter);
        assert_eq!(crash.crash_exit_code(), 1);
        let exec: ImageBehaviour = serde_json::from_str(r#"{"kind":"exec"}"#).unwrap();
        assert_eq!(exec.kind, ImageKind::Exec);
    }
}
