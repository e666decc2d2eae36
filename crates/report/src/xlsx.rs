//! Excel output: one sheet per table with a bold frozen header, an autofilter, columns sized to
//! their content and highlighted rows filled light red.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;

use rust_xlsxwriter::{Color, Format, FormatBorder, Worksheet};

use crate::table::yes_no;
use crate::{Cell, ReportError, Table, neutralize_formula, write_atomically};

/// Excel refuses longer strings in a cell; longer text is cut rather than failing the report.
const MAX_CELL_CHARS: usize = 32_767;
/// Column widths (in characters) when sized from content.
const MIN_WIDTH: f64 = 6.0;
const MAX_WIDTH: f64 = 60.0;
/// Excel's sheet-name limit.
const MAX_SHEET_NAME: usize = 31;

/// A workbook being assembled: `Workbook::new().sheet(&summary).sheet(&groups).save(path)`.
#[derive(Debug, Default)]
pub struct Workbook<'a> {
    sheets: Vec<Cow<'a, Table>>,
}

/// The cell formats, built once per workbook.
struct Formats {
    header: Format,
    text: Format,
    int: Format,
    float: Format,
    percent: Format,
    gap_text: Format,
    gap_int: Format,
    gap_float: Format,
    gap_percent: Format,
}

impl Formats {
    fn new() -> Formats {
        // Excel's built-in "Bad" style colours, which users read as "needs attention".
        let gap = |f: Format| {
            f.set_background_color(Color::RGB(0xFFC7CE))
                .set_font_color(Color::RGB(0x9C0006))
        };
        Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xD9E1F2))
                .set_border_bottom(FormatBorder::Thin),
            text: Format::new(),
            // "0", not General: General shows long ids (Telegram chat ids) as -1.00123E+12.
            int: Format::new().set_num_format("0"),
            float: Format::new().set_num_format("0.00"),
            percent: Format::new().set_num_format("0.0%"),
            gap_text: gap(Format::new()),
            gap_int: gap(Format::new().set_num_format("0")),
            gap_float: gap(Format::new().set_num_format("0.00")),
            gap_percent: gap(Format::new().set_num_format("0.0%")),
        }
    }
}

impl<'a> Workbook<'a> {
    /// An empty workbook.
    pub fn new() -> Workbook<'a> {
        Workbook::default()
    }

    /// Adds a sheet rendering `table` (borrowed or owned), after those already added.
    pub fn sheet(mut self, table: impl Into<Cow<'a, Table>>) -> Workbook<'a> {
        self.sheets.push(table.into());
        self
    }

    /// Adds a two-column key/value sheet (see [`Table::key_value`]), e.g. a report's Summary.
    pub fn summary_sheet<K: Into<String>>(
        self,
        name: impl Into<String>,
        pairs: impl IntoIterator<Item = (K, Cell)>,
    ) -> Workbook<'a> {
        self.sheet(Table::key_value(name, pairs))
    }

    /// The workbook as `.xlsx` bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ReportError> {
        let formats = Formats::new();
        let mut book = rust_xlsxwriter::Workbook::new();
        let mut seen = HashSet::new();
        for table in &self.sheets {
            table.check()?;
            let name = sheet_name(&table.name, seen.len() + 1);
            if !seen.insert(name.to_lowercase()) {
                return Err(ReportError::DuplicateSheet(name));
            }
            let sheet = book.add_worksheet();
            sheet.set_name(&name)?;
            fill_sheet(sheet, table, &formats)?;
        }
        if self.sheets.is_empty() {
            // A workbook needs a sheet to open; an empty report still gets one.
            book.add_worksheet();
        }
        Ok(book.save_to_buffer()?)
    }

    /// Writes the workbook to `path`, atomically.
    pub fn save(&self, path: &Path) -> Result<(), ReportError> {
        let bytes = self.to_bytes()?;
        write_atomically(path, |w| {
            w.write_all(&bytes).map_err(|source| ReportError::Io {
                path: path.to_path_buf(),
                source,
            })
        })
    }
}

