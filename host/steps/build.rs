//! Compiles the guest workspace in `steps/` into components and generates
//! `builtin.rs`, which embeds them. Unchanged guests are not rebuilt: cargo
//! re-runs this script only when `steps/` or `wit/` changed, and the nested
//! cargo build is incremental.
//!
//! What a built-in step may import is its own world in `wit/worlds.wit`
//! (the world named like the step): the grant embedded here is read from
//! that world, and a component that imports anything outside it fails the
//! build, naming the import. The steps share one SDK bound to the world
//! `full`, so it is this check, not the compiler, that keeps each step to
//! its world.

use std::path::{Path, PathBuf};

use wit_parser::{Resolve, WorldId, WorldItem};

/// The built-in steps, in workflow order, with the operation classes each
/// may propose (approvals and waits need none). Each is what the step's
/// planner crates really propose: parse-config only reads; deploy
/// (fly-deploy) drives Fly machines, volumes and addresses; cutover changes
/// and checks DNS; copy-data copies databases and volumes and stops the
/// source's machines (its freeze); adopt writes fly.toml and sets machine
/// metadata; migrate creates and deletes apps, secrets, volumes and
/// certificates, edits fly.toml and the workflows, switches DNS, and for a
/// migration off Fly provisions and deploys to a Docker host; vm-deploy
/// works on a Docker host.
const STEPS: &[(&str, &[&str])] = &[
    ("parse-config", &[]),
    ("deploy", &["fly"]),
    ("cutover", &["dns"]),
    ("copy-data", &["data", "fly"]),
    ("adopt", &["checkout", "fly"]),
    ("migrate", &["checkout", "fly", "dns", "vm"]),
    ("vm-deploy", &["vm"]),
];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.ancestors().nth(2).expect("host/steps sits two levels below the repository root");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace = root.join("steps");
    // The guests' path dependencies outside their workspace count too.
    let shared = ["host/providers/pg-names", "host/providers/fly-wire"].map(|p| root.join(p));
    ferry_guest_build::rerun_if_changed(&[&workspace, &root.join("wit"), &shared[0], &shared[1]]);

    let worlds = Worlds::load(&root.join("wit")).unwrap_or_else(|e| fail(&e));
    let grants: Vec<Vec<String>> = STEPS.iter().map(|(name, _)| worlds.grants(name)).collect::<Result<_, _>>().unwrap_or_else(|e| fail(&e));

    let packages: Vec<&str> = STEPS.iter().map(|(name, _)| *name).collect();
    let target_dir = ferry_guest_build::guest_target_dir(&out_dir);
    let built = ferry_guest_build::build_components(&workspace, &packages, &target_dir).unwrap_or_else(|e| fail(&e.to_string()));
    for (component, (name, _)) in built.iter().zip(STEPS) {
        worlds.check_component(name, &component.path).unwrap_or_else(|e| fail(&e));
    }
    write_registry(&out_dir.join("builtin.rs"), &built, &grants);
}

fn fail(message: &str) -> ! {
    eprintln!("\nerror: {message}\n");
    std::process::exit(1);
}

/// `wit/`, parsed: the package that holds each step's world.
struct Worlds {
    resolve: Resolve,
    package: wit_parser::PackageId,
}

impl Worlds {
    fn load(dir: &Path) -> Result<Worlds, String> {
        let mut resolve = Resolve::default();
        let (package, _) = resolve.push_dir(dir).map_err(|e| format!("{}: {e:#}", dir.display()))?;
        Ok(Worlds { resolve, package })
    }

    fn world(&self, step: &str) -> Result<WorldId, String> {
        self.resolve
            .select_world(&[self.package], Some(step))
            .map_err(|e| format!("the built-in step `{step}` has no world of its name in wit/worlds.wit: {e:#}"))
    }

    /// The `ferry:step` interfaces a world imports (versionless names).
    fn imports(&self, world: WorldId) -> Vec<(String, bool)> {
        self.resolve.worlds[world]
            .imports
            .values()
            .filter_map(|item| match item {
                WorldItem::Interface { id, .. } => {
                    let iface = &self.resolve.interfaces[*id];
                    // Type-only interfaces (types, the *-ops) hold no functions: nothing to grant.
                    Some((iface.name.clone()?, !iface.functions.is_empty()))
                }
                WorldItem::Function(_) | WorldItem::Type(_) => None,
            })
            .collect()
    }

    /// The capabilities the step's world grants: its imports that have functions.
    fn grants(&self, step: &str) -> Result<Vec<String>, String> {
        let world = self.world(step)?;
        Ok(self.imports(world).into_iter().filter(|(_, callable)| *callable).map(|(name, _)| name).collect())
    }

    /// Fails unless every `ferry:step` import of the built component is in the step's world.
    fn check_component(&self, step: &str, path: &Path) -> Result<(), String> {
        let allowed: Vec<String> = self.imports(self.world(step)?).into_iter().map(|(name, _)| name).collect();
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (resolve, world) = match wit_component::decode(&bytes).map_err(|e| format!("{}: {e:#}", path.display()))? {
            wit_component::DecodedWasm::Component(resolve, world) => (resolve, world),
            wit_component::DecodedWasm::WitPackage(..) => return Err(format!("{} is a WIT package, not a component", path.display())),
        };
        let world = &resolve.worlds[world];
        for item in world.imports.values() {
            let WorldItem::Interface { id, .. } = item else { continue };
            let iface = &resolve.interfaces[*id];
            let Some(name) = &iface.name else { continue };
            let ours = iface.package.is_some_and(|p| resolve.packages[p].name.namespace == "ferry" && resolve.packages[p].name.name == "step");
            if !ours || !allowed.contains(name) {
                return Err(format!(
                    "the built-in step `{step}` imports `{}`, which its world `{step}` in wit/worlds.wit does not include; \
                     add it to that world (and so to the step's grant) or stop using it",
                    resolve.id_of(*id).unwrap_or_else(|| name.clone())
                ));
            }
        }
        Ok(())
    }
}

fn write_registry(path: &Path, built: &[ferry_guest_build::BuiltComponent], grants: &[Vec<String>]) {
    let mut src = String::from("/// Every built-in step, in workflow order.\npub static BUILTIN: &[Builtin] = &[\n");
    for ((component, (_, actions)), grants) in built.iter().zip(STEPS).zip(grants) {
        src.push_str(&format!(
            "    Builtin {{ name: {:?}, component: include_bytes!({:?}), grants: &{:?}, actions: &{:?} }},\n",
            component.package, component.path, grants, actions
        ));
    }
    src.push_str("];\n");
    std::fs::write(path, src).expect("writing builtin.rs to OUT_DIR");
}
