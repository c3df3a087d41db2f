//! Apps: `GET/POST/DELETE /v1/apps…` (fly-go `flaps_apps.go`).

use std::thread;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Serialize;

use crate::FlyClient;
use crate::error::FlyError;
use crate::http::Request;
use crate::types::App;

/// What to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateApp {
    /// App name (unique across all of Fly.io, not just the org).
    pub name: String,
    /// Organization slug.
    pub org_slug: String,
    /// 6PN network; the org's default when unset.
    pub network: Option<String>,
    /// App role id.
    pub app_role_id: Option<String>,
}

/// Whether an app name can be created (fly-go `AppNameAvailable`).
#[derive(Clone, Debug, PartialEq)]
pub enum AppName {
    /// Nobody has it (404).
    Free,
    /// An app of that name is visible to this token.
    Visible(App),
    /// An app of that name exists in an organization this token cannot see
    /// (403): the name is taken, and no token problem is implied.
    TakenElsewhere,
}

impl FlyClient {
    /// The app, or `None` when it does not exist.
    pub fn get_app(&self, app: &str) -> Result<Option<App>, FlyError> {
        match self.http().send(&Request::flaps(Method::GET, &["apps", app])) {
            Ok(response) => response.json().map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Who holds the name `app`, as fly-go's `AppNameAvailable` reads
    /// `GET /v1/apps/{name}`: 2xx is taken (and visible), 403 taken by an
    /// organization the token cannot see, 404 free; 401 and anything else
    /// are errors, since they say nothing about the name.
    pub fn app_name(&self, app: &str) -> Result<AppName, FlyError> {
        match self.http().send(&Request::flaps(Method::GET, &["apps", app])) {
            Ok(response) => response.json().map(AppName::Visible),
            Err(FlyError::NotFound { .. }) => Ok(AppName::Free),
            Err(FlyError::Forbidden { .. }) => Ok(AppName::TakenElsewhere),
            Err(e) => Err(e),
        }
    }

    /// Creates an app (`POST /v1/apps?wait=true` with fly-go's body: `name`,
    /// `org_slug`, `network`, `app_role_id`, empty strings included). Follow
    /// it with [`FlyClient::wait_for_app`], as flyctl does after every
    /// create: the API may not show the new app at once. Deploy tokens
    /// cannot create apps (403).
    pub fn create_app(&self, input: &CreateApp) -> Result<App, FlyError> {
        #[derive(Serialize)]
        struct Wire<'a> {
            name: &'a str,
            org_slug: &'a str,
            network: &'a str,
            app_role_id: &'a str,
        }
        let body = Wire {
            name: &input.name,
            org_slug: &input.org_slug,
            network: input.network.as_deref().unwrap_or_default(),
            app_role_id: input.app_role_id.as_deref().unwrap_or_default(),
        };
        let request = Request::flaps(Method::POST, &["apps"]).query("wait", "true").json(&body);
        self.http().send(&request)?.json()
    }

    /// Waits until `GET /v1/apps/{name}` answers 2xx (fly-go `WaitForApp`):
    /// 404 and 401 mean "not yet" for up to [`crate::Config::app_wait`]
    /// (one minute), with fly-go's backoff (100 ms, doubling, at most
    /// 500 ms, ±50 %); any other error ends the wait at once. At the end
    /// the last 404 or 401 is returned.
    pub fn wait_for_app(&self, app: &str) -> Result<App, FlyError> {
        let deadline = Instant::now() + self.config().app_wait;
        let mut retry = 0u32;
        loop {
            let error = match self.http().send(&Request::flaps(Method::GET, &["apps", app])) {
                Ok(response) => return response.json(),
                Err(e @ (FlyError::NotFound { .. } | FlyError::Unauthorized { .. })) => e,
                Err(e) => return Err(e),
            };
            let interval = (Duration::from_millis(100) * 2u32.saturating_pow(retry.min(8))).min(Duration::from_millis(500));
            let delay = interval.mul_f64(0.5 + crate::http::jitter_fraction());
            if Instant::now() + delay >= deadline {
                return Err(error);
            }
            tracing::debug!(app, error = %error, "the new app is not visible yet");
            thread::sleep(delay);
            retry += 1;
        }
    }

    /// Deletes an app with all its machines and volumes.
    pub fn delete_app(&self, app: &str) -> Result<(), FlyError> {
        self.http().send(&Request::flaps(Method::DELETE, &["apps", app])).map(drop)
    }
}
