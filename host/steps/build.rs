//! Compiles the guest workspace in `steps/` into components and generates
//! `builtin.rs`, which embeds them. Unchanged guests are not rebuilt: cargo
//! re-runs this script only when `steps/` or `wit/` changed, and the nested
//! cargo build is incremental.

use std::path::{Path, PathBuf};

/// The built-in steps, in workflow order: the imports each is granted, and
/// the operation classes it may propose (approvals and waits need none).
/// deploy reads the checkout only for `--file-local` files.
/// Each operation grant is what the step's planner crates really propose:
/// parse-config only reads; deploy (fly-deploy) drives Fly machines, volumes
/// and addresses; cutover changes and checks DNS; copy-data copies databases
/// and volumes and stops the source's machines (its freeze); adopt writes
/// fly.toml and sets machine metadata; migrate creates and deletes apps,
/// secrets, volumes and certificates, edits fly.toml and switches DNS;
/// vm-deploy works on a Docker host.
const STEPS: &[(&str, &[&str], &[&str])] = &[
    ("parse-config", &["log", "clock", "checkout", "fly"], &[]),
    ("deploy", &["log", "clock", "checkout", "fly"], &["fly"]),
    ("cutover", &["log", "clock", "dns"], &["dns"]),
    ("copy-data", &["log", "clock", "fly", "data"], &["data", "fly"]),
    ("adopt", &["log", "clock", "fly"], &["checkout", "fly"]),
    ("migrate", &["log", "clock", "fly", "dns"], &["checkout", "fly", "dns"]),
    ("vm-deploy", &["log", "clock", "vm"], &["vm"]),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.ancestors().nth(2).expect("host/steps sits two levels below the repository root");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace = root.join("steps");
    // The guests' path dependencies outside their workspace count too.
    let shared = ["host/providers/pg-names", "host/providers/fly-wire"].map(|p| root.join(p));
    ferry_guest_build::rerun_if_changed(&[&workspace, &root.join("wit"), &shared[0], &shared[1]]);

    let packages: Vec<&str> = STEPS.iter().map(|(name, _, _)| *name).collect();
    let target_dir = ferry_guest_build::guest_target_dir(&out_dir);
    let built = match ferry_guest_build::build_components(&workspace, &packages, &target_dir) {
        Ok(built) => built,
        Err(e) => {
            eprintln!("\nerror: {e}\n");
            std::process::exit(1);
        }
    };
    write_registry(&out_dir.join("builtin.rs"), &built);
}

fn write_registry(path: &Path, built: &[ferry_guest_build::BuiltComponent]) {
    let mut src = String::from("/// Every built-in step, in workflow order.\npub static BUILTIN: &[Builtin] = &[\n");
    for (component, (_, grants, actions)) in built.iter().zip(STEPS) {
        src.push_str(&format!(
            "    Builtin {{ name: {:?}, component: include_bytes!({:?}), grants: &{:?}, actions: &{:?} }},\n",
            component.package, component.path, grants, actions
        ));
    }
    src.push_str("];\n");
    std::fs::write(path, src).expect("writing builtin.rs to OUT_DIR");
}
