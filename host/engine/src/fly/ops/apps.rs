//! The operations a migration between Fly apps needs: a new app, its
//! secrets (by name), its certificates, and volumes carried over from the
//! source app by snapshot. Each undo removes only what its action added:
//! what existed before is recorded first (`FlyExisting`).

use super::FlyUndo;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferry_fly::{AppName, Certificate, SnapshotWait};
use ferry_model::{FlyApp, FlyCertificate, FlyCertificateWait, FlySecrets, FlyVolumeCopy};

use super::FlyOps;
use crate::apply::executor::ExecError;

/// Where the value of secret `NAME` comes from: the variable
/// `FERRY_SECRET_NAME` of ferry's own environment (in GitHub Actions,
/// `env: FERRY_SECRET_NAME: ${{ secrets.NAME }}`). The prefix keeps the
/// runner's unrelated variables from ever being sent, and the masker hides
/// every such value in ferry's output.
pub const SECRET_VAR_PREFIX: &str = ferry_secrets::SECRET_PREFIX;

/// How often a certificate wait asks Fly to check the DNS again.
const CERT_CHECK_EVERY: Duration = Duration::from_secs(30);

/// Why a certificate is still not issued, and what lets Fly issue it.
fn not_issued(w: &FlyCertificateWait, cert: &Certificate, waited: Duration) -> String {
    let mut message =
        format!("the certificate for {} on {} is still `{}` after {} s: traffic was not moved to it", w.hostname, w.app, cert.status, waited.as_secs());
    for e in &cert.validation_errors {
        message.push_str(&format!("; {}: {}", e.code, e.message));
        if !e.remediation.is_empty() {
            message.push_str(&format!(" ({})", e.remediation));
        }
    }
    if let Some(until) = &cert.rate_limited_until {
        message.push_str(&format!("; Let's Encrypt rate-limits it until {until}"));
    }
    match cert.acme_challenge() {
        Some(c) => message.push_str(&format!(
            ". Fly can issue it before traffic moves with a DNS-01 challenge: create the record `{} CNAME {}`, then apply again",
            c.name, c.target
        )),
        None => message.push_str(&format!(". See what it needs with `fly certs show {} -a {}`, then apply again", w.hostname, w.app)),
    }
    message
}

/// The variable a secret's value is read from.
pub fn secret_var(name: &str) -> String {
    format!("{SECRET_VAR_PREFIX}{name}")
}

impl FlyOps {
    pub(super) fn app_exists(&self, app: &str) -> Result<bool, ExecError> {
        Ok(self.client.get_app(app)?.is_some())
    }

    /// Whether someone has the name: visible to this token, or (403) in an
    /// organization it cannot see (fly-go `AppNameAvailable`).
    fn app_name_taken(&self, app: &str) -> Result<Option<AppName>, ExecError> {
        match self.client.app_name(app).map_err(ExecError::fly(format!("checking whether the app name {app} is free")))? {
            AppName::Free => Ok(None),
            taken => Ok(Some(taken)),
        }
    }

    pub(super) fn existing_app(&self, app: &FlyApp) -> Result<FlyUndo, ExecError> {
        let ids = if self.app_name_taken(&app.name)?.is_some() { vec![app.name.clone()] } else { vec![] };
        Ok(FlyUndo::Existing { ids })
    }

    /// Creates the app, then waits until the API shows it (flyctl's
    /// `WaitForApp` after every create: the next actions set its secrets
    /// and addresses, which 404 until then).
    pub(super) fn create_app(&self, app: &FlyApp) -> Result<Vec<(String, String)>, ExecError> {
        match self.app_name_taken(&app.name)? {
            None => {}
            Some(AppName::Visible(_)) => {
                return Err(ExecError::Failed(format!(
                    "app {} exists already: ferry creates the target app itself, so a migration never writes into an app it did not make",
                    app.name
                )));
            }
            Some(AppName::TakenElsewhere | AppName::Free) => {
                return Err(ExecError::Failed(format!(
                    "the app name {} is taken by an organization this token cannot see (the API answers 403 for it); app names are global on Fly: choose another name with --to",
                    app.name
                )));
            }
        }
        let input = ferry_fly::CreateApp { name: app.name.clone(), org_slug: app.org.clone(), ..Default::default() };
        let created = self.client.create_app(&input).map_err(ExecError::fly(format!("creating app {} in org {}", app.name, app.org)))?;
        self.client.wait_for_app(&app.name).map_err(ExecError::fly(format!("app {} was created but the API does not show it after a minute", app.name)))?;
        Ok(vec![("app".into(), created.name)])
    }

