//! The format-neutral table that producers build and every writer renders.

use std::borrow::Cow;

use crate::ReportError;

/// One value. The variant, not the text, decides how each format shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Float(f64),
    /// A percentage on the 0..100 scale (Excel shows it with a `%` format).
    Percent(f64),
    Bool(bool),
    /// Several values in one cell (e.g. missing handles): `;`-joined in CSV.
    List(Vec<String>),
    Empty,
}

impl Cell {
    /// A text cell.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// True for cells shown as numbers (right-aligned in text).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Cell::Int(_) | Cell::Float(_) | Cell::Percent(_))
    }

    /// The cell as CSV text, before formula neutralisation: machine-friendly (no `%` sign, full
    /// float precision, percentages rounded to 0.1).
    pub(crate) fn csv_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(s) => Cow::Borrowed(s),
            Cell::Int(i) => Cow::Owned(i.to_string()),
            Cell::Float(f) if f.is_finite() => Cow::Owned(f.to_string()),
            Cell::Percent(p) if p.is_finite() => Cow::Owned(format!("{p:.1}")),
            Cell::Float(_) | Cell::Percent(_) | Cell::Empty => Cow::Borrowed(""),
            Cell::Bool(b) => Cow::Borrowed(yes_no(*b)),
            Cell::List(items) => Cow::Owned(items.join(";")),
        }
    }

    /// The cell as people read it (text and HTML output).
    pub(crate) fn display_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(s) => Cow::Borrowed(s),
            Cell::Int(i) => Cow::Owned(i.to_string()),
            Cell::Float(f) if f.is_finite() => Cow::Owned(format!("{f:.2}")),
            Cell::Percent(p) if p.is_finite() => Cow::Owned(format!("{p:.1}%")),
            Cell::Float(_) | Cell::Percent(_) | Cell::Empty => Cow::Borrowed(""),
            Cell::Bool(b) => Cow::Borrowed(yes_no(*b)),
            Cell::List(items) => Cow::Owned(items.join("; ")),
        }
    }
}

pub(crate) fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<i64> for Cell {
    fn from(i: i64) -> Cell {
        Cell::Int(i)
    }
}

impl From<usize> for Cell {
    fn from(i: usize) -> Cell {
        Cell::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Cell {
    fn from(f: f64) -> Cell {
        Cell::Float(f)
    }
}

impl From<bool> for Cell {
    fn from(b: bool) -> Cell {
        Cell::Bool(b)
    }
}

impl From<Vec<String>> for Cell {
    fn from(items: Vec<String>) -> Cell {
        Cell::List(items)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(value: Option<T>) -> Cell {
        value.map_or(Cell::Empty, Into::into)
    }
}

/// A column: its header and, optionally, a fixed Excel width (in characters); without one the
/// width follows the content.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub width: Option<f64>,
}

impl Column {
    /// A column sized from its content.
    pub fn new(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            width: None,
        }
    }

    /// The same column with a fixed Excel width.
    pub fn with_width(mut self, width: f64) -> Column {
        self.width = Some(width);
        self
    }
}

impl From<&str> for Column {
    fn from(name: &str) -> Column {
        Column::new(name)
    }
}

/// One row; `highlight` marks a gap (filled light red in Excel, `class="gap"` in HTML).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    pub cells: Vec<Cell>,
    pub highlight: bool,
}

impl Row {
    /// A plain row.
    pub fn new(cells: Vec<Cell>) -> Row {
        Row {
            cells,
            highlight: false,
        }
    }

    /// The same row, highlighted when `highlight` is true.
    pub fn highlighted(mut self, highlight: bool) -> Row {
        self.highlight = highlight;
        self
    }
}

/// A named table (the name becomes the Excel sheet name).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
}

impl Table {
    /// An empty table with these column headers.
    pub fn new<C: Into<Column>>(
        name: impl Into<String>,
        columns: impl IntoIterator<Item = C>,
    ) -> Table {
        Table {
            name: name.into(),
            columns: columns.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// A two-column key/value table (`Item`, `Value`): the Summary sheet of a report.
    pub fn key_value<K: Into<String>>(
        name: impl Into<String>,
        pairs: impl IntoIterator<Item = (K, Cell)>,
    ) -> Table {
        let mut table = Table::new(name, ["Item", "Value"]);
        for (key, value) in pairs {
            table.push(Row::new(vec![Cell::Text(key.into()), value]));
        }
        table
    }

    /// Appends a row.
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Checks every row has one cell per column; writers call it before writing anything.
    pub fn check(&self) -> Result<(), ReportError> {
        let expected = self.columns.len();
        match self.rows.iter().position(|r| r.cells.len() != expected) {
            None => Ok(()),
            Some(i) => Err(ReportError::RowWidth {
                table: self.name.clone(),
                row: i + 1,
                expected,
                found: self.rows[i].cells.len(),
            }),
        }
    }
}

impl<'a> From<Table> for Cow<'a, Table> {
    fn from(table: Table) -> Cow<'a, Table> {
        Cow::Owned(table)
    }
}

impl<'a> From<&'a Table> for Cow<'a, Table> {
    fn from(table: &'a Table) -> Cow<'a, Table> {
        Cow::Borrowed(table)
    }
}
