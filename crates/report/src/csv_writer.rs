//! CSV output: one header line, then one line per row; lists `;`-joined, booleans `yes`/`no`,
//! formula-like text neutralised, and every field a spreadsheet might split quoted.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use crate::{Cell, ReportError, Table, neutralize_formula, write_atomically};

/// One CSV field. Only text can smuggle in a formula; numbers (e.g. `-4`) must stay numbers.
fn csv_field(cell: &Cell) -> String {
    match cell {
        Cell::Text(_) | Cell::List(_) => quote(&neutralize_formula(&cell.csv_text())).into_owned(),
        _ => cell.csv_text().into_owned(),
    }
}

/// The field as written: quoted (RFC 4180, `"` doubled) when it holds a quote, a line break, or
/// any separator a spreadsheet may use (`,`, and `;` or tab in other locales), so a
/// semicolon-locale Excel keeps `a;b` in one cell. The csv crate quotes only for its own
/// delimiter, so quoting is decided here and the crate writes the fields as given.
fn quote(field: &str) -> Cow<'_, str> {
    if field.contains([',', ';', '\t', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// Writes `table` as CSV to `path`, atomically.
pub fn write_csv(table: &Table, path: &Path) -> Result<(), ReportError> {
    table.check()?;
    write_atomically(path, |w| write_csv_to(table, w))
}

/// Writes `table` as CSV to any writer (stdout, a buffer).
pub fn write_csv_to(table: &Table, out: impl Write) -> Result<(), ReportError> {
    table.check()?;
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Never)
        .from_writer(out);
    writer.write_record(
        table
            .columns
            .iter()
            .map(|c| quote(&neutralize_formula(&c.name)).into_owned()),
    )?;
    for row in &table.rows {
        writer.write_record(row.cells.iter().map(csv_field))?;
    }
    writer.flush().map_err(csv::Error::from)?;
    Ok(())
}