    /// Deletes the app only if the action made it.
    pub(super) fn undo_create_app(&self, app: &FlyApp, existing: &[String]) -> Result<(), ExecError> {
        if existing.contains(&app.name) || !self.app_exists(&app.name)? {
            return Ok(());
        }
        self.client.delete_app(&app.name).map_err(ExecError::from)
    }

    pub(super) fn destroy_app(&self, app: &str) -> Result<Vec<(String, String)>, ExecError> {
        if self.app_exists(app)? {
            self.client.delete_app(app).map_err(ExecError::fly(format!("deleting app {app}")))?;
        }
        Ok(vec![("app".into(), app.to_string())])
    }

    pub(super) fn existing_secrets(&self, s: &FlySecrets) -> Result<FlyUndo, ExecError> {
        let set = self.secret_names(&s.app)?;
        Ok(FlyUndo::Existing { ids: s.names.iter().filter(|n| set.contains(n)).cloned().collect() })
    }

    /// Sets every named secret from `FERRY_SECRET_<NAME>`; refuses before
    /// sending anything when a value is missing, naming every missing one.
    pub(super) fn set_secrets(&self, s: &FlySecrets) -> Result<Vec<(String, String)>, ExecError> {
        let values: Vec<(String, Result<ferry_secrets::Secret, ferry_secrets::SecretError>)> =
            s.names.iter().map(|n| (n.clone(), ferry_secrets::var(&secret_var(n)))).collect();
        let missing: Vec<String> = values.iter().filter(|(_, v)| v.is_err()).map(|(n, _)| secret_var(n)).collect();
        if !missing.is_empty() {
            return Err(ExecError::Failed(format!(
                "no value for {} secret(s) of {}: set {} (ferry never reads secret values from Fly)",
                missing.len(),
                s.app,
                missing.join(", ")
            )));
        }
        let values: BTreeMap<String, Option<String>> = values.into_iter().map(|(n, v)| (n, v.ok().map(ferry_secrets::Secret::into_inner))).collect();
        let update = self.client.update_secrets(&s.app, &values).map_err(ExecError::fly(format!("setting secrets on {}", s.app)))?;
        // Every machine this run launches afterwards boots with at least it.
        self.note_secrets_version(&s.app, update.version);
        Ok(vec![("names".into(), s.names.join(",")), ("version".into(), update.version.to_string())])
    }

    pub(super) fn secrets_in_place(&self, s: &FlySecrets) -> Result<bool, ExecError> {
        let set = self.secret_names(&s.app)?;
        Ok(s.names.iter().all(|n| set.contains(n)))
    }

    /// Unsets the names the action added. A secret that existed before
    /// keeps the value the action gave it: its old value was never read.
    pub(super) fn undo_secrets(&self, s: &FlySecrets, existing: &[String]) -> Result<(), ExecError> {
        if !self.app_exists(&s.app)? {
            return Ok(());
        }
        let set = self.secret_names(&s.app)?;
        let unset: BTreeMap<String, Option<String>> = s.names.iter().filter(|n| !existing.contains(n) && set.contains(n)).map(|n| (n.clone(), None)).collect();
        if unset.is_empty() {
            return Ok(());
        }
        self.client.update_secrets(&s.app, &unset).map(drop).map_err(ExecError::from)
    }

    fn secret_names(&self, app: &str) -> Result<Vec<String>, ExecError> {
        // At the version this run's set returned: a read right after a set
        // may otherwise still show the secrets before it.
        let secrets = self.client.list_secrets_at(app, self.secrets_version(app))?;
        Ok(secrets.into_iter().map(|s| s.name).collect())
    }

    pub(super) fn existing_certificate(&self, c: &FlyCertificate) -> Result<FlyUndo, ExecError> {
        let present = self.client.get_certificate(&c.app, &c.hostname)?.is_some();
        Ok(FlyUndo::Existing { ids: if present { vec![c.hostname.clone()] } else { vec![] } })
    }

    pub(super) fn add_certificate(&self, c: &FlyCertificate) -> Result<Vec<(String, String)>, ExecError> {
        let cert =
            self.client.add_certificate(&c.app, &c.hostname).map_err(ExecError::fly(format!("adding the certificate for {} to {}", c.hostname, c.app)))?;
        Ok(vec![("hostname".into(), cert.hostname), ("status".into(), cert.status)])
    }

    pub(super) fn certificate_in_place(&self, c: &FlyCertificate) -> Result<bool, ExecError> {
        Ok(self.client.get_certificate(&c.app, &c.hostname)?.is_some())
    }

