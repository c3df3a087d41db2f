#![allow(clippy::derivable_impls, reason = "wit-bindgen generates these types; a derive cannot be added to them")]
//! Empty values of records whose every field is optional, so steps can
//! write `Deploy { strategy, ..Default::default() }`.

use crate::types::{Build, Deploy, Experimental, MachineDefaults};

impl Default for Deploy {
    fn default() -> Self {
        Deploy {
            strategy: None,
            release_command: None,
            max_unavailable: None,
            wait_timeout_ms: None,
            release_command_timeout_ms: None,
            release_command_vm: None,
        }
    }
}

impl Default for Build {
    fn default() -> Self {
        Build { image: None, dockerfile: None, builder: None, buildpacks: Vec::new(), args: Vec::new(), target: None, ignorefile: None }
    }
}

impl Default for Experimental {
    fn default() -> Self {
        Experimental { cmd: None, entrypoint: None, exec: None }
    }
}

impl Default for MachineDefaults {
    fn default() -> Self {
        MachineDefaults { kill_signal: None, kill_timeout_ms: None, swap_size_mb: None, console_command: None, host_dedication_id: None, machine_config: None }
    }
}
