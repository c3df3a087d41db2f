//! ferry-ssh against a real sshd in a network namespace (see host/test-support/src/vm.rs).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use ferry_ssh::{HostSpec, Session, SshError, SshKey};
use ferry_test_support::vm::Vm;

fn open(vm: &Vm) -> Session {
    Session::open(vm.host(), vm.options()).expect("open session")
}

#[test]
fn exec_runs_on_the_vm() {
    let vm = Vm::start();
    let session = open(&vm);
    let out = session.exec("echo $SSH_CONNECTION").unwrap();
    assert_eq!(out.status, 0, "{out:?}");
    let fields: Vec<&str> = out.stdout.split_whitespace().collect();
    let [a, b, c, _] = vm.addr().octets();
    assert_eq!(fields[0], format!("{a}.{b}.{c}.1"), "client is the host end: {out:?}");
    assert_eq!(fields[2], vm.addr().to_string());
    assert_eq!(session.destination(), format!("root@{}", vm.addr()));
    assert_eq!(session.host(), &vm.host());
}

#[test]
fn commands_reuse_one_connection() {
    let vm = Vm::start();
    let session = open(&vm);
    let rsync_ssh = session.ssh_command_for_rsync();
    let control = rsync_ssh.split_whitespace().find_map(|w| w.strip_prefix("ControlPath=")).expect("ControlPath in the ssh command").to_string();
    let meta = std::fs::symlink_metadata(&control).expect("control socket exists");
    assert!(std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()));
    let dir = std::path::Path::new(&control).parent().unwrap();
    assert_eq!(std::fs::metadata(dir).unwrap().permissions().mode() & 0o777, 0o700);
    for i in 0..10 {
        assert_eq!(session.run(&format!("echo {i}")).unwrap(), format!("{i}\n"));
    }
    // One TCP connection: sshd logged a single login for all of them.
    assert_eq!(vm.sshd_log().matches("Accepted publickey").count(), 1, "{}", vm.sshd_log());
    // The rsync command line rides on the same master.
    let out = Command::new("sh").arg("-c").arg(format!("{rsync_ssh} {} echo via-mux", session.destination())).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "via-mux\n", "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(vm.sshd_log().matches("Accepted publickey").count(), 1);
    drop(session);
    assert!(!dir.exists(), "temp dir with the key is removed on drop");
}

