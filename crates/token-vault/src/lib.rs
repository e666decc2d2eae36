//! The Slack token the admin panel's "Connect Slack" obtained, kept at rest: sealed with
//! ChaCha20-Poly1305 (an authenticated cipher, so a changed byte or the wrong key is detected)
//! under a key that never enters the database, and the tools' fallback to it when `SLACK_TOKEN`
//! is not set ([`client_config`]).
//!
//! The key comes from `SLACK_TOOLS_SECRET_KEY` (32 bytes as base64 or 64 hex digits) or, when that
//! is unset, from a key file next to the store (`slack-tools.key` in the database's directory),
//! created 0600 on first use. Both the panel and the tools find it from the store's path alone.
//! A PostgreSQL store has no directory of its own, and its hosts share the token: there the key
//! must come from `SLACK_TOOLS_SECRET_KEY` (the same on every host).

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use secrecy::{ExposeSecret, SecretString};
use slack_client::ClientConfig;
use store::slack_connection::SlackConnection;
use store::{Location, Store};

/// Environment variable holding the key (base64 or hex of 32 bytes).
pub const KEY_ENV: &str = "SLACK_TOOLS_SECRET_KEY";
/// Name of the key file created next to the store when [`KEY_ENV`] is unset.
pub const KEY_FILE_NAME: &str = "slack-tools.key";

/// Errors reading the key or the stored token. Messages never contain the key or the token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error("{KEY_ENV} is not a 32-byte key: {reason}")]
    BadKey { reason: &'static str },
    #[error("key file {}: {reason}", path.display())]
    BadKeyFile { path: PathBuf, reason: String },
    #[error("cannot read or create the key file {}: {source}", path.display())]
    KeyFileIo {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the store {target} is a PostgreSQL database, which has no directory for a key file: \
         {KEY_ENV} must be set to seal or open the Slack token"
    )]
    KeyRequired { target: String },
    #[error("the stored Slack token cannot be opened with this key (tampered, or the key changed)")]
    Sealed,
    #[error("cannot seal the Slack token")]
    Seal,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl VaultError {
    /// What to do about it, for a `hint:` line.
    pub fn hint(&self) -> Option<String> {
        match self {
            VaultError::BadKey { .. } => Some(format!(
                "set {KEY_ENV} to 32 random bytes as base64 (openssl rand -base64 32) or 64 hex \
                 digits (openssl rand -hex 32), or unset it to use the key file next to the store"
            )),
            VaultError::BadKeyFile { .. } => Some(
                "the key file must hold exactly 32 bytes; restore it from a backup, or delete it \
                 and connect Slack again in the admin panel"
                    .to_string(),
            ),
            VaultError::KeyFileIo { source, .. } if source.kind() == ErrorKind::NotFound => {
                Some(format!(
                    "the token was sealed with {KEY_ENV} or a key file that is not here: set \
                     {KEY_ENV} as when Slack was connected, or connect Slack again in the admin \
                     panel (Slack page)"
                ))
            }
            VaultError::KeyRequired { .. } => Some(format!(
                "set {KEY_ENV} to 32 random bytes (openssl rand -base64 32), the same on every host \
                 that runs the tools or the admin panel against this database; if Slack was \
                 connected with another key, connect it again in the admin panel (Slack page)"
            )),
            VaultError::Sealed => Some(format!(
                "use the {KEY_ENV} (or key file) the token was connected with, or connect Slack \
                 again in the admin panel (Slack page)"
            )),
            _ => None,
        }
    }
}

/// The 32-byte sealing key. Never printed.
#[derive(Clone)]
pub struct VaultKey(Key);

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultKey(<redacted>)")
    }
}

/// Where the key file for the store at `db_path` lives.
pub fn key_file_for(db_path: &Path) -> PathBuf {
    db_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(KEY_FILE_NAME)
}

fn key_of(bytes: &[u8]) -> Option<VaultKey> {
    (bytes.len() == 32).then(|| VaultKey(*Key::from_slice(bytes)))
}

