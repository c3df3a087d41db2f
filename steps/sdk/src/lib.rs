//! Write a ferry step.
//!
//! A step is a pure planner: it reads its inputs (the app-spec, parameters,
//! files of the checkout, read-only provider queries) and returns a plan of
//! typed actions. It never changes anything itself; the host does, after a
//! person has reviewed the plan.
//!
//! ```ignore
//! use ferry_step_sdk::{Step, export_step, types::*, step::*};
//!
//! struct Hello;
//! impl Step for Hello {
//!     fn describe() -> StepInfo { /* name, version, summary, params */ }
//!     fn plan(request: PlanRequest) -> Result<StepPlan, StepError> { /* … */ }
//! }
//! export_step!(Hello);
//! ```
//!
//! [`export_step!`] wires the step to the component's exports and installs a
//! panic hook first, so a panic reaches the host with its message (a wasm
//! trap carries none, and `wasm32-unknown-unknown` has no stderr).

// Lets the generated code name this crate the same way inside it as in steps.
extern crate self as ferry_step_sdk;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "ferry:step/full",
        pub_export_macro: true,
        export_macro_name: "__export_full",
        default_bindings_module: "ferry_step_sdk::bindings",
        runtime_path: "ferry_step_sdk::__wit_bindgen_rt",
        generate_all,
    });
}

#[doc(hidden)]
pub use wit_bindgen::rt as __wit_bindgen_rt;

/// Records of the `step` interface: requests, plans, step info.
pub use bindings::exports::ferry::step::step;
/// Shared records: app-spec, actions, findings, errors, and each provider's
/// operations with their records (`wit/ops-*.wit`), under one path.
pub mod types {
    pub use crate::bindings::ferry::step::types::*;
    pub use crate::bindings::ferry::step::{checkout_ops::*, data_ops::*, dns_ops::*, fly_ops::*, vm_ops::*};
    // `types` names each provider's variant through a WIT `use` (an alias)
    // and the provider's interface defines it: named once here, so neither
    // glob is ambiguous.
    pub use crate::bindings::ferry::step::{checkout_ops::CheckoutOp, control_ops::ControlOp, data_ops::DataOp, dns_ops::DnsOp, fly_ops::FlyOp, vm_ops::VmOp};
    // The same for the record `vm-ops` takes from `data-ops`.
    pub use crate::bindings::ferry::step::data_ops::VolumePass;
}
/// Host imports. A step may call only those its workflow grants; the host
/// refuses to run a component that imports more.
pub mod host {
    pub use crate::bindings::ferry::step::{checkout, clock, data, dns, fly, log, vm};
}

mod defaults;
/// flyctl's metadata keys and Go's duration text, as the host reads them.
pub use ferry_fly_wire as fly_wire;
pub mod files;
pub mod logging;
pub mod params;
pub mod spelling;
pub mod units;

/// A step's two entry points.
pub trait Step {
    /// Who the step is and what parameters it takes.
    fn describe() -> step::StepInfo;
    /// The plan for one request.
    fn plan(request: step::PlanRequest) -> Result<step::StepPlan, types::StepError>;
}

/// A [`step::StepInfo`] without parameters.
pub fn step_info(name: &str, version: &str, summary: &str) -> step::StepInfo {
    step::StepInfo { name: name.into(), version: version.into(), summary: summary.into(), params: Vec::new() }
}

/// Forwards every panic's message (with its source location) to the host
/// before the guest traps. Idempotent.
pub fn install_panic_hook() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message: String = match info.location() {
                Some(at) => format!("{} (at {}:{})", payload_text(info), at.file(), at.line()),
                None => payload_text(info),
            };
            host::log::report_panic(&message);
        }));
    });
}

fn payload_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    if let Some(s) = info.payload().downcast_ref::<&str>() {
        String::from(*s)
    } else if let Some(s) = info.payload().downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("panic with a non-string payload")
    }
}

/// Exports a [`Step`] implementation as the component's `ferry:step/step`.
#[macro_export]
macro_rules! export_step {
    ($step:ty) => {
        #[doc(hidden)]
        struct __FerryStepExport;

        impl $crate::bindings::exports::ferry::step::step::Guest for __FerryStepExport {
            fn describe() -> $crate::step::StepInfo {
                $crate::install_panic_hook();
                <$step as $crate::Step>::describe()
            }
            fn plan(request: $crate::step::PlanRequest) -> ::core::result::Result<$crate::step::StepPlan, $crate::types::StepError> {
                $crate::install_panic_hook();
                <$step as $crate::Step>::plan(request)
            }
        }

        $crate::bindings::__export_full!(__FerryStepExport);
    };
}