#[test]
fn non_zero_exit_is_a_command_error_with_stderr() {
    let vm = Vm::start();
    let session = open(&vm);
    let out = session.exec("echo out; echo oops >&2; exit 3").unwrap();
    assert_eq!((out.status, out.stdout.as_str(), out.stderr.as_str()), (3, "out\n", "oops\n"));
    let noisy = "for i in $(seq 1 100); do echo err$i >&2; done; exit 7";
    match session.run(noisy) {
        Err(SshError::Command { host, command, status, stderr_tail }) => {
            assert_eq!((host, command.as_str(), status), (vm.host().to_string(), noisy, 7));
            assert!(stderr_tail.starts_with("err81\n") && stderr_tail.ends_with("err100"), "{stderr_tail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn exec_streamed_delivers_lines_in_order() {
    let vm = Vm::start();
    let session = open(&vm);
    let mut lines = Vec::new();
    let code = session
        .exec_streamed("for i in 1 2 3 4 5; do echo line$i; done; sleep 0.3; echo warn >&2; sleep 0.3; echo last; exit 4", &mut |l| lines.push(l.to_string()))
        .unwrap();
    assert_eq!(code, 4);
    // Within a stream order is guaranteed; across stdout and stderr it is
    // arrival order (separate SSH streams), hence the sleeps.
    assert_eq!(lines, ["line1", "line2", "line3", "line4", "line5", "warn", "last"]);
}

#[test]
fn upload_bytes_writes_content_and_mode() {
    let vm = Vm::start();
    let session = open(&vm);
    let path = vm.dir().join("uploaded file.env");
    let remote = path.to_str().unwrap();
    session.upload_bytes(b"SECRET=1\n", remote, 0o640).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"SECRET=1\n");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    session.upload_bytes(b"SECRET=2\n", remote, 0o600).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"SECRET=2\n");
    assert!(!vm.dir().join("uploaded file.env.ferry-tmp").exists());
    let err = session.upload_bytes(b"x", "/nonexistent-dir/file", 0o600).unwrap_err();
    assert!(matches!(err, SshError::Command { .. }), "{err:?}");
}

#[test]
fn pipe_to_streams_10_mb() {
    let vm = Vm::start();
    let session = open(&vm);
    let mut data = std::io::repeat(0x5a).take(10 * 1024 * 1024);
    let out = session.pipe_to(&mut data, "wc -c").unwrap();
    assert_eq!((out.status, out.stdout.trim()), (0, "10485760"));
    // A command that stops reading: its status, not an I/O error.
    let mut more = std::io::repeat(1).take(4 * 1024 * 1024);
    assert_eq!(session.pipe_to(&mut more, "head -c 10 >/dev/null; exit 5").unwrap().status, 5);
}

#[test]
fn command_timeout_kills() {
    let vm = Vm::start();
    let mut options = vm.options();
    options.command_timeout = Some(Duration::from_millis(1500));
    let session = Session::open(vm.host(), options).unwrap();
    let started = std::time::Instant::now();
    let err = session.exec("sleep 30").unwrap_err();
    assert!(matches!(err, SshError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(session.run("echo still-ok").unwrap(), "still-ok\n");
    let mut endless = std::io::repeat(0);
    let err = session.pipe_to(&mut endless, "sleep 30").unwrap_err();
    assert!(matches!(err, SshError::Timeout { .. }), "{err:?}");
    let mut lines = 0;
    let err = session.exec_streamed("echo one; sleep 30", &mut |_| lines += 1).unwrap_err();
    assert!(matches!(err, SshError::Timeout { .. }) && lines == 1, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(12));
}

/// Killing the local client does not end a remote command (the master
/// keeps its channel): the host's own `timeout` does, so a read that timed
/// out is not left running there. Without it the `sleep` below would live
/// its full 30 s.
#[test]
fn a_timed_out_read_does_not_keep_running_on_the_host() {
    let vm = Vm::start();
    let session = open(&vm);
    let pid_file = vm.dir().join("read.pid");
    let started = std::time::Instant::now();
    let err = session.exec_within(&format!("echo $$ > {}; exec sleep 30", pid_file.display()), Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, SshError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(4), "the caller got its answer in time: {:?}", started.elapsed());
    let pid = std::fs::read_to_string(&pid_file).unwrap().trim().to_string();
    // The VM shares this machine's PID namespace: /proc shows the remote process.
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(std::time::Instant::now() < deadline, "the remote sleep {pid} still runs after the timeout");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(session.run_within("echo still-ok", Duration::from_secs(5)).unwrap(), "still-ok\n", "the session is still usable");
}

#[test]
fn wrong_pinned_key_is_refused_before_anything_runs() {
    let vm = Vm::start();
    let mut options = vm.options();
    options.known_hosts = vm.wrong_known_hosts();
    let err = Session::open(vm.host(), options).unwrap_err();
    assert!(matches!(&err, SshError::HostKeyMismatch { host } if *host == vm.host().to_string()), "{err:?}");
    assert!(!vm.sshd_log().contains("Accepted"), "nobody logged in: {}", vm.sshd_log());
    let mut unpinned = vm.options();
    unpinned.known_hosts = String::new();
    assert!(matches!(Session::open(vm.host(), unpinned), Err(SshError::HostKeyMismatch { .. })));
}

#[test]
fn wrong_client_key_is_an_auth_error() {
    let vm = Vm::start();
    let other = vm.dir().join("stranger");
    let status = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&other).status().unwrap();
    assert!(status.success());
    let mut options = vm.options();
    options.key = SshKey::new(std::fs::read_to_string(&other).unwrap());
    let err = Session::open(vm.host(), options).unwrap_err();
    assert!(matches!(err, SshError::Auth { .. }), "{err:?}");
}

#[test]
fn nothing_listening_is_a_connect_error_naming_the_host() {
    let vm = Vm::start();
    let host: HostSpec = format!("root@{}:2", vm.addr()).parse().unwrap();
    let err = Session::open(host, vm.options()).unwrap_err();
    assert!(matches!(err, SshError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("root@{}:2", vm.addr())), "{err}");
}

#[test]
fn the_key_never_appears_in_errors_or_debug() {
    let vm = Vm::start();
    let options = vm.options();
    let key = std::fs::read_to_string(vm.dir().join("client")).unwrap();
    let secret_line = key.lines().nth(1).unwrap();
    let session = Session::open(vm.host(), options.clone()).unwrap();
    let mut texts = vec![format!("{options:?}"), format!("{session:?}"), session.ssh_command_for_rsync()];
    texts.push(format!("{:?}", session.run("exit 1").unwrap_err()));
    let mut wrong = options.clone();
    wrong.known_hosts = vm.wrong_known_hosts();
    let err = Session::open(vm.host(), wrong).unwrap_err();
    texts.extend([format!("{err:?}"), err.to_string()]);
    let refused = Session::open(format!("root@{}:2", vm.addr()).parse().unwrap(), options).unwrap_err();
    texts.extend([format!("{refused:?}"), refused.to_string()]);
    for text in texts {
        assert!(!text.contains(secret_line), "key leaked into: {text}");
    }
}
