//! A "VM" for tests: a network namespace with a real sshd inside, reached
//! from the root namespace over a veth pair. Real enough that host-key
//! pinning, authentication and rsync behave as against a rented server,
//! cheap enough (~100 ms) for one per test. Needs root, `ip` and `sshd`.
//! [`Vm::start_with_docker`] adds a Docker engine inside the namespace
//! (~1 s), with a busybox base image imported (no registry is reachable),
//! and sshd sessions get its `DOCKER_HOST`, so `docker` over SSH is the
//! VM's own Docker.
#![allow(dead_code)]

use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use ferry_ssh::{HostSpec, SshKey, SshOptions};

const MISSING: &str = "install openssh-server and iproute2 (scripts/install-deps --test)";
const SSHD: &str = "/usr/sbin/sshd";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One namespace + sshd, torn down on drop (also when the test panics).
#[derive(Debug)]
pub struct Vm {
    netns: String,
    veth_host: String,
    addr: Ipv4Addr,
    dir: tempfile::TempDir,
    sshd_pid: Option<u32>,
    dockerd_pid: Option<u32>,
}

/// The image every Docker VM has: busybox, `CMD ["/bin/sh"]`.
pub const BASE_IMAGE: &str = "localhost/base";

impl Vm {
    /// Creates the netns and veth, starts sshd in it, and returns once sshd
    /// accepts connections.
    pub fn start() -> Vm {
        Vm::start_with(false)
    }

    /// A VM that also runs dockerd (see the module docs).
    pub fn start_with_docker() -> Vm {
        Vm::start_with(true)
    }

    fn start_with(docker: bool) -> Vm {
        for tool in ["/usr/sbin/ip", SSHD, "/usr/bin/ssh-keygen", "/usr/bin/nsenter"] {
            assert!(Path::new(tool).exists() || which(tool), "{tool} not found: {MISSING}");
        }
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let k = (pid + n) % 250;
        let dir = tempfile::Builder::new().prefix("ferry-vm-").tempdir().expect("temp dir");
        let mut vm = Vm {
            netns: format!("fvm-{}-{n}", pid % 10000),
            veth_host: format!("fh{}x{n}", pid % 10000),
            addr: Ipv4Addr::new(10, 201, k as u8, 2),
            dir,
            sshd_pid: None,
            dockerd_pid: None,
        };
        vm.create_network(k);
        vm.assert_route_is_local();
        if docker {
            vm.start_dockerd();
        }
        vm.start_sshd();
        vm
    }

    /// A local `docker` client for the VM's engine (a unix socket: no
    /// network), to arrange or inspect what a test needs.
    pub fn docker(&self) -> Command {
        assert!(self.dockerd_pid.is_some(), "this VM has no Docker: use Vm::start_with_docker");
        let mut cmd = Command::new("docker");
        cmd.arg("-H").arg(self.docker_host());
        cmd
    }

    fn docker_host(&self) -> String {
        format!("unix://{}/docker/docker.sock", self.dir().display())
    }

