//! Report writers: a tool builds a `Table`, and the CSV, Excel, text and HTML writers render it (spreadsheet-formula cells neutralised).
//!
//! Producers (the audit, add-members, export and insight tools) only build [`Table`]s; how a
//! [`Cell`] looks in each format is decided here, once: lists are joined with `;` in CSV, booleans
//! are `yes`/`no`, percentages are 0..100 numbers. Files are written atomically (temp file in the
//! same directory, then rename), so a crash never leaves half a report behind.

mod csv_writer;
mod html;
mod table;
mod text;
mod xlsx;

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use csv_writer::{write_csv, write_csv_to};
pub use html::{html_escape, render_html_table};
pub use table::{Cell, Column, Row, Table};
pub use text::render_text;
pub use xlsx::Workbook;

/// Everything that can go wrong writing a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write CSV: {0}")]
    Csv(#[from] csv::Error),

    #[error("cannot build the Excel workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),

    #[error("table {table:?}: row {row} has {found} cells but the table has {expected} columns")]
    RowWidth {
        table: String,
        row: usize,
        expected: usize,
        found: usize,
    },

    #[error("two sheets would both be named {0:?} (Excel sheet names ignore case)")]
    DuplicateSheet(String),
}

/// Characters a spreadsheet may split a CSV line or a pasted text on: the comma, the `;` of
/// locales whose decimal mark is a comma, tab, and line breaks. Quotes protect a field only where
/// the reader's separator is the one the file was written with, so every piece between these
/// characters is neutralised on its own.
const SPLIT_CHARS: [char; 5] = [',', ';', '\t', '\n', '\r'];

/// Makes text safe to open in a spreadsheet: a piece starting with `=`, `+`, `-`, `@`, tab or
/// carriage return would be run as a formula (OWASP "CSV injection"), so it gets a leading `'`,
/// which spreadsheets show as plain text. A piece is the whole text or any part after a character
/// a spreadsheet may split on (`SPLIT_CHARS`), so `x;=HYPERLINK(..)` becomes `x;'=HYPERLINK(..)`
/// (Excel with `;` as its list separator reads the `=` part as a cell of its own). Opening double
/// quotes are looked through (`"=x"` is still a formula once the quotes are read). Text that is
/// a plain number such as `-12` stays as it is. Numbers belong in numeric cells, which are not
/// touched.
///
/// What this cannot cover: a reader splitting on `;` glues a signed number that is the first field
/// of a line to the next field (`-5,1+cmd|...` is `-5.1+cmd|...` where `,` is the decimal mark).
/// The reports start their rows with a name or an id, never a signed number.
pub fn neutralize_formula(s: &str) -> Cow<'_, str> {
    // A plain number such as `-1001234` (a Telegram chat id written as text) is not a formula and
    // a spreadsheet reads it as the number it is: leave it alone. Only the whole text counts: a
    // number after a separator would reach a mis-splitting reader glued to the file's quotes.
    if is_plain_number(s) {
        return Cow::Borrowed(s);
    }
    let piece_starts =
        std::iter::once(0).chain(s.match_indices(SPLIT_CHARS).map(|(i, m)| i + m.len()));
    let mut out = String::new();
    let mut copied = 0;
    for start in piece_starts {
        let unquoted = s[start..].trim_start_matches('"');
        if matches!(
            unquoted.chars().next(),
            Some('=' | '+' | '-' | '@' | '\t' | '\r')
        ) {
            out.push_str(&s[copied..start]);
            out.push('\'');
            copied = start;
        }
    }
    if out.is_empty() {
        // Nothing inserted (every insertion pushes a `'`).
        return Cow::Borrowed(s);
    }
    out.push_str(&s[copied..]);
    Cow::Owned(out)
}

/// `-12`, `+3.5`, `42`: an optional sign, digits, at most one decimal point. Nothing else.
fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let mut dot = false;
    !digits.is_empty()
        && digits.chars().all(|c| match c {
            '0'..='9' => true,
            '.' if !dot => {
                dot = true;
                true
            }
            _ => false,
        })
        && digits.chars().any(|c| c.is_ascii_digit())
}

/// Writes a file atomically: `write` fills a temp file in the same directory, which is flushed to
/// disk and then renamed over `path`. Creates missing parent directories. On any error the temp file
/// is removed and `path` is left as it was. Reports hold customer data: the file is created 0600 and
/// new directories 0700 (see `private-files`).
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let io_err = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = private_files::AtomicFile::create(path).map_err(io_err)?;
    write(&mut file)?;
    file.commit_durable().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_prefixes_are_neutralized() {
        for risky in [
            "=SUM(A1:A2)",
            "+1+cmd|' /C calc'!A0",
            "-2+3",
            "-",
            "@cmd",
            "\tx",
            "\rx",
            "-1e5",
            "--1",
            "\"=cmd\"",
        ] {
            let safe = neutralize_formula(risky);
            assert_eq!(safe, format!("'{risky}"), "{risky:?}");
        }
        // Issue 11: a piece after any character a spreadsheet splits on is a cell of its own.
        for (risky, safe) in [
            (
                "x;=HYPERLINK(\"http://evil\")",
                "x;'=HYPERLINK(\"http://evil\")",
            ),
            ("a,+1+1", "a,'+1+1"),
            ("a\t@cmd", "a\t'@cmd"),
            ("line\n-x\r\n=y", "line\n'-x\r\n'=y"),
            ("a;\t=x", "a;'\t'=x"),
            ("=a;=b", "'=a;'=b"),
            ("x;\"=cmd\"", "x;'\"=cmd\""),
            ("-12;=x", "'-12;'=x"),
            ("a;-12", "a;'-12"),
        ] {
            assert_eq!(neutralize_formula(risky), safe, "{risky:?}");
        }
        for plain in [
            "alice",
            "",
            "a=b",
            " =x",
            "'already",
            "-1001234567890",
            "+3.5",
            "42",
            "alice;bob",
            "Acme, -5% off",
        ] {
            assert!(
                matches!(neutralize_formula(plain), Cow::Borrowed(_)),
                "{plain:?}"
            );
        }
    }

    #[test]
    fn failed_write_leaves_old_file_and_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.csv");
        std::fs::write(&path, "old").expect("seed");
        let err = write_atomically(&path, |w| {
            w.write_all(b"half").map_err(|source| ReportError::Io {
                path: "x".into(),
                source,
            })?;
            Err(ReportError::DuplicateSheet("boom".into()))
        })
        .expect_err("the writer failed");
        assert!(matches!(err, ReportError::DuplicateSheet(_)));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "temp file left behind: {names:?}");
    }
}
