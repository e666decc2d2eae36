//! The panel's users file (`panel-users.json`): a JSON array of `{username, password_hash, role}`,
//! parsed strictly with located errors, and argon2 password hashing and checking.

use std::path::Path;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::{Deserialize, Serialize};

/// What a user may do: viewers read; admins may also act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
        }
    }
}

/// One entry of the users file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelUser {
    pub username: String,
    /// An argon2 PHC string (`$argon2id$...`), as `admin-panel hash-password` prints it.
    pub password_hash: String,
    pub role: Role,
}

/// Why the users file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    #[error("cannot read the users file {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Parse(#[from] roster::ConfigError),
    #[error("{}: user {index} ({username:?}): {problem}", path.display())]
    Invalid {
        path: std::path::PathBuf,
        index: usize,
        username: String,
        problem: String,
    },
}

impl UsersError {
    /// What to do about it.
    pub fn hint(&self) -> String {
        USERS_HINT.to_string()
    }
}

/// How to add a user; shown wherever the users file is missing or wrong.
pub const USERS_HINT: &str = "create the users file with `admin-panel hash-password` and a JSON array like \
     [{\"username\": \"ann\", \"password_hash\": \"$argon2id$v=19$...\", \"role\": \"admin\"}] \
     (role: viewer or admin); see docs/admin-panel.md";

/// Reads and checks the users file: unique non-empty names, hashes that parse as argon2 PHC strings.
pub fn load(path: &Path) -> Result<Vec<PanelUser>, UsersError> {
    let text = std::fs::read_to_string(path).map_err(|source| UsersError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let users: Vec<PanelUser> = roster::parse_json(&text, path)?;
    let mut seen = std::collections::HashSet::new();
    for (index, u) in users.iter().enumerate() {
        let invalid = |problem: &str| UsersError::Invalid {
            path: path.to_path_buf(),
            index,
            username: u.username.clone(),
            problem: problem.to_string(),
        };
        if u.username.trim().is_empty() {
            return Err(invalid("the username is empty"));
        }
        if !seen.insert(u.username.as_str()) {
            return Err(invalid("the username appears twice"));
        }
        match PasswordHash::new(&u.password_hash) {
            Ok(h) if h.algorithm.as_str().starts_with("argon2") => {}
            _ => return Err(invalid("password_hash is not an argon2 PHC string")),
        }
    }
    Ok(users)
}

/// The argon2id PHC hash of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| argon2::password_hash::Error::Crypto)?;
    let salt = SaltString::encode_b64(&bytes)?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the stored PHC `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trip() {
        let h = hash_password("correct horse").expect("hashes");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn users_file_errors_are_located() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("panel-users.json");
        std::fs::write(
            &path,
            r#"[{"username":"a","password_hash":"x","role":"boss"}]"#,
        )
        .expect("write");
        let err = load(&path).expect_err("bad role");
        assert!(err.to_string().contains("[0].role"), "{err}");
        std::fs::write(
            &path,
            r#"[{"username":"a","password_hash":"x","role":"admin"}]"#,
        )
        .expect("write");
        let err = load(&path).expect_err("bad hash");
        assert!(err.to_string().contains("argon2"), "{err}");
    }
}
