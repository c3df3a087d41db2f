//! A "VM" for tests: a network namespace with a real sshd inside, reached
//! from the root namespace over a veth pair. Real enough that host-key
//! pinning, authentication and rsync behave as against a rented server,
//! cheap enough (~100 ms) for one per test. Needs root, `ip` and `sshd`.
//! [`Vm::start_with_docker`] adds a Docker engine inside the namespace
//! (~1 s), with a busybox base image imported (no registry is reachable),
//! and sshd sessions get its `DOCKER_HOST`, so `docker` over SSH is the
//! VM's own Docker. [`Vm::start_with_docker_and_nginx`] also runs nginx
//! in front of it, as ferry's proxy does on a real host, and [`Client`] is
//! a second namespace wired straight to the VM, to request pages from it
//! while it deploys.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use ferry_ssh::{HostSpec, SshKey, SshOptions, shell_quote};

const MISSING: &str = "install openssh-server and iproute2 (scripts/install-deps --test)";
const SSHD: &str = "/usr/sbin/sshd";
const NGINX: &str = "/usr/sbin/nginx";

static COUNTER: AtomicU32 = AtomicU32::new(0);
static CLIENTS: AtomicU32 = AtomicU32::new(0);

/// One namespace + sshd, torn down on drop (also when the test panics).
#[derive(Debug)]
pub struct Vm {
    netns: String,
    veth_host: String,
    addr: Ipv4Addr,
    dir: tempfile::TempDir,
    sshd_pid: Option<u32>,
    /// Kept to be reaped on drop (a test run leaves no zombie dockerd).
    dockerd: Option<std::process::Child>,
    nginx_pid: Option<u32>,
}

/// The image every Docker VM has: busybox, `CMD ["/bin/sh"]`.
pub const BASE_IMAGE: &str = "localhost/base";

/// The Postgres image [`Vm::import_postgres_image`] makes.
pub const POSTGRES_IMAGE: &str = "localhost/postgres:15";
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The official postgres image's interface, as far as ferry uses it:
/// `POSTGRES_USER`, `POSTGRES_PASSWORD` and `POSTGRES_DB` initialize an
/// empty `PGDATA` once (password auth over TCP), and the server drops root
/// for `postgres`; any other command (`psql …`) runs as it is.
const POSTGRES_ENTRYPOINT: &str = r#"#!/bin/sh
set -e
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R 999:999 "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec su -s /bin/sh postgres -c "PATH=$PATH exec $0 postgres"
fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  user="${POSTGRES_USER:-postgres}"
  printf '%s
' "$POSTGRES_PASSWORD" > /tmp/pwfile
  initdb -D "$PGDATA" -U "$user" --pwfile=/tmp/pwfile -E UTF8 --no-locale --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  db="${POSTGRES_DB:-$user}"
  [ "$db" = postgres ] || echo "CREATE DATABASE "$db"" | postgres --single -D "$PGDATA" postgres >/dev/null
fi
[ "$1" = postgres ] && exec postgres -D "$PGDATA" -c listen_addresses='*'
exec "$@"
"#;

impl Vm {
    /// Creates the netns and veth, starts sshd in it, and returns once sshd
    /// accepts connections.
    pub fn start() -> Vm {
        Vm::start_with(false, false)
    }

    /// A VM that also runs dockerd (see the module docs).
    pub fn start_with_docker() -> Vm {
        Vm::start_with(true, false)
    }

    /// A Docker VM that also runs nginx on port 80 (all of the VM's
    /// addresses, so [`Client`] links reach it too). With no site file it
    /// answers every request with 503 `no site`; a test writes sites into
    /// [`Vm::nginx_sites_dir`] and applies them with
    /// [`Vm::nginx_reload_command`].
    pub fn start_with_docker_and_nginx() -> Vm {
        Vm::start_with(true, true)
    }

