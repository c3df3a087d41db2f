//! Naming machines: by id, by the launch id they were created with, or by
//! the id of the machine they replaced (a destroyed machine recreated by an
//! undo gets a new id; later undos in the same rollback still name the
//! old one).

use super::FlyUndo;
use crate::journal::PreviousMachine;
use ferry_fly::{FlyClient, FlyError, Machine};
use ferry_model::FlyMachineRefs;

use super::{FlyOps, LEASE_TTL};
use crate::apply::executor::ExecError;

/// How ferry describes its leases, so a later run knows its own.
const LEASE_PREFIX: &str = "ferry ";

/// Metadata a recreated machine carries: the id of the machine it stands for.
pub(super) const REPLACES: &str = "ferry_replaces";

impl FlyOps {
    /// The live machines `refs` names; those already gone are left out.
    pub(super) fn resolve(&self, refs: &FlyMachineRefs) -> Result<Vec<Machine>, ExecError> {
        let app = &refs.app;
        let mut found = Vec::new();
        let all = if refs.launch_ids.is_empty() && refs.ids.is_empty() { Vec::new() } else { self.client.list_machines(app)? };
        let live = |m: &&Machine| !matches!(m.state.as_str(), "destroyed" | "destroying");
        for id in &refs.ids {
            let machine = all
                .iter()
                .filter(live)
                .find(|m| &m.id == id)
                .or_else(|| all.iter().filter(live).find(|m| m.config().and_then(|c| c.metadata_value(REPLACES)) == Some(id.as_str())));
            found.extend(machine.cloned());
        }
        for key in &refs.launch_ids {
            let machine = all.iter().filter(live).find(|m| m.config().and_then(|c| c.metadata_value(ferry_fly::LAUNCH_ID_METADATA_KEY)) == Some(key.as_str()));
            found.extend(machine.cloned());
        }
        Ok(found)
    }

    /// The id that stands for `id` now (itself, or its recreation's).
    pub(super) fn current_id(&self, app: &str, id: &str) -> Result<String, ExecError> {
        let refs = FlyMachineRefs { app: app.into(), ids: vec![id.into()], launch_ids: vec![] };
        Ok(self.resolve(&refs)?.into_iter().next().map(|m| m.id).unwrap_or_else(|| id.to_string()))
    }

    /// What undoing a change to these machines needs: each one as it is now.
    pub(super) fn previous(&self, app: &str, ids: &[String]) -> Result<FlyUndo, ExecError> {
        let mut previous = Vec::new();
        for id in ids {
            let m = self.client.get_machine(app, id).map_err(ExecError::fly(format!("machine {id}")))?;
            let config = m.config.as_ref().ok_or_else(|| {
                ExecError::Failed(format!("machine {id} is on a host Fly cannot reach (host_status {}): its config is incomplete", m.host_status))
            })?;
            previous.push(PreviousMachine {
                id: m.id.clone(),
                name: m.name.clone(),
                region: m.region.clone(),
                state: m.state.clone(),
                cordoned: m.cordoned,
                config: serde_json::to_value(config).map_err(ExecError::json("a machine config"))?,
            });
        }
        Ok(FlyUndo::Machines { previous })
    }

    /// Runs `call` on every machine `refs` names, each under a lease.
    pub(super) fn each(
        &self,
        refs: &FlyMachineRefs,
        what: &str,
        call: impl Fn(&FlyClient, &str, &str, Option<&str>) -> Result<(), FlyError> + Sync,
    ) -> Result<Vec<(String, String)>, ExecError> {
        let machines = self.resolve(refs)?;
        for m in &machines {
            let lease = self.lease(&refs.app, &m.id, what)?;
            call(&self.client, &refs.app, &m.id, Some(lease.nonce())).map_err(ExecError::fly(format!("machine {}: {what}", m.id)))?;
        }
        Ok(vec![("machines".into(), machines.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(","))])
    }

    /// Takes the machine's lease for one change. A lease that ferry itself
    /// holds is stale: the app's lock in the state store lets one ferry run
    /// at a time, so it belongs to a run that was killed. Its short TTL
    /// runs out within seconds; ferry waits for that and takes over. A lease
    /// of anyone else (flyctl, a person) stops the change.
    pub(super) fn lease(&self, app: &str, id: &str, purpose: &str) -> Result<ferry_fly::LeaseGuard, ExecError> {
        let description = format!("{LEASE_PREFIX}{purpose}");
        let acquire = || self.client.acquire_lease(app, id, LEASE_TTL, &description);
        let err = |e: FlyError| ExecError::Failed(format!("machine {id}: {e}"));
        match acquire() {
            Err(FlyError::LeaseHeld { .. }) if self.stale_own_lease(app, id) => {
                tracing::warn!("machine {id} holds a lease of an earlier ferry run that stopped; waiting for it to expire");
                acquire().map_err(err)
            }
            other => other.map_err(err),
        }
    }

    /// Waits out a lease ferry took in an earlier run, if that is what
    /// holds the machine; true when it has expired.
    fn stale_own_lease(&self, app: &str, id: &str) -> bool {
        let Ok(Some(lease)) = self.client.get_lease(app, id) else { return false };
        let Some(data) = lease.data.filter(|d| d.description.starts_with(LEASE_PREFIX)) else { return false };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
        let left = u64::try_from(data.expires_at - now).unwrap_or(0);
        if left > LEASE_TTL.as_secs() + 2 {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_secs(left + 1));
        true
    }
}
