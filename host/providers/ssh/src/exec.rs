//! Running commands over the session's master: collected, streamed, or fed
//! from a local reader, each under the optional command timeout.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, TrySendError};
use std::sync::{Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::{Output, Session, SshError, shell_quote, stderr_tail};

/// Chunk size for [`Session::pipe_to`]: large enough to keep the pipe busy,
/// small enough that a multi-GB image never sits in memory.
const PIPE_BUFFER: usize = 64 * 1024;

/// How often a blocked wait looks at the timeout flag.
const POLL: Duration = Duration::from_millis(20);

/// How long after its limit the host's `timeout` kills a command that
/// ignored SIGTERM.
const KILL_AFTER_SECS: u64 = 1;

impl Session {
    /// Runs a command (remotely through `sh -c`, as ssh does), collecting
    /// stdout and stderr, under the session's command timeout. A non-zero
    /// exit is not an error here; see [`Session::run`].
    pub fn exec(&self, command: &str) -> Result<Output, SshError> {
        self.exec_limited(command, self.command_timeout)
    }

    /// Like [`Session::exec`] but a non-zero exit is [`SshError::Command`];
    /// returns stdout.
    pub fn run(&self, command: &str) -> Result<String, SshError> {
        let output = self.exec(command)?;
        self.check(command, output).map(|o| o.stdout)
    }

    /// [`Session::exec`] bounded by `limit` whatever the session's own
    /// timeout: for reads, which must answer in time even on a session
    /// whose builds and deploys may run for minutes.
    pub fn exec_within(&self, command: &str, limit: Duration) -> Result<Output, SshError> {
        self.exec_limited(command, Some(limit))
    }

    /// [`Session::run`] bounded by `limit`.
    pub fn run_within(&self, command: &str, limit: Duration) -> Result<String, SshError> {
        let output = self.exec_within(command, limit)?;
        self.check(command, output).map(|o| o.stdout)
    }

    fn exec_limited(&self, command: &str, limit: Option<Duration>) -> Result<Output, SshError> {
        let child = self.spawn(&bounded(command, limit), Stdio::null())?;
        self.supervise(command, child, limit, |child, cancel| {
            let (stdout, stderr) = take_readers(child);
            finish(child, stdout, stderr, cancel)
        })
    }

    /// Streams stdout and stderr lines to `on_line` as they arrive (for long
    /// steps whose progress the user should see); returns the exit code.
    /// Each stream keeps its order; SSH carries the two separately, so how
    /// they interleave is only as good as arrival order.
    pub fn exec_streamed(&self, command: &str, on_line: &mut dyn FnMut(&str)) -> Result<i32, SshError> {
        let child = self.spawn(&bounded(command, self.command_timeout), Stdio::null())?;
        self.supervise(command, child, self.command_timeout, |child, cancel| {
            let (tx, rx) = mpsc::channel::<String>();
            let (stdout, stderr) = {
                let mut guard = child.lock().expect("child lock");
                (guard.stdout.take(), guard.stderr.take())
            };
            let readers = [stdout.map(|s| send_lines(s, tx.clone())), stderr.map(|s| send_lines(s, tx.clone()))];
            drop(tx);
            loop {
                match rx.recv_timeout(POLL) {
                    Ok(line) => on_line(&line),
                    Err(RecvTimeoutError::Timeout) if cancel.load(Ordering::SeqCst) => return Err(cancelled()),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            readers.into_iter().flatten().for_each(|r| drop(r.join()));
            Ok(code(wait(child)?))
        })
    }

    /// Writes `data` to `remote_path` with `mode`, atomically: to
    /// `<path>.ferry-tmp`, then `mv`, so a reader never sees half a file.
    pub fn upload_bytes(&self, data: &[u8], remote_path: &str, mode: u32) -> Result<(), SshError> {
        let tmp = shell_quote(&format!("{remote_path}.ferry-tmp"));
        let script = format!(
            "umask 077; {{ cat > {tmp} && chmod {mode:04o} {tmp} && mv -f {tmp} {dst}; }} || {{ rc=$?; rm -f {tmp}; exit $rc; }}",
            dst = shell_quote(remote_path)
        );
        let output = self.pipe_to(&mut &data[..], &script)?;
        self.check(&script, output).map(drop)
    }

    /// Streams `reader` into a remote command's stdin (e.g. `docker load`)
    /// through a fixed buffer. If the command stops reading early, the rest
    /// is dropped and its exit status tells why.
    pub fn pipe_to(&self, reader: &mut dyn Read, command: &str) -> Result<Output, SshError> {
        let child = self.spawn(&bounded(command, self.command_timeout), Stdio::piped())?;
        self.supervise(command, child, self.command_timeout, |child, cancel| {
            let stdin = child.lock().expect("child lock").stdin.take();
            let (stdout, stderr) = take_readers(child);
            if let Some(stdin) = stdin {
                feed(reader, stdin, cancel)?;
            }
            finish(child, stdout, stderr, cancel)
        })
    }

    fn spawn(&self, command: &str, stdin: Stdio) -> Result<Child, SshError> {
        Command::new("ssh")
            .args(self.client_args())
            .arg("--")
            .arg(self.destination())
            .arg(command)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.io("starting ssh", e))
    }

    fn check(&self, command: &str, output: Output) -> Result<Output, SshError> {
        if output.status == 0 {
            return Ok(output);
        }
        Err(SshError::Command { host: self.label.clone(), command: command.to_string(), status: output.status, stderr_tail: stderr_tail(&output.stderr) })
    }

    /// Runs `body` (the child's I/O and wait) while a watchdog kills the
    /// child once `limit` passes and raises the flag `body` polls. Killing
    /// alone does not unblock the pipes: a mux client hands its stdio fds to
    /// the master, which keeps them until the remote command ends, so `body`
    /// must give up on the flag rather than on EOF. Nor does it end the
    /// remote command: that is [`bounded`]'s job, on the host.
    fn supervise<T>(
        &self,
        command: &str,
        child: Child,
        limit: Option<Duration>,
        body: impl FnOnce(&Mutex<Child>, &AtomicBool) -> io::Result<T>,
    ) -> Result<T, SshError> {
        let child = Mutex::new(child);
        let timed_out = AtomicBool::new(false);
        let Some(limit) = limit else {
            return body(&child, &timed_out).map_err(|e| self.io(&format!("running `{command}`"), e));
        };
        let finished = (Mutex::new(false), Condvar::new());
        let result = thread::scope(|scope| {
            scope.spawn(|| watchdog(&child, &finished, &timed_out, limit));
            let result = body(&child, &timed_out);
            *finished.0.lock().expect("finished lock") = true;
            finished.1.notify_all();
            result
        });
        if timed_out.load(Ordering::SeqCst) {
            let _ = child.lock().expect("child lock").wait();
            return Err(SshError::Timeout { host: self.label.clone(), command: command.to_string(), after: limit });
        }
        result.map_err(|e| self.io(&format!("running `{command}`"), e))
    }
}

/// `command` as the host should run it under `limit`: inside coreutils'
/// `timeout`, which ends it (and everything it started in its process
/// group) with SIGTERM a second after the limit, and SIGKILL one more
/// second later. Killing the local ssh client does not reach the remote
/// command (the master keeps its channel), so without this a timed-out
/// read would go on running on the host. The remote limit is the local one
/// rounded up plus a second, so the local watchdog always answers first,
/// with a [`SshError::Timeout`]. A host without `timeout` runs the command
/// as it is.
fn bounded(command: &str, limit: Option<Duration>) -> String {
    let Some(limit) = limit else { return command.to_string() };
    let secs = limit.as_secs() + u64::from(limit.subsec_nanos() > 0) + 1;
    let quoted = shell_quote(command);
    format!("if command -v timeout >/dev/null 2>&1; then exec timeout -k {KILL_AFTER_SECS} {secs} sh -c {quoted}; else exec sh -c {quoted}; fi")
}

fn watchdog(child: &Mutex<Child>, finished: &(Mutex<bool>, Condvar), timed_out: &AtomicBool, limit: Duration) {
    let guard = finished.0.lock().expect("finished lock");
    let (guard, _) = finished.1.wait_timeout_while(guard, limit, |done| !*done).expect("finished lock");
    if !*guard {
        drop(guard);
        timed_out.store(true, Ordering::SeqCst);
        let _ = child.lock().expect("child lock").kill();
    }
}

type Reader = Option<JoinHandle<io::Result<Vec<u8>>>>;

/// Drains stdout and stderr on threads so neither pipe fills and stalls ssh.
fn take_readers(child: &Mutex<Child>) -> (Reader, Reader) {
    let mut guard = child.lock().expect("child lock");
    (guard.stdout.take().map(drain), guard.stderr.take().map(drain))
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<io::Result<Vec<u8>>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        pipe.read_to_end(&mut buf).map(|_| buf)
    })
}

