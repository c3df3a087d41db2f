//! The checks every action passes before it enters a plan: its operations
//! (and its undo's) are within the step's grant, nothing runs a shell
//! command a built-in step did not write, no file gets a dangerous mode,
//! ids are unique in the plan; and its risk is raised to the host's floor.

use std::collections::HashMap;

use ferry_model::{Action, Operation, Risk, Undo, VmFile, VmOp};

use super::{OperationClass, OperationGrant, floor, name};

/// The step whose actions are being admitted, and what it may propose.
#[derive(Clone, Copy, Debug)]
pub struct StepRights<'a> {
    pub step: &'a str,
    /// Built into the ferry binary (so reviewed with ferry itself) rather
    /// than a component from the repository.
    pub builtin: bool,
    pub grant: &'a OperationGrant,
}

/// Why a step's plan was refused. Each names the step, the action and the
/// operation, and says what to do.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "step `{step}` proposed action `{action}` whose {role} is `{operation}`, an operation of class `{class}`, \
         which its operation grant does not include (granted: {granted}); {hint}"
    )]
    NotGranted { step: String, action: String, role: Role, operation: &'static str, class: &'static str, granted: String, hint: String },
    #[error(
        "step `{step}` proposed action `{action}` whose {role} writes {path} and then reloads nginx on the host; \
         only ferry's built-in steps may do that (a custom step's site file would start serving unreviewed by ferry's authors)"
    )]
    Reload { step: String, action: String, role: Role, path: String },
    #[error("step `{step}` proposed action `{action}` whose {role} writes {path} with mode {mode:o}, which is {why}; no step may write such a file")]
    UnsafeMode { step: String, action: String, role: Role, path: String, mode: u32, why: &'static str },
    #[error(
        "step `{step}` proposed action {number} with id `{id}`, the id of action {first_number} of step `{first_step}`; \
         ids must be unique in a plan, because the journal records each action's progress by its id"
    )]
    DuplicateId { id: String, step: String, number: usize, first_step: String, first_number: usize },
}

/// Which operation of an action a refusal is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Operation,
    Undo,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Operation => "operation",
            Role::Undo => "undo",
        })
    }
}

/// Admits the actions of a workflow's steps in order, remembering every id
/// seen so far.
#[derive(Debug, Default)]
pub struct Admission {
    /// id -> (step, 1-based number of the action in it).
    seen: HashMap<String, (String, usize)>,
}

impl Admission {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks `actions` of one step and raises each one's risk to the floor
    /// of its operation and of its undo's (an undo runs unreviewed, on a
    /// failure or an abort, so its cost is part of the action's).
    pub fn admit(&mut self, rights: StepRights<'_>, actions: &mut [Action]) -> Result<(), Refusal> {
        for (i, action) in actions.iter_mut().enumerate() {
            let number = i + 1;
            if let Some((first_step, first_number)) = self.seen.get(&action.id) {
                return Err(Refusal::DuplicateId {
                    id: action.id.clone(),
                    step: rights.step.into(),
                    number,
                    first_step: first_step.clone(),
                    first_number: *first_number,
                });
            }
            let mut risk = action.risk;
            for (role, op) in operations(action) {
                check(rights, &action.id, role, op)?;
                risk = risk.max(floor(op).risk);
            }
            action.risk = risk;
            self.seen.insert(action.id.clone(), (rights.step.to_string(), number));
        }
        Ok(())
    }
}

/// The action's operation, and its undo's when the undo runs one.
fn operations(action: &Action) -> impl Iterator<Item = (Role, &Operation)> {
    let undo = match &action.undo {
        Undo::Run(op) => Some((Role::Undo, op)),
        Undo::RestorePrevious | Undo::None(_) => None,
    };
    std::iter::once((Role::Operation, &action.operation)).chain(undo)
}

