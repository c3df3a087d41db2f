//! Debian's `docker-registry` (distribution 2.8) on a free 127.0.0.1 port,
//! with TLS from a test CA and htpasswd basic auth, as
//! `../shared/reference/build-push.md` §4 sets it up: its own config (the
//! packaged one listens on every interface), bcrypt passwords (the only kind
//! it reads), storage in a temporary directory. Stopped by PID on drop.

use std::fs;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::tls_servers::Ca;

const MISSING: &str = "install docker-registry and apache2-utils (scripts/install-deps --test)";

/// A running registry.
pub struct Registry {
    dir: tempfile::TempDir,
    child: Child,
    /// `127.0.0.1:<port>`: the registry part of an image reference.
    pub host: String,
    pub user: String,
    pub password: String,
}

impl Registry {
    /// A registry that accepts `user`/`password` and nobody else.
    pub fn start(user: &str, password: &str) -> Registry {
        Registry::serve(None, &format!("127.0.0.1:{}", crate::free_tcp_port()), user, password)
    }

    /// The same registry inside the network namespace `netns`, listening on
    /// `addr` there (a [`crate::vm::Vm`]'s address): reachable from this
    /// namespace over the VM's veth, and from what runs in that namespace
    /// (its dockerd, a build's `RUN` steps) where loopback here is not.
    pub fn start_in(netns: &str, addr: std::net::Ipv4Addr, user: &str, password: &str) -> Registry {
        Registry::serve(Some(netns), &format!("{addr}:5000"), user, password)
    }

    fn serve(netns: Option<&str>, host: &str, user: &str, password: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("ferry test registry CA");
        let ip = host.rsplit_once(':').map(|(ip, _)| ip).unwrap_or(host);
        let leaf = ca.leaf(&[ip, "localhost"]);
        fs::write(dir.path().join("domain.crt"), &leaf.cert_pem).unwrap();
        fs::write(dir.path().join("domain.key"), &leaf.key_pem).unwrap();
        // Where buildah and skopeo look for the CA (`--cert-dir`), and curl's `--cacert`.
        fs::create_dir(dir.path().join("certs")).unwrap();
        fs::write(dir.path().join("certs/ca.crt"), ca.pem()).unwrap();
        let htpasswd = Command::new("htpasswd").args(["-Bbn", user, password]).output().unwrap_or_else(|e| panic!("htpasswd: {e}: {MISSING}"));
        assert!(htpasswd.status.success(), "htpasswd: {}", String::from_utf8_lossy(&htpasswd.stderr));
        fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).unwrap();

        let host = host.to_string();
        let root = dir.path().display();
        let config = format!(
            "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {root}/data}}\n  delete: {{enabled: true}}\n\
             http:\n  addr: {host}\n  tls: {{certificate: {root}/domain.crt, key: {root}/domain.key}}\n\
             auth:\n  htpasswd: {{realm: ferry-test, path: {root}/htpasswd}}\n"
        );
        fs::write(dir.path().join("config.yml"), config).unwrap();
        let log = fs::File::create(dir.path().join("registry.log")).unwrap();
        let mut command = match netns {
            Some(netns) => {
                let mut nsenter = Command::new("nsenter");
                nsenter.arg(format!("--net=/run/netns/{netns}")).arg("docker-registry");
                nsenter
            }
            None => Command::new("docker-registry"),
        };
        let child = command
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("docker-registry: {e}: {MISSING}"));
        let registry = Registry { dir, child, host, user: user.into(), password: password.into() };
        registry.wait_listening();
        registry
    }

    fn wait_listening(&self) {
        let listening = crate::poll_for(Duration::from_secs(20), || TcpStream::connect(&self.host).ok().map(drop));
        assert!(listening.is_some(), "docker-registry did not listen on {}: {}", self.host, self.log());
    }

    /// A directory holding the CA as `ca.crt` (buildah's `--cert-dir`).
    pub fn cert_dir(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// The CA certificate's file, for curl's `--cacert`.
    pub fn ca_file(&self) -> PathBuf {
        self.cert_dir().join("ca.crt")
    }

    /// What the registry logged.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
