//! Files of the real `insight-report` binary (`--demo`): reports and the dashboard are their
//! owner's only, and temp files a killed run left are removed at the next start.

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn insight_report(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_insight-report"))
        .arg("--demo")
        .arg("--out")
        .arg(dir.join("out"))
        .current_dir(dir)
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("insight-report runs")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[cfg(unix)]
#[test]
fn reports_and_dashboard_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&insight_report(dir.path()));
    let out = dir.path().join("out");
    assert_eq!(mode(&out), 0o700);
    assert!(out.join("insight.html").is_file() && out.join("insight.xlsx").is_file());
    for e in std::fs::read_dir(&out).expect("out").flatten() {
        assert_eq!(mode(&e.path()), 0o600, "{}", e.path().display());
    }
}

#[test]
fn temp_files_of_a_killed_run_are_removed_at_the_next_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let stale = [
        ".insight.html.tmp",
        ".report-Zx81Qa.tmp",
        ".insight.xlsx.a1B2c3.partial",
    ];
    for f in stale {
        std::fs::write(out.join(f), "half").expect("plant");
    }
    std::fs::write(out.join("notes.txt"), "mine").expect("plant");
    ok(&insight_report(dir.path()));
    for f in stale {
        assert!(!out.join(f).exists(), "{f} left");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).expect("kept"),
        "mine"
    );
}
