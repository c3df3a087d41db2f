//! In-place edits on every real fly.toml: only the edited keys change.

use crate::support::repo;

#[test]
fn setting_app_and_primary_region_changes_nothing_else_in_any_corpus_file() {
    let mut edited = 0;
    for entry in std::fs::read_dir(repo().join("tests/corpus/fly")).unwrap() {
        let path = entry.unwrap().path().join("fly.toml");
        let original = std::fs::read_to_string(&path).unwrap();
        let step1 = ferry_checkout::set_key("fly.toml", &original, "app", Some("\"ferry-moved\"")).unwrap();
        let step2 = ferry_checkout::set_key("fly.toml", &step1.text, "primary_region", Some("\"ams\"")).unwrap();
        let doc: toml::Table = step2.text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(doc["app"].as_str(), Some("ferry-moved"), "{}", path.display());
        assert_eq!(doc["primary_region"].as_str(), Some("ams"), "{}", path.display());
        let touched = |line: &str| {
            let t = line.trim_start();
            t.starts_with("app") || t.starts_with("primary_region")
        };
        let before: Vec<&str> = original.lines().filter(|l| !touched(l)).collect();
        let after: Vec<&str> = step2.text.lines().filter(|l| !touched(l)).collect();
        assert_eq!(before, after, "{}: lines other than app and primary_region changed", path.display());
        // Undo restores the file byte for byte.
        let undo2 = ferry_checkout::set_key("fly.toml", &step2.text, "primary_region", step2.previous.as_deref()).unwrap();
        let undo1 = ferry_checkout::set_key("fly.toml", &undo2.text, "app", step1.previous.as_deref()).unwrap();
        assert_eq!(undo1.text, original, "{}: undo is not exact", path.display());
        edited += 1;
    }
    assert_eq!(edited, 45);
}
