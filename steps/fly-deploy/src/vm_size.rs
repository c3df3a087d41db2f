//! `--vm-size`, `--vm-cpus`, `--vm-memory`, `--vm-cpu-kind`,
//! `--vm-max-memory` and `--host-dedication-id`: the size of the machines
//! a deploy *creates*.
//!
//! flyctl builds one guest from them, `md.machineGuest` =
//! shared-cpu-1x overlaid by the flags (`flyctl:internal/flag/machines.go:14-75`,
//! `GetMachineGuest`; `deploy.go:562-565`), and uses it only for new
//! machines of groups without `[[vm]]` (`machines_launchinput.go:42-45`:
//! "Obey the Guest if already set from [[compute]] section"): new groups,
//! HA spares, and the release command machine when no machine of the
//! default group exists (`machines_releasecommand.go:318-348`). Existing
//! machines keep their guest: these flags never resize a running app
//! (`fly scale vm` does).

use ferry_step_sdk::params::{Params, did_you_mean, invalid};
use ferry_step_sdk::types::StepError;
use serde_json::{Value, json};

/// fly-go's `DefaultVMSize`.
pub const DEFAULT_SIZE: &str = "shared-cpu-1x";

/// fly-go's `MachinePresets` (`machine_types.go:558-577`) without the GPU
/// sizes: (name, cpu kind, cpus, memory MB). Shared CPUs get 256 MB each,
/// performance CPUs 2048 MB each.
const PRESETS: &[(&str, &str, u32, u64)] = &[
    ("shared-cpu-1x", "shared", 1, 256),
    ("shared-cpu-2x", "shared", 2, 512),
    ("shared-cpu-4x", "shared", 4, 1024),
    ("shared-cpu-6x", "shared", 6, 1536),
    ("shared-cpu-8x", "shared", 8, 2048),
    ("performance-1x", "performance", 1, 2048),
    ("performance-2x", "performance", 2, 4096),
    ("performance-4x", "performance", 4, 8192),
    ("performance-6x", "performance", 6, 12288),
    ("performance-8x", "performance", 8, 16384),
    ("performance-10x", "performance", 10, 20480),
    ("performance-12x", "performance", 12, 24576),
    ("performance-14x", "performance", 14, 28672),
    ("performance-16x", "performance", 16, 32768),
];

/// fly-go's GPU presets: flyctl refuses GPU flags ("GPU machines are no
/// longer supported", `flag/machines.go:66-68`), and ferry refuses these
/// sizes with the same words rather than create what Fly no longer sells.
const GPU_PRESETS: &[&str] = &["a100-40gb", "a100-80gb", "l40s", "a10"];

/// The guest the flags ask for. Every field `None` means no flag was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmOverride {
    pub size: Option<String>,
    pub cpus: Option<u32>,
    pub memory_mb: Option<u64>,
    pub cpu_kind: Option<String>,
    pub max_memory_mb: Option<u64>,
    pub host_dedication_id: Option<String>,
}

impl VmOverride {
    /// The `vm-*` and `host-dedication-id` parameters, checked as flyctl
    /// checks them (errors name the parameter).
    pub fn from_params(p: &Params<'_>) -> Result<Self, StepError> {
        let size = match p.get("vm-size") {
            Some(size) => {
                preset(size)?;
                Some(size.to_string())
            }
            None => None,
        };
        let cpus = match p.get("vm-cpus") {
            Some(v) => {
                Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| invalid(format!("vm-cpus `{v}` must be a whole number greater than zero")))?)
            }
            None => None,
        };
        let memory = |name: &str| match p.get(name) {
            Some(v) => match ferry_step_sdk::units::size_mb(v) {
                Some(0) => Err(invalid(format!("{name} cannot be zero"))),
                Some(mb) => Ok(Some(mb)),
                None => Err(invalid(format!("{name} `{v}` is not a memory size: write megabytes (512) or a size with a unit (1gb)"))),
            },
            None => Ok(None),
        };
        let cpu_kind = match p.get("vm-cpu-kind") {
            None => None,
            Some(kind @ ("shared" | "performance")) => Some(kind.to_string()),
            Some(other) => return Err(invalid(format!("vm-cpu-kind `{other}` must be `shared` or `performance`"))),
        };
        Ok(VmOverride {
            size,
            cpus,
            memory_mb: memory("vm-memory")?,
            cpu_kind,
            max_memory_mb: memory("vm-max-memory")?,
            host_dedication_id: p.get("host-dedication-id").map(str::to_string),
        })
    }

    /// Whether any flag was given.
    pub fn is_set(&self) -> bool {
        *self != VmOverride::default()
    }

    /// flyctl's `md.machineGuest`: shared-cpu-1x, then `--vm-size`, then
    /// the single fields over it (in `GetMachineGuest`'s order).
    pub fn guest(&self) -> Value {
        let (_, kind, cpus, memory) = preset(self.size.as_deref().unwrap_or(DEFAULT_SIZE)).expect("checked when parsed");
        let mut guest = json!({
            "cpu_kind": self.cpu_kind.as_deref().unwrap_or(kind),
            "cpus": self.cpus.unwrap_or(cpus),
            "memory_mb": self.memory_mb.unwrap_or(memory),
        });
        if let Some(max) = self.max_memory_mb {
            guest["max_memory_mb"] = json!(max);
        }
        if let Some(id) = &self.host_dedication_id {
            guest["host_dedication_id"] = json!(id);
        }
        guest
    }

    /// Whether the guest differs from shared-cpu-1x in kind, cpus or
    /// memory: only then does flyctl size the release command machine by
    /// the flags instead of its shared-cpu-2x default.
    pub fn differs_from_default(&self) -> bool {
        let guest = self.guest();
        let (_, kind, cpus, memory) = preset(DEFAULT_SIZE).expect("the default is a preset");
        guest["cpu_kind"] != kind || guest["cpus"] != cpus || guest["memory_mb"] != memory
    }
}

