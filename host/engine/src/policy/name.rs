//! The name of each operation, as plans, errors and refusals spell it.

use ferry_model::Operation;

use super::OperationPolicy;

/// `fly-set-secrets`, `vm-write-file`, …: the provider and the operation's
/// case in its `wit/ops-*.wit` (the plan's JSON nests the same two as serde
/// spells the generated types: `{"Fly": {"SetSecrets": …}}`).
pub fn name(op: &Operation) -> &'static str {
    op.name()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_model::{ControlOp, FlyOp};

    #[test]
    fn names_join_the_provider_and_its_case_as_the_json_nests_them() {
        let op = Operation::Fly(FlyOp::DestroyApp("shop".into()));
        assert_eq!(name(&op), "fly-destroy-app");
        let json = serde_json::to_value(&op).unwrap();
        assert!(json["Fly"].get("DestroyApp").is_some(), "{json}");
        let op = Operation::Control(ControlOp::WaitMs(5));
        assert_eq!(name(&op), "wait-ms");
        assert!(serde_json::to_value(&op).unwrap()["Control"].get("WaitMs").is_some());
    }
}
