//! Paths of the test step components (see `components/` for what each does).

include!(concat!(env!("OUT_DIR"), "/guests.rs"));

/// The bytes of a test component.
pub fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading test component {path}: {e}"))
}