fn send_lines(pipe: impl Read + Send + 'static, tx: mpsc::Sender<String>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let text = String::from_utf8_lossy(&line);
            if tx.send(text.trim_end_matches(['\n', '\r']).to_string()).is_err() {
                return;
            }
            line.clear();
        }
    })
}

/// Waits for the child first: after a timeout kill the readers may block
/// until the remote command ends (see [`Session::supervise`]), so they are
/// only joined when the child exited on its own.
fn finish(child: &Mutex<Child>, stdout: Reader, stderr: Reader, cancel: &AtomicBool) -> io::Result<Output> {
    let status = wait(child)?;
    if cancel.load(Ordering::SeqCst) {
        return Err(cancelled());
    }
    Ok(Output { status: code(status), stdout: join(stdout)?, stderr: join(stderr)? })
}

fn cancelled() -> io::Error {
    io::Error::other("cancelled by the command timeout")
}

fn join(reader: Reader) -> io::Result<String> {
    let Some(handle) = reader else { return Ok(String::new()) };
    let bytes = handle.join().map_err(|_| io::Error::other("reader thread panicked"))??;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Copies `reader` into the child's stdin. The writes happen on a thread
/// (fed through a small bounded queue) so a remote command that stops
/// reading cannot block us past the timeout. A broken pipe means the command
/// stopped reading: not an I/O failure of ours, its status will explain.
fn feed(reader: &mut dyn Read, stdin: impl Write + Send + 'static, cancel: &AtomicBool) -> io::Result<()> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
    let writer = thread::spawn(move || write_chunks(rx, stdin));
    let mut buf = vec![0u8; PIPE_BUFFER];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if !send_chunk(&tx, buf[..n].to_vec(), cancel)? {
            break; // the writer stopped: the command closed its stdin
        }
    }
    drop(tx);
    while !writer.is_finished() {
        if cancel.load(Ordering::SeqCst) {
            return Err(cancelled());
        }
        thread::sleep(POLL);
    }
    writer.join().map_err(|_| io::Error::other("writer thread panicked"))?
}