impl VaultKey {
    /// Parses [`KEY_ENV`]'s value: 64 hex digits, or base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<VaultKey, VaultError> {
        let text = text.trim();
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes: Vec<u8> = (0..32)
                .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
                .collect();
            return key_of(&bytes).ok_or(VaultError::BadKey {
                reason: "bad hex digits",
            });
        }
        let bytes = B64.decode(text).map_err(|_| VaultError::BadKey {
            reason: "neither 64 hex digits nor base64",
        })?;
        key_of(&bytes).ok_or(VaultError::BadKey {
            reason: "base64 that does not decode to 32 bytes",
        })
    }

    /// A fresh random key.
    pub fn generate() -> Result<VaultKey, VaultError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|_| VaultError::Seal)?;
        Ok(VaultKey(*Key::from_slice(&bytes)))
    }

    /// The key for the store at `db_path`: [`KEY_ENV`] from `get`, else the key file. With
    /// `create`, a missing key file is made (0600, atomically, never replacing one another
    /// process made first); without it a missing file is `Ok(None)`. A PostgreSQL store needs
    /// [`KEY_ENV`] ([`VaultError::KeyRequired`]).
    pub fn resolve(
        get: impl Fn(&str) -> Option<String>,
        db_path: &Path,
        create: bool,
    ) -> Result<Option<VaultKey>, VaultError> {
        if let Some(v) = get(KEY_ENV).filter(|v| !v.trim().is_empty()) {
            return VaultKey::parse(&v).map(Some);
        }
        if let Ok(Location::Postgres(target)) = Location::parse(db_path) {
            // "Next to" a URL would be a directory named after it, password and all.
            return Err(VaultError::KeyRequired {
                target: target.shown().to_string(),
            });
        }
        let path = key_file_for(db_path);
        let io = |source| VaultError::KeyFileIo {
            path: path.clone(),
            source,
        };
        match std::fs::read(&path) {
            Ok(bytes) => key_of(&bytes)
                .map(Some)
                .ok_or_else(|| VaultError::BadKeyFile {
                    path: path.clone(),
                    reason: format!("holds {} bytes, not 32", bytes.len()),
                }),
            Err(e) if e.kind() == ErrorKind::NotFound && create => {
                let key = VaultKey::generate()?;
                private_files::create_parent(&path).map_err(io)?;
                let mut tmp = private_files::temp_for(&path).map_err(io)?;
                tmp.write_all(key.0.as_slice()).map_err(io)?;
                tmp.as_file().sync_all().map_err(io)?;
                match tmp.persist_noclobber(&path) {
                    Ok(_) => Ok(Some(key)),
                    // Another process created it between our read and now: use theirs.
                    Err(e) if e.error.kind() == ErrorKind::AlreadyExists => {
                        VaultKey::resolve(get, db_path, false)
                    }
                    Err(e) => Err(io(e.error)),
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Seals `token`, binding it to `team_id` (associated data): returns (nonce, ciphertext+tag).
    pub fn seal(
        &self,
        token: &SecretString,
        team_id: &str,
    ) -> Result<(Vec<u8>, Vec<u8>), VaultError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| VaultError::Seal)?;
        let sealed = ChaCha20Poly1305::new(&self.0)
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: token.expose_secret().as_bytes(),
                    aad: team_id.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Seal)?;
        Ok((nonce.to_vec(), sealed))
    }

    /// Opens a token sealed by [`VaultKey::seal`] for the same team.
    pub fn open(
        &self,
        nonce: &[u8],
        sealed: &[u8],
        team_id: &str,
    ) -> Result<SecretString, VaultError> {
        if nonce.len() != 12 {
            return Err(VaultError::Sealed);
        }
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: team_id.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Sealed)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| VaultError::Sealed)
    }
}

/// What `oauth.v2.access` granted, ready to be stored.
pub struct Grant {
    pub team_id: String,
    pub team_name: String,
    pub app_id: Option<String>,
    pub authed_user_id: String,
    pub scopes: Vec<String>,
    pub token: SecretString,
}

/// Seals the grant's token and stores the connection (replacing an earlier one).
pub fn save(
    store: &Store,
    key: &VaultKey,
    grant: &Grant,
    connected_by: &str,
) -> Result<(), VaultError> {
    let (token_nonce, token_sealed) = key.seal(&grant.token, &grant.team_id)?;
    store.slack_connection_put(&SlackConnection {
        team_id: grant.team_id.clone(),
        team_name: grant.team_name.clone(),
        app_id: grant.app_id.clone(),
        authed_user_id: grant.authed_user_id.clone(),
        scopes: grant.scopes.clone(),
        token_nonce,
        token_sealed,
        connected_by: connected_by.to_string(),
        connected_at: jiff::Timestamp::now(),
        default_channel: None,
    })?;
    Ok(())
}

/// The stored connection and its token opened, if a workspace is connected.
pub fn load(
    store: &Store,
    get: impl Fn(&str) -> Option<String>,
    db_path: &Path,
) -> Result<Option<(SlackConnection, SecretString)>, VaultError> {
    let Some(conn) = store.slack_connection()? else {
        return Ok(None);
    };
    let key = VaultKey::resolve(get, db_path, false)?.ok_or_else(|| VaultError::KeyFileIo {
        path: key_file_for(db_path),
        source: std::io::Error::from(ErrorKind::NotFound),
    })?;
    let token = key.open(&conn.token_nonce, &conn.token_sealed, &conn.team_id)?;
    Ok(Some((conn, token)))
}

