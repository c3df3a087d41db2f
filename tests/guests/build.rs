//! Builds the test components in `components/` (a separate guest workspace)
//! and generates constants naming each component file.

use std::path::PathBuf;

mod wrap;

const GUESTS: &[&str] = &["spin", "membomb", "panics", "wants-fly", "foreign-import", "hostcall-flood", "lint-step", "reads-checkout", "edits", "proposes"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.ancestors().nth(2).expect("tests/guests sits two levels below the repository root");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace = manifest.join("components");
    ferry_guest_build::rerun_if_changed(&[&workspace, &root.join("steps/sdk"), &root.join("host/providers/fly-wire"), &root.join("wit")]);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=wrap.rs");
    let target_dir = ferry_guest_build::guest_target_dir(&out_dir);
    let built = match ferry_guest_build::build_components(&workspace, GUESTS, &target_dir) {
        Ok(built) => built,
        Err(e) => {
            eprintln!("\nerror: {e}\n");
            std::process::exit(1);
        }
    };
    let mut src = String::new();
    for c in &built {
        let konst = c.package.to_uppercase().replace('-', "_");
        src.push_str(&format!("/// The `{}` test component.\npub const {konst}: &str = {:?};\n", c.package, c.path));
    }
    src.push_str(&wrapped(&built, &out_dir));
    std::fs::write(out_dir.join("guests.rs"), src).expect("writing guests.rs");
}

/// Components that wrap a built guest with extra core instances (see
/// `wrap.rs`), each written to OUT_DIR and named by a constant.
fn wrapped(built: &[ferry_guest_build::BuiltComponent], out_dir: &std::path::Path) -> String {
    /// (constant, guest wrapped, extra instances, what the constant's doc says)
    const WRAPPED: &[(&str, &str, wrap::Extra, &str)] = &[
        (
            "SPREAD_MEMORY",
            "lint-step",
            // 1600 pages = 100 MiB each: under the default 256 MiB cap alone, 300 MiB together.
            wrap::Extra { instances: 3, memories: &[1600] },
            "`lint-step` beside three core instances that each hold a 100 MiB memory",
        ),
        ("MULTI_MEMORY", "lint-step", wrap::Extra { instances: 1, memories: &[1, 1] }, "`lint-step` beside a core module that declares two memories"),
        ("MANY_INSTANCES", "lint-step", wrap::Extra { instances: 16, memories: &[] }, "`lint-step` beside sixteen instances of an empty core module"),
        ("MANY_MEMORIES", "lint-step", wrap::Extra { instances: 4, memories: &[1] }, "`lint-step` beside four core instances with a one-page memory each"),
    ];
    let dir = out_dir.join("wrapped");
    std::fs::create_dir_all(&dir).expect("creating OUT_DIR/wrapped");
    let mut src = String::new();
    for (konst, guest, extra, doc) in WRAPPED {
        let step = built.iter().find(|c| c.package == *guest).unwrap_or_else(|| panic!("{guest} is not built"));
        let bytes = std::fs::read(&step.path).unwrap_or_else(|e| panic!("reading {}: {e}", step.path.display()));
        let path = dir.join(format!("{}.wasm", konst.to_lowercase().replace('_', "-")));
        std::fs::write(&path, wrap::wrap(&bytes, extra)).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        src.push_str(&format!("/// {doc}.\npub const {konst}: &str = {path:?};\n"));
    }
    src
}