/// Queues a chunk, giving up when cancelled; `Ok(false)` if the writer is gone.
fn send_chunk(tx: &mpsc::SyncSender<Vec<u8>>, mut chunk: Vec<u8>, cancel: &AtomicBool) -> io::Result<bool> {
    loop {
        match tx.try_send(chunk) {
            Ok(()) => return Ok(true),
            Err(TrySendError::Disconnected(_)) => return Ok(false),
            Err(TrySendError::Full(back)) if !cancel.load(Ordering::SeqCst) => chunk = back,
            Err(TrySendError::Full(_)) => return Err(cancelled()),
        }
        thread::sleep(Duration::from_millis(1));
    }
}

fn write_chunks(rx: mpsc::Receiver<Vec<u8>>, mut stdin: impl Write) -> io::Result<()> {
    for chunk in rx {
        match stdin.write_all(&chunk) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits without holding the lock, so the watchdog can still kill.
fn wait(child: &Mutex<Child>) -> io::Result<ExitStatus> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.lock().expect("child lock").try_wait()? {
            return Ok(status);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn code(status: ExitStatus) -> i32 {
    status.code().unwrap_or(-1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_commands_run_under_the_hosts_timeout() {
        assert_eq!(bounded("echo hi", None), "echo hi");
        let wrapped = bounded("echo 'a b'; sleep 9", Some(Duration::from_millis(1500)));
        assert_eq!(
            wrapped,
            "if command -v timeout >/dev/null 2>&1; then exec timeout -k 1 3 sh -c 'echo '\\''a b'\\''; sleep 9'; else exec sh -c 'echo '\\''a b'\\''; sleep 9'; fi"
        );
        let out = std::process::Command::new("sh").arg("-c").arg(wrapped.replace("sleep 9", "true")).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b\n", "the quoting survives the wrapper");
        assert!(bounded("x", Some(Duration::from_secs(10))).contains("timeout -k 1 11 sh -c x;"));
    }
}
