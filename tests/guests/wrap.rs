//! Hostile components that no Rust guest can be: a real step wrapped in an
//! outer component that also instantiates extra core modules (each with its
//! own linear memory, or several memories, or none).
//!
//! The outer component imports exactly what the step imports (the step's
//! leading type, import and alias sections, copied byte for byte), nests the
//! step's component, instantiates it with those imports, and re-exports its
//! `ferry:step/step` instance. So it is a working step: without the host's
//! per-store limits it loads and plans like the step it wraps, while its
//! extra core instances hold memory the step never sees.

use wasm_encoder::{
    Component, ComponentAliasSection, ComponentExportKind, ComponentExportSection, ComponentInstanceSection, ComponentSectionId, InstanceSection,
    MemorySection, MemoryType, Module, ModuleSection, RawSection,
};
use wasmparser::{Parser, Payload};

/// The step interface every ferry step exports.
const STEP_EXPORT: &str = "ferry:step/step@0.1.0";

/// Extra core instances to add beside the step.
pub struct Extra {
    /// How many instances of the extra module.
    pub instances: u32,
    /// The extra module's memories, as initial sizes in 64 KiB pages.
    pub memories: &'static [u64],
}

/// `step` (a component's bytes) wrapped with `extra` core instances.
pub fn wrap(step: &[u8], extra: &Extra) -> Vec<u8> {
    let (preamble, imports) = preamble(step);
    let mut outer = Component::new();
    for (id, data) in &preamble {
        outer.section(&RawSection { id: *id, data });
    }

    let mut memories = MemorySection::new();
    for &pages in extra.memories {
        memories.memory(MemoryType { minimum: pages, maximum: None, memory64: false, shared: false, page_size_log2: None });
    }
    let mut module = Module::new();
    module.section(&memories);
    outer.section(&ModuleSection(&module));
    let mut core_instances = InstanceSection::new();
    for _ in 0..extra.instances {
        core_instances.instantiate(0, Vec::<(&str, wasm_encoder::ModuleArg)>::new());
    }
    outer.section(&core_instances);

    outer.section(&RawSection { id: ComponentSectionId::Component as u8, data: step });
    let mut instances = ComponentInstanceSection::new();
    let args: Vec<(&str, ComponentExportKind, u32)> =
        imports.iter().enumerate().map(|(i, name)| (name.as_str(), ComponentExportKind::Instance, i as u32)).collect();
    instances.instantiate(0, args);
    outer.section(&instances);
    let step_instance = imports.len() as u32;
    let mut aliases = ComponentAliasSection::new();
    aliases.alias(wasm_encoder::Alias::InstanceExport { instance: step_instance, kind: ComponentExportKind::Instance, name: STEP_EXPORT });
    outer.section(&aliases);
    let mut exports = ComponentExportSection::new();
    exports.export(STEP_EXPORT, ComponentExportKind::Instance, step_instance + 1, None);
    outer.section(&exports);
    outer.finish()
}

/// The step's sections before its first core module (types, instance
/// imports and type aliases), as (section id, body), and the names of its
/// instance imports in index order.
fn preamble(step: &[u8]) -> (Vec<(u8, &[u8])>, Vec<String>) {
    let mut sections = Vec::new();
    let mut imports = Vec::new();
    for payload in Parser::new(0).parse_all(step) {
        let payload = payload.expect("a test guest is a valid component");
        let (id, range) = match payload {
            Payload::Version { .. } => continue,
            Payload::ModuleSection { .. } => break,
            Payload::ComponentTypeSection(r) => (ComponentSectionId::Type, r.range()),
            Payload::ComponentAliasSection(r) => {
                for alias in r.clone() {
                    // Only type aliases: an aliased instance would shift the
                    // instance indices counted from the imports.
                    let alias = alias.expect("a valid alias");
                    assert!(
                        matches!(
                            alias,
                            wasmparser::ComponentAlias::InstanceExport { kind: wasmparser::ComponentExternalKind::Type, .. }
                                | wasmparser::ComponentAlias::Outer { .. }
                        ),
                        "unexpected alias before the step's first core module: {alias:?}"
                    );
                }
                (ComponentSectionId::Alias, r.range())
            }
            Payload::CoreTypeSection(r) => (ComponentSectionId::CoreType, r.range()),
            Payload::CustomSection(_) => continue,
            Payload::ComponentImportSection(r) => {
                for import in r.clone() {
                    let import = import.expect("a valid import");
                    assert!(matches!(import.ty, wasmparser::ComponentTypeRef::Instance(_)), "a step imports interfaces (instances) only");
                    imports.push(import.name.0.to_string());
                }
                (ComponentSectionId::Import, r.range())
            }
            other => panic!("unexpected section before the step's first core module: {other:?}"),
        };
        sections.push((id as u8, &step[range]));
    }
    (sections, imports)
}
