//! The one error type of config loading: which file, where in it, what is wrong, and what to do.

use std::path::{Path, PathBuf};

/// A problem in team.json or categories.json, precise enough to fix without reading code.
///
/// Displayed as `FILE: LOCATION: MESSAGE` and, when there is one, an indented `hint:` line.
/// `location` is a JSON path such as `categories[2].required[0]`, with `(line L, column C)` when
/// the parser knows the position (always for malformed JSON).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("{}", render(self))]
pub struct ConfigError {
    /// The file the problem is in (or the directory, when the file itself is missing).
    pub file: PathBuf,
    /// Where in the file: JSON path and/or line and column.
    pub location: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl ConfigError {
    pub(crate) fn new(file: &Path, location: Option<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            location,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn at(file: &Path, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(file, Some(path.into()), message)
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

fn render(e: &ConfigError) -> String {
    let mut out = format!("{}: ", e.file.display());
    if let Some(location) = &e.location {
        out.push_str(location);
        out.push_str(": ");
    }
    out.push_str(&e.message);
    if let Some(hint) = &e.hint {
        out.push_str("\n  hint: ");
        out.push_str(hint);
    }
    out
}