    fn start_dockerd(&mut self) {
        for tool in ["/usr/sbin/dockerd", "/usr/bin/docker", "/usr/bin/busybox"] {
            assert!(Path::new(tool).exists(), "{tool} not found: install docker.io and busybox-static (scripts/install-deps --test)");
        }
        let root = self.dir().join("docker");
        fs::create_dir_all(&root).expect("docker dir");
        let log = fs::File::create(root.join("dockerd.log")).expect("dockerd.log");
        // nsenter, not `ip netns exec`: the latter remounts /sys and hides
        // the cgroup filesystem runc needs.
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.netns))
            .arg("dockerd")
            .arg("--data-root").arg(root.join("data"))
            .arg("--exec-root").arg(root.join("exec"))
            .arg("--pidfile").arg(root.join("dockerd.pid"))
            .arg("-H").arg(self.docker_host())
            .args(["--storage-driver", "overlay2"])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        self.dockerd_pid = Some(child.id());
        let ready = poll(|| self.docker().arg("version").output().ok().filter(|o| o.status.success()).map(drop));
        assert!(ready.is_some(), "dockerd did not start; log:\n{}", fs::read_to_string(root.join("dockerd.log")).unwrap_or_default());
        self.import_base_image(&root);
    }

    /// busybox as a one-layer image, as `docker import` makes it.
    fn import_base_image(&self, root: &Path) {
        let rootfs = root.join("rootfs");
        fs::create_dir_all(rootfs.join("bin")).expect("rootfs");
        fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox")).expect("busybox");
        for applet in ["sh", "httpd", "echo", "cat", "sleep", "wget", "mkdir", "ls", "test", "true", "false", "env", "nc"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).expect("applet link");
        }
        let tar = root.join("base.tar");
        run(Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg("."));
        run(self.docker().args(["import", "-c", "CMD [\"/bin/sh\"]"]).arg(&tar).arg(BASE_IMAGE));
    }

    pub fn host(&self) -> HostSpec {
        HostSpec { user: "root".into(), host: self.addr.to_string(), port: 22 }
    }

    /// The client key and the pinned known_hosts line for the VM's host key.
    pub fn options(&self) -> SshOptions {
        let mut options = SshOptions::new(SshKey::new(self.client_key()), self.known_hosts());
        options.connect_timeout = Duration::from_secs(5);
        options
    }

    /// A known_hosts line with a different key for the same address.
    pub fn wrong_known_hosts(&self) -> String {
        self.known_hosts_line("otherkey.pub")
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Scratch dir for the test; the VM shares the filesystem, so files
    /// written here remotely can be inspected directly.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// sshd's log, e.g. to check that nobody logged in.
    pub fn sshd_log(&self) -> String {
        fs::read_to_string(self.dir().join("sshd.log")).unwrap_or_default()
    }

    /// The client's private key (OpenSSH PEM), as a CI secret would hold it.
    pub fn client_key(&self) -> String {
        fs::read_to_string(self.dir().join("client")).expect("client key")
    }

    /// The pinned known_hosts line for the VM's real host key.
    pub fn known_hosts(&self) -> String {
        self.known_hosts_line("hostkey.pub")
    }

    fn known_hosts_line(&self, pub_file: &str) -> String {
        let public = fs::read_to_string(self.dir().join(pub_file)).expect("public key");
        let mut words = public.split_whitespace();
        let (kind, key) = (words.next().expect("key type"), words.next().expect("key"));
        format!("{} {kind} {key}\n", self.addr)
    }

    fn create_network(&self, k: u32) {
        let (ns, a) = (self.netns.as_str(), self.veth_host.as_str());
        let b = a.replacen("fh", "fv", 1);
        let host_cidr = format!("10.201.{k}.1/30");
        let vm_cidr = format!("{}/30", self.addr);
        let _ = Command::new("ip").args(["netns", "del", ns]).output(); // leftover of a crashed run
        ip(&["netns", "add", ns]);
        ip(&["link", "add", a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &b, "netns", ns]);
        ip(&["addr", "add", &host_cidr, "dev", a]);
        ip(&["link", "set", a, "up"]);
        ip(&["-n", ns, "addr", "add", &vm_cidr, "dev", &b]);
        ip(&["-n", ns, "link", "set", &b, "up"]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);
    }

    /// SAFETY: the client lives in the root namespace; if setup went wrong,
    /// traffic to the VM address would leave the machine via the default
    /// gateway. Refuse to connect unless the route is our veth.
    fn assert_route_is_local(&self) {
        let route = ip(&["route", "get", &self.addr.to_string()]);
        let expected = format!("dev {} ", self.veth_host);
        assert!(route.contains(&expected), "route to {} does not use {}: {route}", self.addr, self.veth_host);
    }

    fn start_sshd(&mut self) {
        let dir = self.dir().to_path_buf();
        for name in ["hostkey", "client", "otherkey"] {
            keygen(&dir.join(name));
        }
        fs::copy(dir.join("client.pub"), dir.join("authorized_keys")).expect("authorized_keys");
        fs::set_permissions(dir.join("authorized_keys"), fs::Permissions::from_mode(0o600)).expect("chmod");
        fs::create_dir_all("/run/sshd").expect("/run/sshd");
        fs::set_permissions("/run/sshd", fs::Permissions::from_mode(0o755)).expect("chmod /run/sshd");
        let config = self.write_config(&dir);
        run(Command::new(SSHD).arg("-t").arg("-f").arg(&config));
        let netns = format!("--net=/run/netns/{}", self.netns);
        run(Command::new("nsenter").arg(netns).arg(SSHD).arg("-f").arg(&config).arg("-E").arg(dir.join("sshd.log")));
        self.sshd_pid = Some(self.wait_for_pidfile(&dir.join("sshd.pid")));
        self.wait_for_port();
    }

    fn write_config(&self, dir: &Path) -> PathBuf {
        let d = dir.display();
        let config = format!(
            "ListenAddress {}:22\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nSubsystem sftp internal-sftp\n",
            self.addr
        );
        let config = if self.dockerd_pid.is_some() { format!("{config}SetEnv DOCKER_HOST={}\n", self.docker_host()) } else { config };
        let path = dir.join("sshd_config");
        fs::write(&path, config).expect("sshd_config");
        path
    }

    fn wait_for_pidfile(&self, path: &Path) -> u32 {
        let pid = poll(|| fs::read_to_string(path).ok().and_then(|s| s.trim().parse().ok()));
        pid.unwrap_or_else(|| panic!("sshd did not start; log:\n{}", self.sshd_log()))
    }

    fn wait_for_port(&self) {
        let addr = SocketAddr::from((self.addr, 22));
        let ok = poll(|| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok().map(drop));
        assert!(ok.is_some(), "sshd does not accept connections on {addr}; log:\n{}", self.sshd_log());
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Some(pid) = self.dockerd_pid {
            // Containers first (they live in namespaces of their own), then
            // the engine, which takes its containerd with it.
            if let Ok(out) = self.docker().args(["ps", "-aq"]).output() {
                let ids: Vec<String> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect();
                if !ids.is_empty() {
                    let _ = self.docker().args(["rm", "-f"]).args(&ids).output();
                }
            }
            let _ = Command::new("kill").arg(pid.to_string()).output();
            let gone = poll(|| (!Path::new(&format!("/proc/{pid}")).exists() || zombie(pid)).then_some(()));
            if gone.is_none() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
            }
        }
        if let Some(pid) = self.sshd_pid {
            let _ = Command::new("kill").arg(pid.to_string()).output();
        }
        // Per-connection sshd children outlive the listener; everything in
        // this namespace is ours.
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.netns]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).output();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).output();
        let _ = Command::new("ip").args(["link", "del", &self.veth_host]).output();
    }
}

/// A child we never waited for shows as a zombie once it exited.
fn zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
}

fn which(tool: &str) -> bool {
    let name = Path::new(tool).file_name().and_then(|n| n.to_str()).unwrap_or(tool);
    Command::new("sh").args(["-c", &format!("command -v {name}")]).output().is_ok_and(|o| o.status.success())
}

fn ip(args: &[&str]) -> String {
    run(Command::new("ip").args(args))
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "ferry-vm", "-f"]).arg(path));
}

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}: {MISSING}"));
    assert!(out.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `probe` every 10 ms for up to 10 s.
fn poll<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(value) = probe() {
            return Some(value);
        }
        sleep(Duration::from_millis(10));
    }
    None
}
