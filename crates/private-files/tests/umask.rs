//! The modes hold whatever the umask: the check runs in a child process started with umask 000
//! (the test process's own umask is shared by the tests running in parallel, so it stays as it is).
#![cfg(target_os = "linux")]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const CHILD: &str = "PRIVATE_FILES_UMASK_CHILD";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn modes_hold_under_a_permissive_umask() {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000 && exec "$0" --exact child_writes_under_umask_000 --ignored --nocapture"#)
        .arg(exe)
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("1 passed"),
        "the child test did not run:\n{text}"
    );
}

#[test]
#[ignore = "run by modes_hold_under_a_permissive_umask in a child process"]
fn child_writes_under_umask_000() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    assert!(
        status.lines().any(|l| l == "Umask:\t0000"),
        "the child should run with umask 000"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    // A control: what this umask gives a file created without a mode.
    std::fs::write(dir.path().join("control"), "x").expect("control");
    assert_eq!(mode(&dir.path().join("control")), 0o666);

    let nested = dir.path().join("a/b");
    private_files::write(&nested.join("r.csv"), "x").expect("write");
    let log = dir.path().join("logs/op.jsonl");
    writeln!(private_files::open_append(&log).expect("append"), "{{}}").expect("line");
    let db = dir.path().join("db/x.db");
    private_files::ensure_file(&db).expect("db");
    let mut f = private_files::AtomicFile::create(&dir.path().join("c/e.json")).expect("atomic");
    f.write_all(b"[]").expect("write");
    f.commit().expect("commit");
    let f = private_files::options()
        .write(true)
        .create_new(true)
        .open(dir.path().join("new.lock"))
        .expect("create_new");
    drop(f);

    for d in ["a", "a/b", "logs", "db", "c"] {
        assert_eq!(mode(&dir.path().join(d)), 0o700, "{d}");
    }
    for f in [
        "a/b/r.csv",
        "logs/op.jsonl",
        "db/x.db",
        "c/e.json",
        "new.lock",
    ] {
        assert_eq!(mode(&dir.path().join(f)), 0o600, "{f}");
    }
}
