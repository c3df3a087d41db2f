//! Progress of long copies: a live bar on a terminal, a log line every few
//! seconds anywhere else (CI logs keep every line, so a redrawn bar would
//! only be noise there).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use ferry_model::printable;
use indicatif::{ProgressBar, ProgressStyle};

/// How often a copy reports its progress in the log when there is no terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// One long operation's progress, shown while it runs.
#[derive(Debug)]
pub(crate) struct Meter {
    label: String,
    bar: Option<ProgressBar>,
    started: Instant,
    last_log: Instant,
}

impl Meter {
    /// A spinner with the bytes done and the rate. No copy here knows its
    /// total ahead (a dump's size is not the database's; rsync reports its
    /// own percentage and ETA, passed in as the detail).
    pub(crate) fn new(label: &str) -> Meter {
        // The label names a database or volume from the plan: a bar writes
        // it to the terminal as it is, so it is escaped here (log lines are
        // escaped by the CLI's formatter).
        let label = printable(label);
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}").expect("a valid template"));
            bar.set_message(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Meter { label: label.to_string(), bar, started: Instant::now(), last_log: Instant::now() }
    }

    /// Bytes done so far; `detail` is added to the log line (e.g. an ETA
    /// the copying tool computed itself).
    pub(crate) fn set(&mut self, bytes: u64, detail: impl FnOnce() -> String) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!("{}{}", self.label, printable(&detail())));
        } else if self.last_log.elapsed() >= LOG_EVERY {
            let rate = bytes as f64 / self.started.elapsed().as_secs_f64().max(0.001) / 1048576.0;
            tracing::info!("{}: {:.1} MiB ({rate:.1} MiB/s){}", self.label, bytes as f64 / 1048576.0, detail());
            self.last_log = Instant::now();
        }
    }

    /// A status that is not a byte count (e.g. replication lag).
    pub(crate) fn status(&mut self, text: impl FnOnce() -> String) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{}: {}", self.label, printable(&text())));
        } else if self.last_log.elapsed() >= LOG_EVERY {
            tracing::info!("{}: {}", self.label, text());
            self.last_log = Instant::now();
        }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs `work`, saying every few seconds in the log that it is still
/// running: a health wait or a release command can take minutes, and
/// silence looks like a hang. Nothing is said for work that ends sooner.
pub(super) fn heartbeat<R>(label: &str, work: impl FnOnce() -> R) -> R {
    let label = printable(label).into_owned();
    beating(LOG_EVERY, |seconds| tracing::info!("still running ({seconds} s): {label}"), work)
}

/// [`heartbeat`]'s clock: `say` gets the seconds elapsed every `every`
/// until `work` returns.
fn beating<R>(every: Duration, say: impl Fn(u64) + Send, work: impl FnOnce() -> R) -> R {
    let (done, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let started = Instant::now();
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                say(started.elapsed().as_secs());
            }
        });
        let result = work();
        drop(done);
        result
    })
}

#[cfg(test)]
mod heartbeat_tests {
    use super::*;

    #[test]
    fn long_work_is_announced_until_it_ends_and_short_work_not_at_all() {
        let said = std::sync::Mutex::new(0);
        let result = beating(
            Duration::from_millis(40),
            |_| *said.lock().unwrap() += 1,
            || {
                std::thread::sleep(Duration::from_millis(300));
                7
            },
        );
        assert_eq!(result, 7);
        let beats = *said.lock().unwrap();
        assert!((2..=8).contains(&beats), "{beats} beats in 300 ms at one per 40 ms");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(*said.lock().unwrap(), beats, "nothing is said once the work ended");
        let quiet = std::sync::Mutex::new(0);
        beating(Duration::from_secs(5), |_| *quiet.lock().unwrap() += 1, || ());
        assert_eq!(*quiet.lock().unwrap(), 0);
    }
}
