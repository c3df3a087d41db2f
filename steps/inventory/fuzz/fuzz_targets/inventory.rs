//! Any bytes, as any of the files parse-config reads: the inventory must
//! come back (or a typed error), never a panic.
#![no_main]

use ferry_inventory::{Files, inventory};
use libfuzzer_sys::fuzz_target;

/// The input as one file of a checkout (the first byte picks which), with
/// whatever else that file needs beside it.
struct OneFile {
    name: &'static str,
    text: String,
}

impl Files for OneFile {
    fn read(&self, path: &str) -> Result<Option<String>, String> {
        if path == self.name {
            return Ok(Some(self.text.clone()));
        }
        // A Dockerfile is only read next to a Fly config.
        if self.name == "Dockerfile" && path == "fly.toml" {
            return Ok(Some("app = \"fuzz\"\n[http_service]\ninternal_port = 8080\n".into()));
        }
        Ok(None)
    }
}

const NAMES: [&str; 6] = ["fly.toml", "fly.json", "fly.yaml", "Dockerfile", "Procfile", "app.json"];

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else { return };
    let files = OneFile { name: NAMES[*first as usize % NAMES.len()], text: String::from_utf8_lossy(rest).into_owned() };
    let _ = inventory(&files, None);
});