    pub(super) fn undo_certificate(&self, c: &FlyCertificate, existing: &[String]) -> Result<(), ExecError> {
        if existing.contains(&c.hostname) || !self.app_exists(&c.app)? {
            return Ok(());
        }
        self.client.delete_certificate(&c.app, &c.hostname).map_err(ExecError::from)
    }

    pub(super) fn existing_volumes(&self, app: &str, name: &str) -> Result<FlyUndo, ExecError> {
        if !self.app_exists(app)? {
            return Ok(FlyUndo::Existing { ids: vec![] });
        }
        let ids = self.client.list_volumes(app)?.into_iter().filter(|x| x.name == name).map(|x| x.id).collect();
        Ok(FlyUndo::Existing { ids })
    }

    /// Snapshots the source volume, waits until that snapshot (the one this
    /// action took, never an older one) is `created`, then restores exactly
    /// it into a new volume of the target app.
    pub(super) fn copy_volume(&self, v: &FlyVolumeCopy) -> Result<Vec<(String, String)>, ExecError> {
        let wait = SnapshotWait { poll_interval: self.poll, ..SnapshotWait::default() };
        let snapshot = self
            .client
            .snapshot_volume(&v.source_app, &v.source_volume, &wait)
            .map_err(ExecError::fly(format!("volume {} of {}", v.source_volume, v.source_app)))?;
        let request = ferry_fly::CreateVolumeRequest {
            name: v.name.clone(),
            region: v.region.clone(),
            size_gb: Some(u64::from(v.size_gb)),
            snapshot_id: Some(snapshot.id.clone()),
            encrypted: Some(true),
            ..Default::default()
        };
        let volume =
            self.client.create_volume(&v.app, &request).map_err(ExecError::fly(format!("restoring snapshot {} into {} of {}", snapshot.id, v.name, v.app)))?;
        Ok(vec![("snapshot".into(), snapshot.id), ("volume".into(), volume.id)])
    }

    /// Whether the app's certificate for the hostname is issued (`active`).
    pub(super) fn certificate_issued(&self, app: &str, hostname: &str) -> Result<bool, ExecError> {
        Ok(self.client.get_certificate(app, hostname)?.is_some_and(|c| c.is_active()))
    }

    /// Waits until the certificate is `active`, asking Fly to check again
    /// now and then. Until then the hostname's traffic must not move here:
    /// clients would get a certificate error. On timeout the error says how
    /// to let Fly issue it before traffic moves: the DNS-01 challenge CNAME.
    pub(super) fn wait_certificate(&self, w: &FlyCertificateWait, keepalive: &mut dyn FnMut()) -> Result<Vec<(String, String)>, ExecError> {
        let started = Instant::now();
        let timeout = Duration::from_millis(w.timeout_ms);
        let mut last_check = None::<Instant>;
        loop {
            let cert = self
                .client
                .get_certificate(&w.app, &w.hostname)
                .map_err(ExecError::fly(format!("reading the certificate for {} on {}", w.hostname, w.app)))?
                .ok_or_else(|| {
                    ExecError::Failed(format!(
                        "{} has no certificate for {}: add it (`fly certs add {} -a {}`) before traffic moves",
                        w.app, w.hostname, w.hostname, w.app
                    ))
                })?;
            if cert.is_active() {
                return Ok(vec![("hostname".into(), cert.hostname), ("status".into(), cert.status)]);
            }
            if started.elapsed() >= timeout {
                return Err(ExecError::Failed(not_issued(w, &cert, started.elapsed())));
            }
            // `/check` makes Fly look at the DNS again; not every poll.
            if last_check.is_none_or(|at| at.elapsed() >= CERT_CHECK_EVERY) {
                last_check = Some(Instant::now());
                if let Err(e) = self.client.check_certificate(&w.app, &w.hostname) {
                    tracing::debug!("asking Fly to check {}: {e}", w.hostname);
                }
            }
            tracing::info!("the certificate for {} on {} is `{}`; waiting until it is `active`", w.hostname, w.app, cert.status);
            keepalive();
            std::thread::sleep(self.poll.min(timeout.saturating_sub(started.elapsed())).max(Duration::from_millis(10)));
        }
    }

    /// Deletes the volumes of that name the action added (unattached ones:
    /// a machine that mounts one is undone first, by the later action).
    pub(super) fn undo_volumes(&self, app: &str, name: &str, existing: &[String]) -> Result<(), ExecError> {
        if !self.app_exists(app)? {
            return Ok(());
        }
        for volume in self.client.list_volumes(app)? {
            if volume.name == name && !existing.contains(&volume.id) && volume.attached_machine_id.is_none() {
                self.client.delete_volume(app, &volume.id)?;
            }
        }
        Ok(())
    }
}
