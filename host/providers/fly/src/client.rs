//! The client handle and its small piece of shared state: which machines it
//! created recently (for the 404-after-create window).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::config::Config;
use crate::error::FlyError;
use crate::http::Transport;

/// A blocking client for the Fly Machines API and the few `api.fly.io`
/// endpoints a deploy needs (logs, release records).
///
/// Cheap to clone (shared state behind an `Arc`); `Send + Sync`. Its `Debug`
/// shows the configuration with the token redacted.
#[derive(Clone, Debug)]
pub struct FlyClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    /// Machine id → when this client learned it was just created.
    created: Mutex<HashMap<String, Instant>>,
}

impl FlyClient {
    /// A client for `config`. Fails on an empty token or an unusable base
    /// URL.
    pub fn new(config: Config) -> Result<Self, FlyError> {
        Ok(FlyClient { inner: Arc::new(Inner { transport: Transport::new(config)?, created: Mutex::default() }) })
    }

    /// A client configured from the environment as flyctl is (see
    /// [`Config::from_vars`]); `Ok(None)` when no token is set.
    pub fn from_env() -> Result<Option<Self>, FlyError> {
        Config::from_vars(|name| std::env::var(name).ok())?.map(FlyClient::new).transpose()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        self.inner.transport.config()
    }

    /// Records that `machine_id` was created a moment ago (by this process,
    /// or by another client), so `get_machine` and `wait_for_state` retry a
    /// 404 for it during [`Config::not_found_window`] (flyctl#4618).
    /// [`FlyClient::create_machine`] does this itself.
    pub fn note_created(&self, machine_id: &str) {
        let window = self.config().not_found_window;
        let mut created = self.inner.created.lock().unwrap_or_else(|e| e.into_inner());
        created.retain(|_, at| at.elapsed() < window);
        created.insert(machine_id.to_owned(), Instant::now());
    }

    /// Until when a 404 for `machine_id` is still plausibly eventual
    /// consistency, if it is.
    pub(crate) fn not_found_deadline(&self, machine_id: &str) -> Option<Instant> {
        let window = self.config().not_found_window;
        let created = self.inner.created.lock().unwrap_or_else(|e| e.into_inner());
        created.get(machine_id).map(|at| *at + window).filter(|deadline| Instant::now() < *deadline)
    }

    pub(crate) fn http(&self) -> &Transport {
        &self.inner.transport
    }
}
