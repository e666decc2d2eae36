//! `tg-admin login` on a fixture account that demands a code and a 2FA password (issue 12): the
//! real binary on a pseudo-terminal (util-linux `script`), the session it writes at
//! TELEGRAM_SESSION (0600) then authorising every other command, and the refusals.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const FIXTURE: &str = r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "chats": [{"id": -1001, "title": "iBTC <> Acme", "kind": "supergroup",
            "participants": [{"user": 1000, "role": "creator"}]}],
 "login": {"code": "12345", "password": "hunter2", "password_hint": "pet"}}"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("tg.json"), FIXTURE).expect("fixture");
        Env { dir }
    }

    fn session(&self) -> PathBuf {
        self.dir.path().join("state").join("telegram.session")
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.dir.path())
            .env("TELEGRAM_FIXTURE", self.dir.path().join("tg.json"))
            .env("TELEGRAM_SESSION", self.session())
            .env_remove("RUST_LOG");
        cmd
    }

    /// tg-admin with `args` and no terminal, as under cron.
    fn run(&self, args: &[&str]) -> Output {
        let out = self.dir.path().join("out");
        self.command(env!("CARGO_BIN_EXE_tg-admin"))
            .arg("--out")
            .arg(&out)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tg-admin")
    }

    /// `tg-admin login` on a pseudo-terminal, typing `lines`.
    fn login_on_terminal(&self, lines: &[&str]) -> Output {
        let mut child = self
            .command("script")
            .args(["-q", "-e", "-c"])
            .arg(format!("{} login", env!("CARGO_BIN_EXE_tg-admin")))
            .arg("/dev/null")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("util-linux `script` runs (package bsdutils)");
        let mut stdin = child.stdin.take().expect("stdin");
        for line in lines {
            writeln!(stdin, "{line}").expect("type");
        }
        drop(stdin);
        child.wait_with_output().expect("wait")
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn login_with_code_and_password_saves_the_session_every_command_then_uses() {
    let env = Env::new();
    // Not logged in yet: commands refuse and say how to log in.
    let o = env.run(&["admin-status"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("tg-admin login"), "{}", text(&o));

    // A wrong code first: told so, asked again; then the password, with its hint.
    let o = env.login_on_terminal(&["54321", "12345", "hunter2"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("the login code is wrong"), "{t}");
    assert!(t.contains("(hint: pet)"), "{t}");
    assert!(t.contains("logged in as Ops (@opsdesk)"), "{t}");
    let session = env.session();
    #[cfg(unix)]
    assert_eq!(mode(&session), 0o600);
    let stored = std::fs::read_to_string(&session).expect("session");
    assert!(
        !stored.contains("hunter2") && !stored.contains("12345"),
        "{stored}"
    );

    // The same file authorises the other commands.
    let o = env.run(&["admin-status"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("iBTC <> Acme"), "{}", text(&o));
    // And a second login asks nothing, so it needs no terminal either.
    let o = env.run(&["login"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("already logged in as Ops"),
        "{}",
        text(&o)
    );
}

#[test]
fn three_wrong_passwords_fail_and_save_nothing() {
    let env = Env::new();
    let o = env.login_on_terminal(&["12345", "nope", "Hunter2", "hunter"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("password is wrong"), "{t}");
    assert!(!env.session().exists());
}

#[test]
fn login_without_a_terminal_refuses_before_asking_for_a_code() {
    let env = Env::new();
    let o = env.run(&["login"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("needs a terminal"), "{}", text(&o));
    assert!(!env.session().exists());
}