fn check(rights: StepRights<'_>, action: &str, role: Role, op: &Operation) -> Result<(), Refusal> {
    if let Some(class) = OperationClass::needed(op).into_iter().find(|c| !rights.grant.allows(*c)) {
        let hint = if rights.builtin {
            "a built-in step's grant is fixed, so this is a bug in ferry: please report it".to_string()
        } else {
            format!("add \"{}\" to the step's `actions` in ferry.toml only if it should propose such operations", class.name())
        };
        return Err(Refusal::NotGranted {
            step: rights.step.into(),
            action: action.into(),
            role,
            operation: name(op),
            class: class.name(),
            granted: rights.grant.to_string(),
            hint,
        });
    }
    if let Operation::Vm(VmOp::WriteFile(VmFile { path, mode, reload, .. })) = op {
        if *reload && !rights.builtin {
            return Err(Refusal::Reload { step: rights.step.into(), action: action.into(), role, path: path.clone() });
        }
        if let Some(why) = unsafe_mode(*mode) {
            return Err(Refusal::UnsafeMode { step: rights.step.into(), action: action.into(), role, path: path.clone(), mode: *mode, why });
        }
    }
    Ok(())
}

/// Why a file mode is refused: setuid, setgid or sticky bits (a setuid
/// file is a privilege escalation waiting on the host), bits that are not
/// permission bits at all, or write access for every user.
pub fn unsafe_mode(mode: u32) -> Option<&'static str> {
    if mode & !0o7777 != 0 {
        Some("not a permission mode (bits above 7777)")
    } else if mode & 0o4000 != 0 {
        Some("setuid")
    } else if mode & 0o2000 != 0 {
        Some("setgid")
    } else if mode & 0o1000 != 0 {
        Some("sticky")
    } else if mode & 0o002 != 0 {
        Some("writable by every user")
    } else {
        None
    }
}

