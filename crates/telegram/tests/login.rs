//! The login state machine over the fixture backend: code only, code + 2FA password, wrong code,
//! wrong password, FLOOD_WAIT, steps out of order; the session file it writes is owner-only and
//! is what authorises the fixture account afterwards.

use std::path::{Path, PathBuf};

use telegram::{FixtureBackend, LoginFlow, LoginStep, TelegramError};

const ACCOUNT: &str = r#"{"me": {"id": 1000, "username": "opsdesk", "first_name": "Ops"},
 "chats": [{"id": -1001, "title": "iBTC <> Acme", "kind": "supergroup",
            "participants": [{"user": 1000, "role": "creator"}]}]"#;

/// A fixture demanding `login` (JSON of the `login` section, or none), plus extra keys.
fn fixture(dir: &Path, login: Option<&str>, extra: &str) -> PathBuf {
    let mut json = ACCOUNT.to_string();
    if let Some(login) = login {
        json.push_str(&format!(r#", "login": {login}"#));
    }
    json.push_str(extra);
    json.push('}');
    let path = dir.join("tg.json");
    std::fs::write(&path, json).expect("fixture");
    path
}

fn flow(dir: &Path, login: Option<&str>, extra: &str) -> (LoginFlow, PathBuf) {
    let session = dir.join("state").join("telegram.session");
    let f = LoginFlow::fixture(fixture(dir, login, extra), session.clone()).expect("flow");
    (f, session)
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[tokio::test]
async fn code_only_login_writes_an_owner_only_session() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut flow, session) = flow(dir.path(), Some(r#"{"code": "12345"}"#), "");
    assert_eq!(flow.authorised().await.expect("check"), None);
    assert_eq!(flow.start(None).await.expect("start"), LoginStep::NeedCode);
    assert!(!session.exists(), "nothing written before the code");
    let LoginStep::Done(me) = flow.submit_code(" 12345\n").await.expect("code") else {
        panic!("no password is set: done after the code")
    };
    assert_eq!(me.id, 1000);
    assert_eq!(flow.session_path(), session);
    #[cfg(unix)]
    assert_eq!(mode(&session), 0o600);
    let text = std::fs::read_to_string(&session).expect("session");
    assert!(!text.contains("12345"), "the code is not stored: {text}");
    // A second login finds the session authorised and asks nothing.
    let mut again = LoginFlow::fixture(dir.path().join("tg.json"), session.clone()).expect("flow");
    assert_eq!(
        again.authorised().await.expect("check").map(|u| u.id),
        Some(1000)
    );
    assert!(matches!(again.start(None).await.expect("start"), LoginStep::Done(u) if u.id == 1000));
}

#[tokio::test]
async fn code_then_password_with_hint() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut flow, session) = flow(
        dir.path(),
        Some(r#"{"code": "12345", "password": "hunter2", "password_hint": "pet"}"#),
        "",
    );
    assert_eq!(flow.start(None).await.expect("start"), LoginStep::NeedCode);
    assert_eq!(
        flow.submit_code("12345").await.expect("code"),
        LoginStep::NeedPassword {
            hint: Some("pet".into())
        }
    );
    assert!(!session.exists(), "not authorised before the password");
    assert!(matches!(
        flow.submit_password("hunter2").await.expect("password"),
        LoginStep::Done(u) if u.id == 1000
    ));
    let text = std::fs::read_to_string(&session).expect("session");
    assert!(
        !text.contains("hunter2"),
        "the password is not stored: {text}"
    );
}

#[tokio::test]
async fn wrong_code_and_wrong_password_can_be_retried() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut flow, session) = flow(
        dir.path(),
        Some(r#"{"code": "12345", "password": "hunter2"}"#),
        "",
    );
    flow.start(None).await.expect("start");
    let e = flow.submit_code("54321").await.expect_err("wrong code");
    assert!(matches!(e, TelegramError::BadCode), "{e}");
    assert!(e.to_string().contains("hint:"), "{e}");
    assert_eq!(flow.step(), &LoginStep::NeedCode);
    // Out of order: no password was asked for yet.
    let e = flow.submit_password("hunter2").await.expect_err("order");
    assert!(matches!(e, TelegramError::LoginOrder(_)), "{e}");

    assert_eq!(
        flow.submit_code("12345").await.expect("code"),
        LoginStep::NeedPassword { hint: None }
    );
    let e = flow
        .submit_password("Hunter2")
        .await
        .expect_err("wrong password");
    assert!(matches!(e, TelegramError::BadPassword), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(!session.exists());
    assert!(matches!(
        flow.submit_password("hunter2").await.expect("password"),
        LoginStep::Done(_)
    ));
    assert!(session.exists());
}

#[tokio::test]
async fn flood_wait_on_sign_in_is_reported_and_consumed() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut flow, _) = flow(
        dir.path(),
        Some(r#"{"code": "12345"}"#),
        r#", "flood_wait": [{"op": "sign_in", "seconds": 30}]"#,
    );
    flow.start(None).await.expect("start");
    let e = flow.submit_code("12345").await.expect_err("flood");
    assert_eq!(e.flood_wait_seconds(), Some(30), "{e}");
    // The rule fired once and is written back consumed; the next try goes through.
    let text = std::fs::read_to_string(dir.path().join("tg.json")).expect("fixture");
    assert!(!text.contains("sign_in"), "{text}");
    assert!(matches!(
        flow.submit_code("12345").await.expect("code"),
        LoginStep::Done(_)
    ));
}

#[tokio::test]
async fn a_fixture_without_login_is_always_authorised() {
    let dir = tempfile::tempdir().expect("tmp");
    let (mut flow, session) = flow(dir.path(), None, "");
    assert!(matches!(flow.start(None).await.expect("start"), LoginStep::Done(u) if u.id == 1000));
    assert!(!session.exists());
    let e = flow.submit_code("1").await.expect_err("no code asked");
    assert!(matches!(e, TelegramError::LoginOrder(_)), "{e}");
}

#[test]
fn a_fixture_with_login_is_not_authorised_without_the_session() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = fixture(dir.path(), Some(r#"{"code": "1"}"#), "");
    let session = dir.path().join("telegram.session");
    let open =
        |p: &Path| FixtureBackend::open_with_session(p.to_path_buf(), || Ok(session.clone()));
    let e = open(&path).err().expect("not logged in");
    assert!(matches!(e, TelegramError::NotLoggedIn), "{e}");
    assert!(e.to_string().contains("tg-admin login"), "{e}");
    // A session of another fixture account does not count.
    std::fs::write(&session, r#"{"fixture_user": 7}"#).expect("write");
    assert!(open(&path).is_err());
    std::fs::write(&session, r#"{"fixture_user": 1000}"#).expect("write");
    open(&path).expect("authorised by the session");
}
