//! The workspace rule that keeps tools thin: a tool crate (a binary crate) never depends on
//! another tool crate; what two tools share lives in a library crate (`audit-run`,
//! `insight-collect`, ...). slack-sim is a library first (the test double every tool uses) that
//! also ships a binary, so it is not a tool here.

use std::path::{Path, PathBuf};

/// Crates that are libraries with a binary on the side, which tools may depend on.
const LIBRARIES_WITH_A_BINARY: &[&str] = &["slack-sim"];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/")
        .to_path_buf()
}

/// Names of the workspace's tool crates: those with a `src/main.rs`.
fn tools() -> Vec<String> {
    let mut tools: Vec<String> = std::fs::read_dir(crates_dir())
        .expect("read crates/")
        .flatten()
        .filter(|e| e.path().join("src/main.rs").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !LIBRARIES_WITH_A_BINARY.contains(&name.as_str()))
        .collect();
    tools.sort();
    tools
}

/// The crates a manifest names as dependencies of any kind (`name = ...` or `name.workspace`
/// lines under a `[*dependencies]` table).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line.trim_matches(['[', ']']).ends_with("dependencies");
            continue;
        }
        if !in_deps || line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name = line
            .split(['=', '.'])
            .next()
            .unwrap_or_default()
            .trim()
            .trim_matches('"');
        deps.push(name.to_string());
    }
    deps
}

#[test]
fn the_dependency_parser_sees_path_and_workspace_dependencies() {
    let manifest = "[package]\nname = \"x\"\n[dependencies]\nanyhow.workspace = true\n\
                    insight-sync = { path = \"../insight-sync\" }\n[dev-dependencies]\nslack-audit.workspace = true\n";
    assert_eq!(
        dependencies(manifest),
        vec!["anyhow", "insight-sync", "slack-audit"]
    );
}

#[test]
fn no_tool_crate_depends_on_another_tool_crate() {
    let tools = tools();
    assert!(
        tools.iter().any(|t| t == "slack-audit") && tools.iter().any(|t| t == "insight-report"),
        "{tools:?}"
    );
    let mut offences = Vec::new();
    for tool in &tools {
        let manifest = std::fs::read_to_string(crates_dir().join(tool).join("Cargo.toml"))
            .expect("Cargo.toml");
        for dep in dependencies(&manifest) {
            if dep != *tool && tools.contains(&dep) {
                offences.push(format!("{tool} depends on {dep}"));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "tool crates depending on tool crates (move what they share into a library crate): {offences:?}"
    );
}