fn fill_sheet(sheet: &mut Worksheet, table: &Table, f: &Formats) -> Result<(), ReportError> {
    let mut widths: Vec<usize> = table
        .columns
        .iter()
        .map(|c| c.name.chars().count())
        .collect();
    for (col, column) in table.columns.iter().enumerate() {
        sheet.write_string_with_format(
            0,
            col_index(col),
            neutralize_formula(&column.name),
            &f.header,
        )?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        // Row 0 is the header. Past Excel's row limit rust_xlsxwriter reports an error.
        let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
        for (col, cell) in row.cells.iter().enumerate() {
            let c = col_index(col);
            let (text_fmt, int_fmt, float_fmt, pct_fmt) = if row.highlight {
                (&f.gap_text, &f.gap_int, &f.gap_float, &f.gap_percent)
            } else {
                (&f.text, &f.int, &f.float, &f.percent)
            };
            let shown_len = match cell {
                Cell::Int(i) => {
                    // Excel numbers are f64; ids above 2^53 would lose digits, so they go in as text.
                    if i.unsigned_abs() < (1 << 53) {
                        sheet.write_number_with_format(r, c, *i as f64, int_fmt)?;
                    } else {
                        sheet.write_string_with_format(r, c, i.to_string(), text_fmt)?;
                    }
                    i.to_string().len()
                }
                Cell::Float(x) if x.is_finite() => {
                    sheet.write_number_with_format(r, c, *x, float_fmt)?;
                    format!("{x:.2}").len()
                }
                Cell::Percent(p) if p.is_finite() => {
                    sheet.write_number_with_format(r, c, p / 100.0, pct_fmt)?;
                    format!("{p:.1}%").len()
                }
                Cell::Float(_) | Cell::Percent(_) | Cell::Empty => {
                    if row.highlight {
                        sheet.write_blank(r, c, text_fmt)?;
                    }
                    0
                }
                Cell::Bool(b) => {
                    sheet.write_string_with_format(r, c, yes_no(*b), text_fmt)?;
                    3
                }
                Cell::Text(s) => write_text(sheet, r, c, s, text_fmt)?,
                Cell::List(items) => write_text(sheet, r, c, &items.join("; "), text_fmt)?,
            };
            if let Some(w) = widths.get_mut(col) {
                *w = (*w).max(shown_len);
            }
        }
    }

    for (col, column) in table.columns.iter().enumerate() {
        // +2 leaves room for the autofilter's drop-down arrow in the header.
        let auto = (widths[col] as f64 + 2.0).clamp(MIN_WIDTH, MAX_WIDTH);
        sheet.set_column_width(col_index(col), column.width.unwrap_or(auto))?;
    }
    if !table.columns.is_empty() {
        let last_row = u32::try_from(table.rows.len()).unwrap_or(u32::MAX);
        sheet.autofilter(0, 0, last_row, col_index(table.columns.len() - 1))?;
        sheet.set_freeze_panes(1, 0)?;
    }
    Ok(())
}

/// Writes neutralised text, cut to Excel's limit; returns its length in characters.
fn write_text(
    sheet: &mut Worksheet,
    r: u32,
    c: u16,
    s: &str,
    format: &Format,
) -> Result<usize, ReportError> {
    let safe = neutralize_formula(s);
    let len = safe.chars().count();
    if len > MAX_CELL_CHARS {
        let cut: String = safe.chars().take(MAX_CELL_CHARS - 1).chain(['…']).collect();
        sheet.write_string_with_format(r, c, cut, format)?;
    } else {
        sheet.write_string_with_format(r, c, safe.as_ref(), format)?;
    }
    // Only the first line matters for width; long cells are capped by MAX_WIDTH anyway.
    Ok(safe.lines().next().map_or(0, |l| l.chars().count()))
}

/// Excel has 16,384 columns; beyond that rust_xlsxwriter reports the error.
fn col_index(col: usize) -> u16 {
    u16::try_from(col).unwrap_or(u16::MAX)
}

/// Turns a table name into a name Excel accepts: forbidden characters `[]:*?/\` become `_`, no
/// leading/trailing `'`, at most 31 characters, not the reserved `History`, never empty.
fn sheet_name(name: &str, position: usize) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('\'');
    let mut out: String = trimmed.chars().take(MAX_SHEET_NAME).collect();
    if out.trim().is_empty() {
        out = format!("Sheet{position}");
    } else if out.eq_ignore_ascii_case("history") {
        out.push('_');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_made_valid() {
        assert_eq!(sheet_name("Groups", 1), "Groups");
        assert_eq!(sheet_name("a/b:c?[d]", 1), "a_b_c__d_");
        assert_eq!(sheet_name("'quoted'", 1), "quoted");
        assert_eq!(sheet_name(&"x".repeat(40), 1).chars().count(), 31);
        assert_eq!(sheet_name("", 3), "Sheet3");
        assert_eq!(sheet_name("History", 1), "History_");
    }
}
