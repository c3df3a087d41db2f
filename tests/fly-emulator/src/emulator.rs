//! The shared context every handler, machine actor and check task holds.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{Notify, oneshot, watch};

use crate::data_dir::DataDir;
use crate::faults::Faults;
use crate::lifecycle::Op;
use crate::logs::LogStore;
use crate::proxy::Proxies;
use crate::ratelimit::RateLimiter;
use crate::recorder::RequestLog;
use crate::state::State;

/// The HTTP client used for health checks and the app proxy. It keeps no idle
/// connections: every request opens a fresh one, as a health checker does, so
/// a stopped machine fails visibly instead of through a stale pooled socket.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

#[derive(Debug)]
pub struct Emulator {
    state: Mutex<State>,
    /// Ticks on every state change, for long-polling `wait`.
    changes: watch::Sender<u64>,
    pub logs: LogStore,
    pub faults: Faults,
    pub requests: RequestLog,
    pub rate_limiter: RateLimiter,
    pub proxies: Proxies,
    pub http: HttpClient,
    /// This binary, re-executed as `fly-emulator machine` for each machine
    /// (`fly-emulator job` for exec machines).
    pub exe: PathBuf,
    /// Where volumes' bytes live (see `data_dir.rs`).
    pub data: DataDir,
    /// The network namespace exec machines run in (`serve --machine-netns`);
    /// the emulator's own when unset.
    pub machine_netns: Option<String>,
    shutting_down: AtomicBool,
    exit: Notify,
}

impl Emulator {
    pub fn new(exe: PathBuf, data: DataDir, machine_netns: Option<String>) -> Arc<Emulator> {
        let http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build_http();
        Arc::new(Emulator {
            state: Mutex::new(State::default()),
            changes: watch::channel(0).0,
            logs: LogStore::default(),
            faults: Faults::default(),
            requests: RequestLog::default(),
            rate_limiter: RateLimiter::default(),
            proxies: Proxies::default(),
            http,
            exe,
            data,
            machine_netns,
            shutting_down: AtomicBool::new(false),
            exit: Notify::new(),
        })
    }

    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Runs `f` on the state and wakes every `wait` long-poll to re-check.
    pub fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.lock());
        self.changes.send_modify(|tick| *tick = tick.wrapping_add(1));
        result
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking handler must not wedge the whole emulator.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Kills every machine process and waits until each is reaped. No machine
    /// starts afterwards. Idempotent.
    pub async fn stop_all_machines(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let acks: Vec<oneshot::Receiver<()>> = self.read(|state| {
            state
                .apps
                .values()
                .flat_map(|app| &app.machines)
                .filter_map(|machine| {
                    let (ack, done) = oneshot::channel();
                    machine.ops.send(Op::Shutdown(ack)).ok().map(|()| done)
                })
                .collect()
        });
        for done in acks {
            // An actor that already ended (destroyed machine) drops its ack.
            let _ = tokio::time::timeout(Duration::from_secs(10), done).await;
        }
    }

    /// Asks `serve` to exit (after the caller stopped the machines).
    pub fn request_exit(&self) {
        self.exit.notify_one();
    }

    pub async fn exit_requested(&self) {
        self.exit.notified().await;
    }
}
