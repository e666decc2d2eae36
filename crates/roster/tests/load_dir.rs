//! Loads config directories from disk, as the tools do with `--config DIR`.

use std::fs;
use std::path::Path;

use roster::{DEFAULT_CATEGORY_NAME, Role, load};

const TEAM: &str = r#"{"members": [
  {"handle": "akibalogh", "name": "Aki Balogh", "role": "required", "slack": ["aki", "U0AKI123"], "telegram": ["akibalogh"]},
  {"handle": "frank", "name": "Frank Fox", "role": "optional", "slack": ["frank@example.com"]}
]}"#;

fn write(dir: &Path, team: &str, categories: &str) {
    fs::write(dir.join("team.json"), team).expect("write team.json");
    fs::write(dir.join("categories.json"), categories).expect("write categories.json");
}

#[test]
fn loads_a_valid_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        TEAM,
        r#"{"slack_scope": {"name_contains": ["bitsafe"]}, "categories": [{"name": "Intro", "match": ["intro"]}]}"#,
    );
    let config = load(dir.path()).expect("valid config");
    assert_eq!(config.dir, dir.path());
    assert_eq!(config.team.members[1].role, Role::Optional);
    assert_eq!(
        config.categories.category_for("bitsafe-acme").name,
        DEFAULT_CATEGORY_NAME
    );
    assert_eq!(
        config.categories.category_for("bitsafe-intro-acme").name,
        "Intro"
    );
}

#[test]
fn missing_directory_and_missing_file_say_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = dir.path().join("nope");
    let e = load(&nowhere).expect_err("no such dir");
    assert_eq!(e.file, nowhere);
    assert!(e.message.contains("config directory not found"), "{e}");
    assert!(
        e.hint.as_deref().unwrap_or_default().contains("--config"),
        "{e}"
    );

    fs::write(dir.path().join("team.json"), TEAM).expect("write");
    let e = load(dir.path()).expect_err("no categories.json");
    assert_eq!(e.file, dir.path().join("categories.json"));
    assert!(e.message.starts_with("cannot read the file"), "{e}");
}

#[test]
fn errors_name_the_file_they_are_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "{\"members\": [\n  {\"handle\": \"aki\",}\n]}",
        "{}",
    );
    let e = load(dir.path()).expect_err("malformed team.json");
    assert_eq!(e.file, dir.path().join("team.json"));
    assert!(
        e.location.as_deref().unwrap_or_default().contains("line 2"),
        "{e}"
    );

    write(
        dir.path(),
        TEAM,
        r#"{"slack_scope": {"name_contains": ["b"]}, "exclusions": [{"group": "C1", "members": ["franck"]}]}"#,
    );
    let e = load(dir.path()).expect_err("unknown handle");
    assert_eq!(e.file, dir.path().join("categories.json"));
    assert_eq!(e.location.as_deref(), Some("exclusions[0].members[0]"));
    let shown = e.to_string();
    assert!(
        shown.contains(
            "categories.json: exclusions[0].members[0]: `franck` is not a handle in team.json"
        ),
        "{shown}"
    );
    assert!(shown.contains("hint: did you mean `frank`?"), "{shown}");
}

#[test]
fn shipped_example_config_loads() {
    // The examples in config/ are documentation: they must stay valid.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let config = load(&dir).expect("config/ examples are valid");
    assert!(config.team.members.iter().any(|m| m.role == Role::Required));
    assert!(config.team.members.iter().any(|m| m.role == Role::Optional));
    assert!(
        config
            .categories
            .categories
            .iter()
            .filter(|c| c.is_default())
            .count()
            == 1
    );
    assert!(!config.categories.rename.is_empty());
    assert!(!config.categories.exclusions.is_empty());
}