/// The risk an action ends with: what the step said, raised to the floors.
/// (Exposed for callers that check a single action without an admission.)
pub fn effective_risk(action: &Action) -> Risk {
    operations(action).map(|(_, op)| floor(op).risk).fold(action.risk, Risk::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_model::{CheckoutOp, ControlOp, FlyOp, VmOp};
    use ferry_model::{ConfigEdit, FlySecrets};

    fn action(id: &str, risk: Risk, operation: Operation, undo: Undo) -> Action {
        Action { id: id.into(), summary: "tidy up the logs".into(), risk, operation, undo, detail: None }
    }

    fn secrets() -> Operation {
        Operation::Fly(FlyOp::SetSecrets(FlySecrets { app: "other".into(), names: vec!["DATABASE_URL".into()] }))
    }

    fn vm_file(mode: u32, reload: bool) -> Operation {
        Operation::Vm(VmOp::WriteFile(VmFile { target: "t".into(), path: "/usr/local/bin/x".into(), contents: "x".into(), mode, reload }))
    }

    fn custom(grant: &OperationGrant) -> StepRights<'_> {
        StepRights { step: "lint", builtin: false, grant }
    }

    #[test]
    fn an_operation_outside_the_grant_is_refused_naming_step_action_and_operation() {
        let grant = OperationGrant::default();
        let mut actions = vec![action("tidy", Risk::Safe, secrets(), Undo::RestorePrevious)];
        let err = Admission::new().admit(custom(&grant), &mut actions).unwrap_err().to_string();
        assert!(err.contains("step `lint`") && err.contains("action `tidy`") && err.contains("`fly-set-secrets`"), "{err}");
        assert!(err.contains("granted: approvals and waits only") && err.contains("add \"fly\" to the step's `actions`"), "{err}");
    }

    #[test]
    fn an_undo_outside_the_grant_is_refused_too() {
        let grant = OperationGrant::parse(&["checkout"]).unwrap();
        let edit = Operation::Checkout(CheckoutOp::EditConfig(ConfigEdit { file: "fly.toml".into(), key: "a".into(), value: None }));
        let mut actions = vec![action("edit", Risk::Safe, edit, Undo::Run(Operation::Fly(FlyOp::DestroyApp("shop".into()))))];
        let err = Admission::new().admit(custom(&grant), &mut actions).unwrap_err();
        assert!(matches!(err, Refusal::NotGranted { role: Role::Undo, operation: "fly-destroy-app", .. }), "{err}");
    }

    #[test]
    fn a_copy_out_of_fly_onto_a_host_needs_the_fly_grant_too() {
        let copy = Operation::Vm(ferry_model::VmOp::FlyVolume(ferry_model::VmFlyVolume {
            target: "prod".into(),
            app: "shop".into(),
            volume: "vol_1".into(),
            name: "data".into(),
            path: "/srv/shop/volumes/data".into(),
            pass: ferry_model::VolumePass::Bulk,
            timeout_ms: 1,
        }));
        let vm_only = OperationGrant::parse(&["vm"]).unwrap();
        let err = Admission::new().admit(custom(&vm_only), &mut [action("copy", Risk::Safe, copy.clone(), Undo::RestorePrevious)]).unwrap_err();
        assert!(matches!(err, Refusal::NotGranted { class: "fly", operation: "vm-fly-volume", .. }), "{err}");
        let both = OperationGrant::parse(&["vm", "fly"]).unwrap();
        Admission::new().admit(custom(&both), &mut [action("copy", Risk::Safe, copy, Undo::RestorePrevious)]).unwrap();
    }

    #[test]
    fn risk_is_raised_to_the_floor_of_the_operation_and_its_undo() {
        let grant = OperationGrant::parse(&["fly"]).unwrap();
        let mut actions = vec![
            action("a", Risk::Safe, secrets(), Undo::RestorePrevious),
            action("b", Risk::Safe, Operation::Control(ControlOp::WaitMs(1)), Undo::Run(Operation::Fly(FlyOp::DestroyApp("shop".into())))),
            action("c", Risk::Irreversible, Operation::Control(ControlOp::WaitMs(1)), Undo::None("-".into())),
        ];
        Admission::new().admit(custom(&grant), &mut actions).unwrap();
        let risks: Vec<Risk> = actions.iter().map(|a| a.risk).collect();
        assert_eq!(risks, vec![Risk::Destructive, Risk::Irreversible, Risk::Irreversible], "raised, never lowered");
    }

    #[test]
    fn a_reload_is_refused_from_a_custom_step_and_allowed_from_a_builtin_one() {
        let grant = OperationGrant::parse(&["vm"]).unwrap();
        let mut actions = vec![action("w", Risk::Safe, vm_file(0o644, true), Undo::RestorePrevious)];
        let err = Admission::new().admit(custom(&grant), &mut actions).unwrap_err();
        assert!(matches!(err, Refusal::Reload { .. }), "{err}");
        let builtin = StepRights { step: "vm-deploy", builtin: true, grant: &grant };
        Admission::new().admit(builtin, &mut actions).unwrap();
        assert_eq!(actions[0].risk, Risk::Disruptive);
    }

    #[test]
    fn dangerous_modes_are_refused_from_every_step() {
        let grant = OperationGrant::parse(&["vm"]).unwrap();
        let builtin = StepRights { step: "vm-deploy", builtin: true, grant: &grant };
        for (mode, why) in [
            (0o4755, "setuid"),
            (0o2755, "setgid"),
            (0o1777, "sticky"),
            (0o666, "writable by every user"),
            (0o100644, "not a permission mode (bits above 7777)"),
        ] {
            let mut actions = vec![action("w", Risk::Safe, vm_file(mode, false), Undo::RestorePrevious)];
            let err = Admission::new().admit(builtin, &mut actions).unwrap_err();
            assert!(matches!(err, Refusal::UnsafeMode { why: w, .. } if w == why), "{mode:o}: {err}");
        }
        for mode in [0o644, 0o600, 0o755, 0o640, 0o664] {
            assert_eq!(unsafe_mode(mode), None, "{mode:o}");
        }
    }

    #[test]
    fn duplicate_ids_are_refused_within_and_across_steps() {
        let grant = OperationGrant::default();
        let wait = |id: &str| action(id, Risk::Safe, Operation::Control(ControlOp::WaitMs(1)), Undo::None("-".into()));
        let mut admission = Admission::new();
        let err = admission.admit(custom(&grant), &mut [wait("a"), wait("b"), wait("a")]).unwrap_err().to_string();
        assert!(err.contains("action 3 with id `a`, the id of action 1 of step `lint`"), "{err}");

        let mut admission = Admission::new();
        admission.admit(StepRights { step: "first", builtin: false, grant: &grant }, &mut [wait("x")]).unwrap();
        let err = admission.admit(StepRights { step: "second", builtin: false, grant: &grant }, &mut [wait("x")]).unwrap_err().to_string();
        assert!(err.contains("step `second` proposed action 1 with id `x`, the id of action 1 of step `first`"), "{err}");
    }
}
