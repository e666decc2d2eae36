//! Loading `.env` without ever echoing its text: the file holds tokens, and a parse error from
//! dotenvy quotes the offending line (with an unclosed quote, the rest of the file too) into
//! stderr, which cron mails or logs. Errors here name the file, the line number and what is wrong.

use std::path::{Path, PathBuf};

use crate::UsageError;

/// Finds `.env` in the working directory or the nearest parent that has one (as dotenvy does),
/// checks the whole file, and only then loads it, so a broken file sets no variable at all.
/// Variables already in the environment win over the file's.
pub fn load_dotenv() -> Result<(), UsageError> {
    let Ok(cwd) = std::env::current_dir() else {
        return Ok(());
    };
    match find(&cwd) {
        Some(path) => load_checked(&path),
        None => Ok(()),
    }
}

/// The first `.env` that is a file, from `dir` upwards.
fn find(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join(".env"))
        .find(|candidate| candidate.is_file())
}

fn load_checked(path: &Path) -> Result<(), UsageError> {
    let unreadable = |e: std::io::Error| {
        // An I/O error's text is the OS's, never the file's content.
        UsageError::new(format!("could not read {}: {e}", path.display()))
            .with_hint("make the file readable, or remove it and export the variables instead")
    };
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(
            UsageError::new(format!("{} is not UTF-8 text", path.display()))
                .with_hint("save the file as UTF-8, or remove it and export the variables instead"),
        );
    };
    if let Some(problem) = first_problem(&text) {
        return Err(UsageError::new(format!(
            "{} line {}: {} (the line is not shown: it may hold a secret)",
            path.display(),
            problem.line,
            problem.what
        ))
        .with_hint(format!(
            "fix line {} of {}: write NAME=value, in quotes when the value has spaces or `#`; \
             or remove the file and export the variables instead",
            problem.line,
            path.display()
        )));
    }
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) => Err(unreadable(e)),
        // Checked above, so this is not expected; still never print dotenvy's text.
        Err(_) => Err(UsageError::new(format!("{} is malformed", path.display()))
            .with_hint("remove the file and export the variables instead")),
    }
}

/// Where a `.env` text first fails to parse, and why, without any of its text.
#[derive(Debug, PartialEq, Eq)]
struct Problem {
    /// 1-based line number where the failing entry starts.
    line: usize,
    what: &'static str,
}

/// The first entry dotenvy refuses, or `None` when the whole text parses.
fn first_problem(text: &str) -> Option<Problem> {
    // dotenvy's loader skips a byte-order mark; its iterator does not.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let error = parse_error(text)?;
    // An entry may span lines (a quoted value with newlines), and dotenvy's error does not say
    // where it starts. Every prefix that ends before the failing entry parses and every longer
    // one fails (cut inside it, or holding it whole), so it starts after the longest good prefix.
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let good = (0..lines.len())
        .rev()
        .find(|&k| parse_error(&lines[..k].concat()).is_none())
        .unwrap_or(0);
    let what = describe(lines.get(good).copied().unwrap_or_default(), &error);
    Some(Problem {
        line: good + 1,
        what,
    })
}

/// dotenvy's error for `text` (the text it quotes stays in here), if any.
fn parse_error(text: &str) -> Option<dotenvy::Error> {
    dotenvy::from_read_iter(text.as_bytes()).find_map(Result::err)
}

/// What is wrong, from the entry's first line and dotenvy's error position.
fn describe(first_line: &str, error: &dotenvy::Error) -> &'static str {
    if let dotenvy::Error::LineParse(entry, at) = error
        && *at >= entry.len()
    {
        // dotenvy reached the end of the file still inside the entry.
        return if entry.contains(['"', '\'']) {
            "unclosed quote: a value opens a quote (\" or ') that is never closed"
        } else {
            "the file ends inside this entry (a trailing `\\` or space): end the line with a newline"
        };
    }
    let mut rest = first_line.trim_start();
    if let Some(after) = rest.strip_prefix("export")
        && after.starts_with([' ', '\t'])
    {
        rest = after.trim_start();
    }
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return "expected NAME=value: a variable name starts with a letter or `_`";
    }
    let after_name =
        rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !after_name.trim_start().starts_with('=') {
        return "expected NAME=value: no `=` after the variable name, or a character not allowed in a name";
    }
    "malformed value: unquoted spaces, an unknown backslash escape, or an unfinished ${...}"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> Option<(usize, &'static str)> {
        first_problem(text).map(|p| (p.line, p.what))
    }

    #[test]
    fn a_good_file_has_no_problem() {
        let text = "# comment\nA=1\nexport B='two words'\nC=\"multi\nline\"\n\nD=${A}x\n";
        assert_eq!(problem(text), None);
        assert_eq!(problem("\u{feff}A=1\n"), None);
    }

    #[test]
    fn an_unclosed_quote_names_its_line_not_the_end_of_the_file() {
        let text = "A=1\n# note\nSLACK_TOKEN=\"xoxp-1-secret\nB=2\nC=3\n";
        let (line, what) = problem(text).expect("problem");
        assert_eq!(line, 3);
        assert!(what.contains("unclosed quote"), "{what}");
        let single = "A=1\nB='x\n";
        assert_eq!(problem(single).map(|p| p.0), Some(2));
    }

    #[test]
    fn the_line_counts_from_the_start_of_a_multi_line_entry() {
        // Line 2 opens a quote closed on line 3; the bad entry is the one starting on line 4.
        let text = "A=1\nB=\"x\ny\"\nC=v w\n";
        let (line, what) = problem(text).expect("problem");
        assert_eq!(line, 4);
        assert!(what.contains("malformed value"), "{what}");
    }

    #[test]
    fn a_last_line_cut_short_is_not_called_a_quote() {
        // dotenvy refuses a space or `\` at the very end of a file without a final newline.
        let (line, what) = problem("A=1\nB=2 ").expect("problem");
        assert_eq!(line, 2);
        assert!(what.contains("ends inside"), "{what}");
    }

    #[test]
    fn names_and_equals_signs_are_checked() {
        assert_eq!(
            problem("A=1\n1A=2\n").map(|p| (p.0, p.1.contains("starts with a letter"))),
            Some((2, true))
        );
        assert_eq!(
            problem("A=1\nB 2\n").map(|p| (p.0, p.1.contains("no `=`"))),
            Some((2, true))
        );
        assert_eq!(problem("export A-B=1\n").map(|p| p.0), Some(1));
    }
}
