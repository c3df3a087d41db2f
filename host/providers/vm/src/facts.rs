//! A host's facts, read in one round trip by a POSIX `sh` script that
//! prints `key=value` lines, so the parsing is local and testable.

use serde::{Deserialize, Serialize};

use crate::{DockerHost, VmError};

/// What the provision planner needs to know about a host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFacts {
    /// `PRETTY_NAME` from /etc/os-release, e.g. "Debian GNU/Linux 12 (bookworm)".
    pub os: String,
    /// `uname -m`, e.g. `x86_64`.
    pub arch: String,
    /// The engine's server version; `None` when Docker is missing or not
    /// reachable by the login user.
    pub docker: Option<String>,
    /// Free megabytes on the filesystem that holds `root` (or its nearest
    /// existing parent).
    pub free_disk_mb: Option<u64>,
    /// TCP ports something listens on, ascending.
    pub listening_ports: Vec<u16>,
    /// Whether nginx is installed.
    pub nginx: bool,
    /// Whether certbot is installed (it renews an ACME certificate there).
    pub certbot: bool,
}

impl DockerHost<'_> {
    /// Reads the host's facts; `root` is where the app's files will live.
    pub fn facts(&self, root: &str) -> Result<HostFacts, VmError> {
        let script = format!(
            r#"if [ -r /etc/os-release ]; then . /etc/os-release; fi; echo "os=${{PRETTY_NAME:-unknown}}"
echo "arch=$(uname -m)"
echo "docker=$({docker} version --format '{{{{.Server.Version}}}}' 2>/dev/null)"
d={root}; while [ ! -e "$d" ]; do d=$(dirname "$d"); done
echo "disk=$(df -Pm "$d" 2>/dev/null | awk 'NR==2 {{print $4}}')"
echo "ports=$( (ss -Htln 2>/dev/null || netstat -tln 2>/dev/null | tail -n +3) | awk '{{print $4}}' | sed 's/.*://' | sort -nu | tr '\n' ' ')"
if command -v nginx >/dev/null 2>&1; then echo nginx=yes; else echo nginx=no; fi
if command -v certbot >/dev/null 2>&1; then echo certbot=yes; else echo certbot=no; fi"#,
            docker = self.docker,
            root = ferry_ssh::shell_quote(root),
        );
        Ok(parse_facts(&self.run(&script)?))
    }
}

/// Parses the facts script's output; unknown keys and unparsable values
/// are left at their defaults rather than failing a plan.
pub fn parse_facts(text: &str) -> HostFacts {
    let mut facts = HostFacts::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        match key {
            "os" => facts.os = value.to_string(),
            "arch" => facts.arch = value.to_string(),
            "docker" => facts.docker = Some(value.to_string()).filter(|v| !v.is_empty()),
            "disk" => facts.free_disk_mb = value.parse().ok(),
            "ports" => facts.listening_ports = value.split_whitespace().filter_map(|p| p.parse().ok()).collect(),
            "nginx" => facts.nginx = value == "yes",
            "certbot" => facts.certbot = value == "yes",
            _ => {}
        }
    }
    facts.listening_ports.sort_unstable();
    facts.listening_ports.dedup();
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fact_and_tolerates_missing_ones() {
        let facts = parse_facts("os=Debian GNU/Linux 12 (bookworm)\narch=x86_64\ndocker=20.10.24+dfsg1\ndisk=51234\nports=22 80 443 80 \nnginx=yes\n");
        assert_eq!(facts.os, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(facts.docker.as_deref(), Some("20.10.24+dfsg1"));
        assert_eq!(facts.free_disk_mb, Some(51234));
        assert_eq!(facts.listening_ports, [22, 80, 443]);
        assert!(facts.nginx);

        let bare = parse_facts("os=unknown\narch=aarch64\ndocker=\ndisk=\nports=\nnginx=no\nnoise\n");
        assert_eq!((bare.docker, bare.free_disk_mb, bare.nginx), (None, None, false));
        assert!(bare.listening_ports.is_empty());
    }
}
