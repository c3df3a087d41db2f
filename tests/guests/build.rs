//! Builds the test components in `components/` (a separate guest workspace)
//! and generates constants naming each component file.

use std::path::PathBuf;

const GUESTS: &[&str] =
    &["spin", "membomb", "panics", "wants-fly", "foreign-import", "hostcall-flood", "lint-step", "reads-checkout", "edits", "proposes"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.ancestors().nth(2).expect("tests/guests sits two levels below the repository root");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace = manifest.join("components");
    ferry_guest_build::rerun_if_changed(&[&workspace, &root.join("steps/sdk"), &root.join("wit")]);
    let target_dir = ferry_guest_build::guest_target_dir(&out_dir);
    let built = match ferry_guest_build::build_components(&workspace, GUESTS, &target_dir) {
        Ok(built) => built,
        Err(e) => {
            eprintln!("\nerror: {e}\n");
            std::process::exit(1);
        }
    };
    let mut src = String::new();
    for c in built {
        let konst = c.package.to_uppercase().replace('-', "_");
        src.push_str(&format!("/// The `{}` test component.\npub const {konst}: &str = {:?};\n", c.package, c.path));
    }
    std::fs::write(out_dir.join("guests.rs"), src).expect("writing guests.rs");
}
