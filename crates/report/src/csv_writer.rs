//! CSV output: one header line, then one line per row; lists `;`-joined, booleans `yes`/`no`,
//! formula-like text neutralised.

use std::io::Write;
use std::path::Path;

use crate::{Cell, ReportError, Table, neutralize_formula, write_atomically};

/// One CSV field. Only text can smuggle in a formula; numbers (e.g. `-4`) must stay numbers.
fn csv_field(cell: &Cell) -> String {
    match cell {
        Cell::Text(_) | Cell::List(_) => neutralize_formula(&cell.csv_text()).into_owned(),
        _ => cell.csv_text().into_owned(),
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
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(
        table
            .columns
            .iter()
            .map(|c| neutralize_formula(&c.name).into_owned()),
    )?;
    for row in &table.rows {
        writer.write_record(row.cells.iter().map(csv_field))?;
    }
    writer.flush().map_err(csv::Error::from)?;
    Ok(())
}
