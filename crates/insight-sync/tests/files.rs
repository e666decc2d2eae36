//! Files of the real `insight-sync` binary (`--demo`): everything it writes is its owner's only,
//! and the temp files a killed run left are removed by the next sync, prune and purge-user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn insight_sync(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_insight-sync"))
        .arg("--demo")
        .arg("--out")
        .arg(dir.join("out"))
        .args(args)
        .current_dir(dir)
        .env_remove("SLACK_TOOLS_OUT")
        .env_remove("SLACK_TOOLS_DB")
        .env_remove("SLACK_TOOLS_CONFIG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("insight-sync runs")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every file under `root`, depth first.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(root).expect("readable dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(files(&p));
        } else {
            found.push(p);
        }
    }
    found
}

/// The snapshot day directory of the demo sync.
fn day_dir(out: &Path) -> PathBuf {
    std::fs::read_dir(out.join("insight-raw"))
        .expect("snapshots")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("a day directory")
}

/// Snapshots, the database and the lock file hold workspace data: 0600, in directories 0700,
/// from creation, whatever umask the tool starts with.
#[cfg(unix)]
#[test]
fn everything_a_sync_writes_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&insight_sync(dir.path(), &[]));
    let out = dir.path().join("out");
    let all = files(&out);
    assert!(
        all.iter()
            .any(|p| p.to_string_lossy().ends_with(".json.gz"))
    );
    assert!(all.iter().any(|p| p.to_string_lossy().ends_with(".db")));
    for p in &all {
        assert_eq!(mode(p), 0o600, "{}: {:o}", p.display(), mode(p));
    }
    for d in [out.clone(), out.join("insight-raw"), day_dir(&out)] {
        assert_eq!(mode(&d), 0o700, "{}: {:o}", d.display(), mode(&d));
    }
}

/// Temp snapshot files (this version's and the `.json.tmp` of the one before) left by a killed
/// run are gone after the next sync, prune or purge-user; finished snapshots stay.
#[test]
fn killed_runs_temp_files_are_removed_by_sync_prune_and_purge() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&insight_sync(dir.path(), &[]));
    let out = dir.path().join("out");
    let day = day_dir(&out);
    let plant = || {
        let stale = [
            day.join("run9-C0DEMOACM.json.tmp"),
            day.join(".run9-users.json.gz.Qw3rTy.partial"),
        ];
        for p in &stale {
            std::fs::write(p, "half").expect("plant");
        }
        stale
    };
    let snapshots = |out: &Path| -> Vec<PathBuf> {
        let mut f: Vec<PathBuf> = files(out)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
            .collect();
        f.sort();
        f
    };
    let kept = snapshots(&out);
    assert!(!kept.is_empty());

    for args in [&["prune"][..], &["purge-user", "U0NOBODY1"][..], &[][..]] {
        let stale = plant();
        // purge-user's exit code is its own business (an unknown user); the cleanup runs first.
        let o = insight_sync(dir.path(), args);
        assert!(o.status.code().is_some(), "{args:?}");
        for p in &stale {
            assert!(!p.exists(), "{args:?} left {}", p.display());
        }
        for p in &kept {
            assert!(p.is_file(), "{args:?} removed {}", p.display());
        }
    }
}