/// The tools' Slack settings: `SLACK_TOKEN` (or `SLACK_USER_TOKEN`) when set, else the token
/// connected in the admin panel and stored in the store at `db_path`, else slack-client's usual
/// "no token" error. Logs where a stored token came from, never the token.
pub fn client_config(db_path: &Path) -> Result<ClientConfig, slack_client::Error> {
    client_config_from(|name| std::env::var(name).ok(), db_path)
}

/// [`client_config`] over any variable source.
pub fn client_config_from(
    get: impl Fn(&str) -> Option<String>,
    db_path: &Path,
) -> Result<ClientConfig, slack_client::Error> {
    let set = |name: &str| get(name).is_some_and(|v| !v.trim().is_empty());
    // A file that is not there holds no token; a PostgreSQL store is asked.
    let may_hold_one = match Location::parse(db_path) {
        Ok(Location::Sqlite(path)) => path.is_file(),
        Ok(Location::Postgres(_)) => true,
        Err(_) => false,
    };
    if set("SLACK_TOKEN") || set("SLACK_USER_TOKEN") || !may_hold_one {
        return ClientConfig::from_lookup(&get);
    }
    let config_err = |e: VaultError| slack_client::Error::Config {
        message: format!("the Slack token connected in the admin panel: {e}"),
        hint: e.hint(),
    };
    let store = match Store::open_read_only(db_path) {
        Ok(s) => s,
        // A server that cannot be reached is an outage (exit 1), not a setting (exit 2); its
        // message names host, port and database, never the password.
        Err(store::StoreError::Connect(e)) => {
            return Err(slack_client::Error::TokenSource {
                message: format!(
                    "SLACK_TOKEN is not set, and the store that may hold the token connected in the admin panel: {e}"
                ),
                hint: None,
            });
        }
        Err(e) => return Err(config_err(VaultError::from(e))),
    };
    let stored = load(&store, &get, db_path).map_err(config_err)?;
    let Some((conn, token)) = stored else {
        return ClientConfig::from_lookup(&get);
    };
    tracing::info!(
        "Slack token: from the store (workspace {} {}, connected by {} in the admin panel)",
        conn.team_name,
        conn.team_id,
        conn.connected_by
    );
    ClientConfig::from_lookup(|name| match name {
        "SLACK_TOKEN" => Some(token.expose_secret().to_string()),
        other => get(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_and_base64_and_refuse_the_rest() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(VaultKey::parse(hex).is_ok());
        assert!(VaultKey::parse(&B64.encode([7u8; 32])).is_ok());
        for bad in ["short", &B64.encode([7u8; 31]), &hex[..62]] {
            let err = VaultKey::parse(bad).expect_err(bad);
            assert!(err.to_string().contains(KEY_ENV), "{err}");
            assert!(err.hint().is_some_and(|h| h.contains("openssl rand")));
        }
    }

    #[test]
    fn sealed_tokens_open_only_with_the_key_and_team() {
        let key = VaultKey::generate().expect("key");
        let token = SecretString::from("xoxp-secret-value");
        let (nonce, sealed) = key.seal(&token, "T1").expect("seal");
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            key.open(&nonce, &sealed, "T1")
                .expect("open")
                .expose_secret(),
            "xoxp-secret-value"
        );
        assert!(matches!(
            key.open(&nonce, &sealed, "T2"),
            Err(VaultError::Sealed)
        ));
        let other = VaultKey::generate().expect("key");
        assert!(matches!(
            other.open(&nonce, &sealed, "T1"),
            Err(VaultError::Sealed)
        ));
        let mut flipped = sealed.clone();
        flipped[0] ^= 1;
        assert!(matches!(
            key.open(&nonce, &flipped, "T1"),
            Err(VaultError::Sealed)
        ));
    }

    #[cfg(unix)]
    #[test]
    fn key_file_is_created_once_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("sub/slack-tools.db");
        let none = |_: &str| None;
        assert!(
            VaultKey::resolve(none, &db, false)
                .expect("resolve")
                .is_none()
        );
        let a = VaultKey::resolve(none, &db, true)
            .expect("resolve")
            .expect("made");
        let path = key_file_for(&db);
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = VaultKey::resolve(none, &db, true)
            .expect("resolve")
            .expect("read");
        assert_eq!(a.0, b.0, "the same key on the second use");
        std::fs::write(&path, b"too short").expect("write");
        let err = VaultKey::resolve(none, &db, false).expect_err("bad file");
        assert!(err.to_string().contains("not 32"), "{err}");
    }

    #[test]
    fn env_token_wins_and_the_stored_one_is_the_fallback() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("s.db");
        let store = Store::open(&db).expect("store");
        let key_hex = "11".repeat(32);
        let env = |extra: Option<(&'static str, &'static str)>| {
            let key_hex = key_hex.clone();
            move |name: &str| match (name, extra) {
                (KEY_ENV, _) => Some(key_hex.clone()),
                (n, Some((k, v))) if n == k => Some(v.to_string()),
                _ => None,
            }
        };
        let key = VaultKey::resolve(env(None), &db, false)
            .expect("key")
            .expect("env key");
        save(
            &store,
            &key,
            &Grant {
                team_id: "T1".into(),
                team_name: "Acme".into(),
                app_id: None,
                authed_user_id: "U1".into(),
                scopes: vec!["users:read".into()],
                token: SecretString::from("xoxp-stored"),
            },
            "admin",
        )
        .expect("save");
        drop(store);
        let cfg = client_config_from(env(None), &db).expect("stored");
        assert_eq!(cfg.token.expose_secret(), "xoxp-stored");
        let cfg = client_config_from(env(Some(("SLACK_TOKEN", "xoxp-env"))), &db).expect("env");
        assert_eq!(cfg.token.expose_secret(), "xoxp-env");
        let no_key = |_: &str| None;
        let err = client_config_from(no_key, &db).expect_err("no key");
        assert!(err.hint().is_some_and(|h| h.contains(KEY_ENV)), "{err}");
        let bad = |name: &str| (name == KEY_ENV).then(|| "not-a-key".to_string());
        let err = client_config_from(bad, &db).expect_err("bad key");
        assert!(err.to_string().contains(KEY_ENV), "{err}");
        assert!(!err.to_string().contains("xoxp-stored"), "{err}");
        let wrong = |name: &str| (name == KEY_ENV).then(|| "22".repeat(32));
        let err = client_config_from(wrong, &db).expect_err("wrong key");
        assert!(
            err.hint()
                .is_some_and(|h| h.contains("connect Slack again")),
            "{err}"
        );
    }

    #[test]
    fn a_postgres_store_needs_the_key_from_the_environment() {
        let Some(pg) = store::test_db::TestDb::new() else {
            return;
        };
        let db = Path::new(pg.url());
        let none = |_: &str| None;
        let err = VaultKey::resolve(none, db, true).expect_err("no key file for a URL");
        assert!(matches!(err, VaultError::KeyRequired { .. }), "{err}");
        assert!(err.to_string().contains(KEY_ENV), "{err}");
        assert!(err.hint().is_some_and(|h| h.contains("openssl rand")));
        // Nothing was made "next to" the URL (it would be a directory named after it).
        assert!(!Path::new("postgres:").exists());

        let key_hex = "33".repeat(32);
        let with_key = |name: &str| (name == KEY_ENV).then(|| key_hex.clone());
        let key = VaultKey::resolve(with_key, db, true)
            .expect("key")
            .expect("from the environment");
        save(
            &pg.open(),
            &key,
            &Grant {
                team_id: "T1".into(),
                team_name: "Acme".into(),
                app_id: None,
                authed_user_id: "U1".into(),
                scopes: vec!["users:read".into()],
                token: SecretString::from("xoxp-in-postgres"),
            },
            "admin",
        )
        .expect("save");
        let cfg = client_config_from(with_key, db).expect("stored token");
        assert_eq!(cfg.token.expose_secret(), "xoxp-in-postgres");
        let err = client_config_from(none, db).expect_err("no key");
        assert!(
            matches!(err, slack_client::Error::Config { .. }),
            "a settings problem (exit 2): {err}"
        );
        assert!(err.to_string().contains(KEY_ENV), "{err}");
        assert!(err.hint().is_some_and(|h| h.contains(KEY_ENV)), "{err}");
        let shown = store::shown_location(db);
        assert!(err.to_string().contains(&shown), "names the store: {err}");
        // The test role's password (user:PASSWORD@host) is not in the message.
        let password = pg
            .url()
            .split("://")
            .nth(1)
            .and_then(|r| r.split('@').next())
            .and_then(|u| u.split(':').nth(1))
            .expect("the test URL has a password");
        assert!(!err.to_string().contains(password), "{err}");
        assert!(!err.to_string().contains("xoxp-in-postgres"));
    }
}