/// A preset by name, or flyctl's error for an unknown one.
fn preset(size: &str) -> Result<(&'static str, &'static str, u32, u64), StepError> {
    if let Some(found) = PRESETS.iter().find(|(name, ..)| *name == size) {
        return Ok(*found);
    }
    if GPU_PRESETS.contains(&size) {
        return Err(invalid(format!("vm-size `{size}`: GPU machines are no longer supported")));
    }
    let family = ["shared", "performance"].into_iter().find(|f| size.starts_with(f));
    let names: Vec<&str> = PRESETS.iter().map(|(name, ..)| *name).filter(|n| family.is_none_or(|f| n.starts_with(f))).collect();
    let hint = did_you_mean(size, names.iter().copied()).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
    Err(invalid(format!("vm-size `{size}` is not a machine size{hint}; choose one of: {}", names.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<VmOverride, StepError> {
        let params: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        VmOverride::from_params(&Params(&params))
    }

    fn message(e: StepError) -> String {
        match e {
            StepError::InvalidInput(p) => p.message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_flag_is_shared_cpu_1x_like_flyctl() {
        let none = parse(&[]).unwrap();
        assert!(!none.is_set());
        assert_eq!(none.guest(), json!({"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}));
        assert!(!none.differs_from_default());
    }

    #[test]
    fn a_size_then_single_fields_over_it() {
        let vm = parse(&[("vm-size", "performance-2x"), ("vm-memory", "8gb")]).unwrap();
        assert_eq!(vm.guest(), json!({"cpu_kind": "performance", "cpus": 2, "memory_mb": 8192}));
        assert!(vm.differs_from_default());
        let vm = parse(&[("vm-cpus", "2"), ("vm-memory", "1024"), ("vm-cpu-kind", "shared"), ("host-dedication-id", "dedic-1")]).unwrap();
        assert_eq!(vm.guest(), json!({"cpu_kind": "shared", "cpus": 2, "memory_mb": 1024, "host_dedication_id": "dedic-1"}));
        let vm = parse(&[("vm-max-memory", "2gb")]).unwrap();
        assert_eq!(vm.guest()["max_memory_mb"], 2048);
        assert!(!vm.differs_from_default(), "max memory alone keeps shared-cpu-1x's size");
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let m = message(parse(&[("vm-size", "shared-cpu-3x")]).unwrap_err());
        assert!(m.starts_with("vm-size `shared-cpu-3x` is not a machine size"), "{m}");
        assert!(m.contains("shared-cpu-4x") && !m.contains("performance-1x"), "lists the family's sizes: {m}");
        let m = message(parse(&[("vm-size", "huge")]).unwrap_err());
        assert!(m.contains("performance-16x"), "{m}");
        assert!(message(parse(&[("vm-size", "a100-40gb")]).unwrap_err()).contains("GPU machines are no longer supported"));
        assert_eq!(message(parse(&[("vm-cpus", "0")]).unwrap_err()), "vm-cpus `0` must be a whole number greater than zero");
        assert_eq!(message(parse(&[("vm-cpus", "two")]).unwrap_err()), "vm-cpus `two` must be a whole number greater than zero");
        assert_eq!(message(parse(&[("vm-memory", "0")]).unwrap_err()), "vm-memory cannot be zero");
        assert!(message(parse(&[("vm-memory", "lots")]).unwrap_err()).starts_with("vm-memory `lots` is not a memory size"));
        assert_eq!(message(parse(&[("vm-cpu-kind", "fast")]).unwrap_err()), "vm-cpu-kind `fast` must be `shared` or `performance`");
    }
}
