//! Where the Telegram session (the account's login keys) lives: `TELEGRAM_SESSION` when set, else
//! the per-user state directory, `$XDG_STATE_HOME/slack-tools/telegram.session` or
//! `~/.local/state/slack-tools/telegram.session`. Never `output/` by default: that folder holds
//! reports people share. A session at the old default `output/telegram.session` is still used
//! (with a log line saying it can be moved) until it is moved.

use std::path::{Path, PathBuf};

use crate::error::TelegramError;

/// The session file of earlier versions, relative to the working directory.
pub const LEGACY_SESSION: &str = "output/telegram.session";

/// The session file to use, from the environment (see the module docs).
pub fn session_path() -> Result<PathBuf, TelegramError> {
    Ok(from_env()?.path)
}

/// [`session_path`], saying in a log line when it is the old place: for the code that opens it.
pub(crate) fn session_path_logged() -> Result<PathBuf, TelegramError> {
    let found = from_env()?;
    if found.legacy {
        tracing::info!(
            "using the Telegram session at its old location {}; it can be moved to {} (owner-only, outside the shared output folder), or TELEGRAM_SESSION set to its path",
            found.path.display(),
            found
                .state_path
                .as_deref()
                .unwrap_or(Path::new("?"))
                .display(),
        );
    }
    Ok(found.path)
}

fn from_env() -> Result<Found, TelegramError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    resolve(var, |p| p.exists())
}

#[derive(Debug, PartialEq)]
struct Found {
    path: PathBuf,
    /// `path` is the old default, and `state_path` is where it belongs.
    legacy: bool,
    state_path: Option<PathBuf>,
}

fn resolve(
    var: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> Result<Found, TelegramError> {
    if let Some(path) = var(crate::ENV_SESSION) {
        return Ok(Found {
            path: path.into(),
            legacy: false,
            state_path: None,
        });
    }
    // The XDG spec ignores a relative XDG_STATE_HOME.
    let state_home = var("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| var("HOME").map(|h| Path::new(&h).join(".local/state")));
    let state_path = state_home.map(|d| d.join("slack-tools").join("telegram.session"));
    let legacy = Path::new(LEGACY_SESSION);
    match state_path {
        Some(path) if exists(&path) || !exists(legacy) => Ok(Found {
            path,
            legacy: false,
            state_path: None,
        }),
        state_path if exists(legacy) => Ok(Found {
            path: legacy.to_path_buf(),
            legacy: true,
            state_path,
        }),
        _ => Err(TelegramError::Config {
            message: "no place for the Telegram session: HOME is not set".into(),
            hint: "set TELEGRAM_SESSION to a file path (it holds the login keys: keep it private)"
                .into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn state_directory_by_default_env_var_first() {
        let none = |_: &Path| false;
        let xdg = resolve(env(&[("XDG_STATE_HOME", "/s"), ("HOME", "/h")]), none).expect("xdg");
        assert_eq!(xdg.path, Path::new("/s/slack-tools/telegram.session"));
        let home = resolve(env(&[("HOME", "/h")]), none).expect("home");
        assert_eq!(
            home.path,
            Path::new("/h/.local/state/slack-tools/telegram.session")
        );
        let relative = resolve(env(&[("XDG_STATE_HOME", "rel"), ("HOME", "/h")]), none);
        assert_eq!(relative.expect("home").path, home.path);
        let set = resolve(
            env(&[("TELEGRAM_SESSION", "/x/my.session"), ("HOME", "/h")]),
            |_| true,
        )
        .expect("set");
        assert_eq!(set.path, Path::new("/x/my.session"));
        assert!(matches!(
            resolve(env(&[]), none),
            Err(TelegramError::Config { .. })
        ));
    }

    #[test]
    fn old_location_is_read_until_moved() {
        let legacy_only = |p: &Path| p == Path::new(LEGACY_SESSION);
        let found = resolve(env(&[("HOME", "/h")]), legacy_only).expect("legacy");
        assert_eq!(found.path, Path::new(LEGACY_SESSION));
        assert!(found.legacy);
        assert_eq!(
            found.state_path.as_deref(),
            Some(Path::new("/h/.local/state/slack-tools/telegram.session"))
        );
        // Without HOME the old file is still found.
        assert!(resolve(env(&[]), legacy_only).expect("no home").legacy);
        // Once moved, the new place wins even if a copy stayed behind.
        let both = resolve(env(&[("HOME", "/h")]), |_| true).expect("both");
        assert!(!both.legacy);
    }
}
