//! One wasmtime `Engine` per process, its epoch ticker, and loading steps.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};
use wasmtime::{Config, Engine, EngineWeak};

use crate::cache::CompileCache;
use crate::call::CallState;
use crate::{Grants, Limits, RuntimeError, capabilities};

/// The `ferry:step` version this host implements. Guests of any 0.1.x run.
pub(crate) const WIT_VERSION: &str = "0.1.0";

/// How often the epoch advances; deadlines are measured in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// True for an interface version this host serves: `0.1.*`.
pub(crate) fn version_compatible(version: &str) -> bool {
    version.split('.').take(2).eq(WIT_VERSION.split('.').take(2))
}

#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
}

/// Loads and calls steps. Cheap to share: calls take `&self`.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: Option<CompileCache>,
    /// Components compiled in this process, by sha256.
    compiled: Mutex<HashMap<String, Component>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("cache", &self.cache).finish_non_exhaustive()
    }
}

/// Where a loaded component's machine code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompiledFrom {
    /// Compiled by cranelift in this load.
    Compiler,
    /// Mapped from the on-disk cache.
    DiskCache,
    /// Already loaded by this process.
    Memory,
}

/// A step ready to call: compiled, import-checked and pre-linked.
#[derive(Clone)]
pub struct LoadedStep {
    pub(crate) name: String,
    pub(crate) sha256: String,
    pub(crate) grants: Grants,
    pub(crate) limits: Limits,
    pub(crate) imports: Vec<String>,
    pub(crate) compiled_from: CompiledFrom,
    pub(crate) pre: InstancePre<CallState>,
    pub(crate) describe: ComponentExportIndex,
    pub(crate) plan: ComponentExportIndex,
}

impl std::fmt::Debug for LoadedStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedStep")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .field("grants", &self.grants)
            .field("imports", &self.imports)
            .finish_non_exhaustive()
    }
}

impl LoadedStep {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    pub fn grants(&self) -> &Grants {
        &self.grants
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    /// The component's imports, as versioned interface names.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }
    pub fn compiled_from(&self) -> CompiledFrom {
        self.compiled_from
    }
}

impl Runtime {
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let mut cfg = Config::new();
        cfg.epoch_interruption(true).max_wasm_stack(1 << 20).wasm_component_model(true);
        let engine = Engine::new(&cfg).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        start_epoch_ticker(engine.weak());
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let cache = config.cache_dir.map(|dir| CompileCache::new(dir, &engine));
        Ok(Runtime { engine, linker, cache, compiled: Mutex::new(HashMap::new()) })
    }

    /// Compiles (or fetches from the cache), checks imports against `grants`,
    /// and pre-links a step. Nothing of the step runs here.
    pub fn load(&self, name: &str, bytes: &[u8], grants: Grants, limits: Limits) -> Result<LoadedStep, RuntimeError> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let (component, compiled_from) = self.compile(name, &sha256, bytes)?;
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&self.engine).map(|(n, _)| n.to_string()).collect();
        for import in &imports {
            grants.check_import(name, import)?;
        }
        let export = |iface: Option<&ComponentExportIndex>, export: &str| {
            component.get_export_index(iface, export).ok_or_else(|| RuntimeError::MissingExport {
                step: name.into(),
                export: export.into(),
                message: format!("a step must export `ferry:step/step@{WIT_VERSION}`"),
            })
        };
        let step_iface = export(None, &format!("ferry:step/step@{WIT_VERSION}"))?;
        let describe = export(Some(&step_iface), "describe")?;
        let plan = export(Some(&step_iface), "plan")?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| RuntimeError::InvalidComponent {
            step: name.into(),
            message: format!("{e:#}"),
        })?;
        Ok(LoadedStep { name: name.into(), sha256, grants, limits, imports, compiled_from, pre, describe, plan })
    }

    fn compile(&self, name: &str, sha256: &str, bytes: &[u8]) -> Result<(Component, CompiledFrom), RuntimeError> {
        let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = compiled.get(sha256) {
            return Ok((c.clone(), CompiledFrom::Memory));
        }
        let cached = self.cache.as_ref().and_then(|c| c.get(&self.engine, sha256));
        let (component, from) = match cached {
            Some(c) => (c, CompiledFrom::DiskCache),
            None => {
                let started = std::time::Instant::now();
                let c = Component::new(&self.engine, bytes).map_err(|e| RuntimeError::InvalidComponent {
                    step: name.into(),
                    message: format!("{e:#}"),
                })?;
                tracing::debug!(step = name, ms = started.elapsed().as_millis() as u64, "compiled component");
                if let Some(cache) = &self.cache {
                    cache.put(sha256, &c);
                }
                (c, CompiledFrom::Compiler)
            }
        };
        compiled.insert(sha256.to_string(), component.clone());
        Ok((component, from))
    }
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is
/// dropped. Epoch interruption stops even a tight loop with no host calls.
fn start_epoch_ticker(engine: EngineWeak) {
    let spawned = std::thread::Builder::new().name("ferry-epoch".into()).spawn(move || {
        while let Some(engine) = engine.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
    if let Err(e) = spawned {
        tracing::error!("could not start the epoch ticker; step deadlines will not fire: {e}");
    }
}