    fn start_with(docker: bool, nginx: bool) -> Vm {
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
            dockerd: None,
            nginx_pid: None,
        };
        vm.create_network(k);
        vm.assert_route_is_local();
        if docker {
            vm.start_dockerd();
        }
        if nginx {
            vm.start_nginx();
        }
        vm.start_sshd();
        vm
    }

    /// A local `docker` client for the VM's engine (a unix socket: no
    /// network), to arrange or inspect what a test needs.
    pub fn docker(&self) -> Command {
        assert!(self.dockerd.is_some(), "this VM has no Docker: use Vm::start_with_docker");
        let mut cmd = Command::new("docker");
        cmd.arg("-H").arg(self.docker_host());
        cmd
    }

    /// `unix://…/docker.sock` of the VM's engine, for a `DOCKER_HOST`.
    pub fn docker_host(&self) -> String {
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
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("exec"))
            .arg("--pidfile")
            .arg(root.join("dockerd.pid"))
            .arg("-H")
            .arg(self.docker_host())
            .args(["--storage-driver", "overlay2"])
            // A registry a test starts in this namespace (`Registry::start_in`)
            // has a test CA, which the engine reads only from the system-wide
            // /etc/docker/certs.d: pushes to it skip verifying it instead.
            .arg("--insecure-registry")
            .arg(format!("{}/32", self.addr))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        self.dockerd = Some(child);
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

    /// Imports [`POSTGRES_IMAGE`], built from this machine's PostgreSQL 15
    /// (its binaries, their libraries, its share files) and busybox, since
    /// no registry is reachable: a few seconds, so only tests that need a
    /// database on the VM ask for it.
    pub fn import_postgres_image(&self) -> &'static str {
        assert!(Path::new(PG_BIN).join("postgres").exists(), "{PG_BIN}/postgres not found: install postgresql-15 (scripts/install-deps --test)");
        let root = self.dir().join("postgres-image");
        let rootfs = root.join("rootfs");
        for dir in ["bin", "etc", "tmp", "var/run/postgresql", "var/lib/postgresql"] {
            fs::create_dir_all(rootfs.join(dir)).expect("rootfs");
        }
        fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("tmp mode");
        fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox")).expect("busybox");
        for applet in ["sh", "id", "mkdir", "chown", "chmod", "su", "printf", "rm", "cat", "echo"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).expect("applet link");
        }
        fs::write(rootfs.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n").expect("passwd");
        fs::write(rootfs.join("etc/group"), "root:x:0:\npostgres:x:999:\n").expect("group");
        fs::write(rootfs.join("entrypoint.sh"), POSTGRES_ENTRYPOINT).expect("entrypoint");
        fs::set_permissions(rootfs.join("entrypoint.sh"), fs::Permissions::from_mode(0o755)).expect("entrypoint mode");
        let mut files: Vec<PathBuf> = ["postgres", "initdb", "pg_isready", "psql"].iter().map(|b| Path::new(PG_BIN).join(b)).collect();
        let lib = Path::new(PG_BIN).with_file_name("lib");
        files.extend(fs::read_dir(&lib).expect("pg lib").filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "so")));
        let mut libraries: Vec<PathBuf> = files.iter().flat_map(|f| shared_libraries(f)).collect();
        libraries.sort();
        libraries.dedup();
        for file in files.iter().chain(&libraries) {
            let to = rootfs.join(file.strip_prefix("/").expect("absolute"));
            fs::create_dir_all(to.parent().expect("parent")).expect("lib dir");
            fs::copy(file, &to).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        for shared in ["/usr/share/postgresql/15", "/usr/share/zoneinfo"] {
            let to = rootfs.join(&shared[1..]);
            fs::create_dir_all(to.parent().expect("parent")).expect("share dir");
            run(Command::new("cp").arg("-a").arg(shared).arg(&to));
        }
        let tar = root.join("postgres.tar");
        run(Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg("."));
        let config = [
            "ENV PGDATA=/var/lib/postgresql/data".to_string(),
            format!("ENV PATH={PG_BIN}:/bin"),
            "ENV TZ=UTC".into(),
            "ENTRYPOINT [\"/entrypoint.sh\"]".into(),
            "CMD [\"postgres\"]".into(),
        ];
        let mut import = self.docker();
        import.arg("import");
        for line in &config {
            import.arg("-c").arg(line);
        }
        run(import.arg(&tar).arg(POSTGRES_IMAGE));
        POSTGRES_IMAGE
    }

    /// Where site files go: every `*.conf` here is included in nginx's
    /// `http` block on the next reload.
    pub fn nginx_sites_dir(&self) -> PathBuf {
        self.nginx_dir().join("sites")
    }

    /// A shell command that, run on the VM (over SSH or in its namespace),
    /// checks the config and gracefully reloads this nginx, as a deploy
    /// would. `-e` keeps even the startup log out of /var/log/nginx. The
    /// reload is asynchronous: the new workers take over shortly after the
    /// command returns.
    pub fn nginx_reload_command(&self) -> String {
        let nginx = self.nginx_invocation();
        format!("{nginx} -t && {nginx} -s reload")
    }

    /// The `[targets.vm.<name>]` block of a ferry.toml deploying to this VM:
    /// the app under `<dir>/srv`, this nginx, the key and the pinned host
    /// key in `FERRY_SECRET_VM_KEY` and `FERRY_SECRET_VM_KNOWN_HOSTS`.
    pub fn ferry_target(&self, name: &str) -> String {
        format!(
            "[targets.vm.{name}]\nhost = \"root@{}:22\"\nssh_key_env = \"FERRY_SECRET_VM_KEY\"\nknown_hosts_env = \"FERRY_SECRET_VM_KNOWN_HOSTS\"\nroot = \"{}\"\nnginx_sites = \"{}\"\nnginx_reload = \"{}\"\n",
            self.addr,
            self.dir().join("srv").display(),
            self.nginx_sites_dir().display(),
            self.nginx_reload_command().replace('"', "\\\""),
        )
    }

    /// The environment `ferry_target` names: the client key and the pinned
    /// host key, as CI secrets would hold them.
    pub fn ferry_env(&self) -> [(&'static str, String); 2] {
        [("FERRY_SECRET_VM_KEY", self.client_key()), ("FERRY_SECRET_VM_KNOWN_HOSTS", self.known_hosts())]
    }

    fn nginx_dir(&self) -> PathBuf {
        self.dir().join("nginx")
    }

    /// `nginx -c <conf> -e <log>`: this VM's nginx rather than the package's
    /// defaults under /etc/nginx and /var/log/nginx.
    fn nginx_invocation(&self) -> String {
        let dir = self.nginx_dir();
        let (conf, log) = (dir.join("nginx.conf"), dir.join("error.log"));
        format!("{NGINX} -c {} -e {}", shell_quote(&conf.to_string_lossy()), shell_quote(&log.to_string_lossy()))
    }

    fn start_nginx(&mut self) {
        assert!(Path::new(NGINX).exists(), "{NGINX} not found: install nginx-light (scripts/install-deps --test)");
        let dir = self.nginx_dir();
        fs::create_dir_all(self.nginx_sites_dir()).expect("nginx sites dir");
        fs::write(dir.join("nginx.conf"), self.nginx_config(&dir)).expect("nginx.conf");
        let netns = format!("--net=/run/netns/{}", self.netns);
        // `daemon on`: nsenter returns once the master has bound port 80
        // and forked; the master's PID is in the pid file shortly after.
        run(Command::new("nsenter").arg(&netns).arg("sh").arg("-c").arg(self.nginx_invocation()));
        let pid = poll(|| fs::read_to_string(dir.join("nginx.pid")).ok().and_then(|s| s.trim().parse().ok()));
        self.nginx_pid = Some(pid.unwrap_or_else(|| panic!("nginx did not start; log:\n{}", self.nginx_log())));
        let addr = SocketAddr::from((self.addr, 80));
        let ok = poll(|| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok().map(drop));
        assert!(ok.is_some(), "nginx does not accept connections on {addr}; log:\n{}", self.nginx_log());
    }

    /// Everything nginx writes stays in `dir`. Sites are included before
    /// the fallback server, so the first site file (if any) is the default
    /// server for port 80 and the fallback only answers while there is none
    /// (its name only keeps nginx from warning about two unnamed servers).
    /// `user root`: workers must write the temp paths in our 0700 temp dir.
    fn nginx_config(&self, dir: &Path) -> String {
        let d = dir.display();
        let temp: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].iter().map(|kind| format!("    {kind}_temp_path {d}/{kind}_temp;\n")).collect();
        format!(
            r#"user root;
daemon on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {d}/access.log;
{temp}    default_type text/plain;
    include {d}/sites/*.conf;
    server {{
        listen 80;
        server_name no-site.invalid;
        location / {{ return 503 "no site"; }}
    }}
}}
"#
        )
    }

    /// The master's worker processes. Right after a reload there are old
    /// ones (still serving the previous config) next to the new; once only
    /// new ones are left, every request gets the new config.
    pub fn nginx_worker_pids(&self) -> Vec<u32> {
        let master = self.nginx_pid.expect("this VM has no nginx: use Vm::start_with_docker_and_nginx");
        let out = Command::new("pgrep").args(["-P", &master.to_string()]).output().expect("pgrep");
        String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|pid| pid.parse().ok()).collect()
    }

    /// nginx's error log, for failure messages.
    pub fn nginx_log(&self) -> String {
        fs::read_to_string(self.nginx_dir().join("error.log")).unwrap_or_default()
    }

    fn stop_nginx(&self, pid: u32) {
        // SIGQUIT: graceful, workers finish their requests and exit.
        let _ = Command::new("kill").args(["-QUIT", &pid.to_string()]).output();
        if !wait_gone(pid, Duration::from_secs(5)) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
        }
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
        let config = if self.dockerd.is_some() { format!("{config}SetEnv DOCKER_HOST={}\n", self.docker_host()) } else { config };
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
        if let Some(pid) = self.nginx_pid {
            self.stop_nginx(pid);
        }
        if let Some(pid) = self.dockerd.as_ref().map(std::process::Child::id) {
            // Containers first (they live in namespaces of their own), then
            // the engine, which takes its containerd with it.
            if let Ok(out) = self.docker().args(["ps", "-aq"]).output() {
                let ids: Vec<String> = String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect();
                if !ids.is_empty() {
                    let _ = self.docker().args(["rm", "-f"]).args(&ids).output();
                }
            }
            let _ = Command::new("kill").arg(pid.to_string()).output();
            if !wait_gone(pid, Duration::from_secs(10)) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).output();
            }
            if let Some(mut child) = self.dockerd.take() {
                let _ = child.wait();
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

/// A second namespace, linked to a VM by a veth pair of its own, so its
/// requests to the VM never touch the root namespace (nor the machine's
/// network). Requests run with `ip netns exec <ns> curl`.
#[derive(Debug)]
pub struct Client {
    netns: String,
    veth: String,
    vm_addr: Ipv4Addr,
}

impl Client {
    /// Creates netns `fcl-<pid>-<n>` and a veth pair with one end in it and
    /// the other in the VM's namespace, on a /30 of its own in 10.202.x.0.
    pub fn connect(vm: &Vm) -> Client {
        let n = CLIENTS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let k = (pid + n) % 250;
        let client = Client { netns: format!("fcl-{}-{n}", pid % 10000), veth: format!("fc{}x{n}", pid % 10000), vm_addr: Ipv4Addr::new(10, 202, k as u8, 2) };
        client.create_network(vm, k);
        client.assert_route_is_local();
        client
    }

    /// The VM's address on this client's link.
    pub fn vm_addr(&self) -> Ipv4Addr {
        self.vm_addr
    }

    /// This namespace's own address on that link.
    pub fn addr(&self) -> Ipv4Addr {
        let [a, b, c, _] = self.vm_addr.octets();
        Ipv4Addr::new(a, b, c, 1)
    }

    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Routes the VM's root-facing address ([`Vm::addr`]) over this
    /// client's own link too, so a process here reaches the VM at the same
    /// address ferry does, without the root namespace (which has no route
    /// into this one): a stand-in for Fly's network reaching a server's
    /// public address.
    pub fn route_to_vm_address(&self, vm: &Vm) {
        ip(&["-n", &self.netns, "route", "add", &format!("{}/32", vm.addr()), "via", &self.vm_addr.to_string()]);
        let route = ip(&["-n", &self.netns, "route", "get", &vm.addr().to_string()]);
        assert!(route.contains(&format!("dev {} ", self.veth)), "route to {} in {} does not use {}: {route}", vm.addr(), self.netns, self.veth);
    }

    /// GET `path` from the VM's port 80: status and body (status 0 if no
    /// response came within 5 s).
    pub fn get(&self, path: &str) -> (u16, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.netns, "curl", "-s", "-m", "5", "-o", "-", "-w", "\n%{http_code}"])
            .arg(self.url(path))
            .output()
            .unwrap_or_else(|e| panic!("curl in {}: {e}: install curl", self.netns));
        let text = String::from_utf8_lossy(&out.stdout);
        let (body, code) = text.rsplit_once('\n').unwrap_or_else(|| panic!("curl printed no status: {text:?}"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Starts back-to-back GETs of `path` (each with a 5 s limit, 20 ms
    /// apart) until [`RequestLoop::stop`]; one status code per request.
    pub fn start_loop(&self, path: &str) -> RequestLoop {
        let dir = tempfile::Builder::new().prefix("ferry-loop-").tempdir().expect("temp dir");
        let codes = dir.path().join("codes");
        let script = format!(
            "while :; do curl -s -m 5 -o /dev/null -w '%{{http_code}}\\n' {} >> {}; sleep 0.02; done",
            shell_quote(&self.url(path)),
            shell_quote(&codes.to_string_lossy())
        );
        // A process group of its own, so stopping it takes the curl and
        // sleep of the moment along.
        let child = Command::new("ip")
            .args(["netns", "exec", &self.netns, "sh", "-c", &script])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start the request loop");
        RequestLoop { child: Some(child), codes, _dir: dir }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.vm_addr)
    }

    /// The pair is made inside the client namespace with its peer put
    /// straight into the VM's, so neither end ever exists in the root one.
    fn create_network(&self, vm: &Vm, k: u32) {
        let (ns, a) = (self.netns.as_str(), self.veth.as_str());
        let b = a.replacen("fc", "fk", 1);
        let _ = Command::new("ip").args(["netns", "del", ns]).output(); // leftover of a crashed run
        ip(&["netns", "add", ns]);
        ip(&["-n", ns, "link", "add", a, "type", "veth", "peer", "name", &b, "netns", vm.netns()]);
        ip(&["-n", ns, "addr", "add", &format!("10.202.{k}.1/30"), "dev", a]);
        ip(&["-n", ns, "link", "set", a, "up"]);
        ip(&["-n", ns, "link", "set", "lo", "up"]);
        ip(&["-n", vm.netns(), "addr", "add", &format!("{}/30", self.vm_addr), "dev", &b]);
        ip(&["-n", vm.netns(), "link", "set", &b, "up"]);
    }

    /// SAFETY: as for the VM, requests go out only over our own veth.
    fn assert_route_is_local(&self) {
        let route = ip(&["-n", &self.netns, "route", "get", &self.vm_addr.to_string()]);
        let expected = format!("dev {} ", self.veth);
        assert!(route.contains(&expected), "route to {} in {} does not use {}: {route}", self.vm_addr, self.netns, self.veth);
    }
}

impl Drop for Client {
    /// Kills whatever still runs in the namespace (a loop nobody stopped),
    /// then deletes it; the veth end in the VM goes with it.
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", &self.netns]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).output();
            }
        }
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).output();
    }
}

/// Requests running in a [`Client`]'s namespace; stopped on drop too.
#[derive(Debug)]
pub struct RequestLoop {
    child: Option<Child>,
    codes: PathBuf,
    _dir: tempfile::TempDir,
}

/// What a [`RequestLoop`] saw: `failed` counts every status but 200
/// (000 is curl's for no response).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopResult {
    pub total: usize,
    pub failed: usize,
    pub codes: BTreeMap<String, usize>,
}

impl RequestLoop {
    /// Kills the loop (the request in flight is not counted) and tallies
    /// the status codes.
    pub fn stop(mut self) -> LoopResult {
        self.kill();
        let text = fs::read_to_string(&self.codes).unwrap_or_default();
        let mut codes = BTreeMap::new();
        for code in text.lines().map(str::trim).filter(|c| !c.is_empty()) {
            *codes.entry(code.to_string()).or_insert(0) += 1;
        }
        let total = codes.values().sum();
        let failed = total - codes.get("200").copied().unwrap_or(0);
        LoopResult { total, failed, codes }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-9", "--", &format!("-{}", child.id())]).output();
            let _ = child.wait();
        }
    }
}

impl Drop for RequestLoop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits up to `timeout` for `pid` to exit (or to be a zombie).
fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !Path::new(&format!("/proc/{pid}")).exists() || zombie(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(10));
    }
}

/// A child we never waited for shows as a zombie once it exited.
fn zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
}

/// The libraries `ldd` says `file` loads (the loader included).
fn shared_libraries(file: &Path) -> Vec<PathBuf> {
    let out = run(Command::new("ldd").arg(file));
    out.lines().filter_map(|line| line.split("=>").last()?.split_whitespace().next().filter(|p| p.starts_with('/')).map(PathBuf::from)).collect()
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
fn poll<T>(probe: impl FnMut() -> Option<T>) -> Option<T> {
    crate::poll_for(Duration::from_secs(10), probe)
}
