//! ferry's built-in steps, embedded so that one binary is the whole product.
//!
//! The components are built from `steps/` by this crate's build script (see
//! `ferry-guest-build` for how the toolchain is chosen).

/// A step component shipped inside the `ferry` binary.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The step's name, as workflows refer to it.
    pub name: &'static str,
    /// The component's bytes.
    pub component: &'static [u8],
    /// The imports the step is granted (e.g. `checkout`).
    pub grants: &'static [&'static str],
    /// The operation classes the step may propose (e.g. `fly`); approvals
    /// and waits need none. The planner refuses any other operation.
    pub actions: &'static [&'static str],
}

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// The built-in step called `name`.
pub fn find(name: &str) -> Option<&'static Builtin> {
    BUILTIN.iter().find(|b| b.name == name)
}
