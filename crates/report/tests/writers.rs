//! The writers against real files in temp dirs: CSV read back with the csv crate, xlsx read back
//! with calamine (values, sheets, fills) and its XML inspected for frozen panes and autofilters.

use std::io::Read;
use std::path::Path;

use calamine::{Data, Reader, Xlsx, open_workbook};
use report::{Cell, Column, Row, Table, Workbook, write_csv, write_csv_to};

/// A Groups-like table with the awkward values reports meet in practice.
fn groups() -> Table {
    let mut t = Table::new(
        "Groups",
        [
            "platform",
            "group_name",
            "required_present",
            "missing_required",
            "is_private",
            "completeness",
            "score",
            "note",
        ],
    );
    t.push(Row::new(vec![
        "slack".into(),
        "bitsafe-acme".into(),
        Cell::Int(3),
        Cell::List(vec![]),
        Cell::Bool(true),
        Cell::Percent(100.0),
        Cell::Float(0.5),
        Cell::Empty,
    ]));
    t.push(
        Row::new(vec![
            "slack".into(),
            "=HYPERLINK(\"http://evil\",\"x\")".into(),
            Cell::Int(1),
            Cell::List(vec!["alice".into(), "bob".into()]),
            Cell::Bool(false),
            Cell::Percent(33.3333),
            Cell::Float(-2.25),
            Cell::text("comma, \"quote\"\nnewline"),
        ])
        .highlighted(true),
    );
    t.push(Row::new(vec![
        "slack".into(),
        "@ops".into(),
        Cell::Int(-4),
        Cell::List(vec!["-carol".into()]),
        Cell::Bool(false),
        Cell::Percent(0.0),
        Cell::Float(1e10),
        "+1 555".into(),
    ]));
    t
}

fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .expect("open csv");
    reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn csv_quotes_joins_and_neutralizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("audit_reports/groups.csv");
    write_csv(&groups(), &path).expect("write");
    let rows = read_csv(&path);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0][0], "platform");
    assert_eq!(rows[0][3], "missing_required");
    assert_eq!(
        rows[1],
        ["slack", "bitsafe-acme", "3", "", "yes", "100.0", "0.5", ""]
    );
    assert_eq!(
        rows[2],
        [
            "slack",
            "'=HYPERLINK(\"http://evil\",\"x\")",
            "1",
            "alice;bob",
            "no",
            "33.3",
            "-2.25",
            "comma, \"quote\"\nnewline"
        ]
    );
    // Text starting with @, - or + is neutralised; real numbers (Int -4) are not.
    assert_eq!(rows[3][1], "'@ops");
    assert_eq!(rows[3][2], "-4");
    assert_eq!(rows[3][3], "'-carol");
    assert_eq!(rows[3][7], "'+1 555");
    // The raw bytes quote the embedded quotes and newline as RFC 4180 says.
    let raw = std::fs::read_to_string(&path).expect("raw");
    assert!(raw.contains("\"comma, \"\"quote\"\"\nnewline\""), "{raw}");
    // Nothing but the report in the directory: the temp file was renamed, not left.
    let entries: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("ls")
        .collect();
    assert_eq!(entries.len(), 1);
}

/// Reads a CSV file the way a spreadsheet in another locale would: split on `delimiter`,
/// double quotes honoured where a field starts with one.
fn read_csv_split_on(path: &Path, delimiter: u8) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_path(path)
        .expect("open csv");
    reader
        .records()
        .map(|r| r.expect("record").iter().map(str::to_string).collect())
        .collect()
}

/// What a spreadsheet would run as a formula: a cell starting with `=`, `+`, `-`, `@`, tab or
/// carriage return that is not a plain number.
fn is_live_formula(cell: &str) -> bool {
    let starts_risky = matches!(
        cell.chars().next(),
        Some('=' | '+' | '-' | '@' | '\t' | '\r')
    );
    starts_risky && cell.parse::<f64>().is_err()
}

/// Issue 11: `x;=HYPERLINK(..)` in a comma-separated file is split by a semicolon-locale Excel
/// into `x` and a live formula. Fields with `;` are quoted, and every piece after a separator
/// is neutralised, whichever separator the reader uses.
#[test]
fn csv_neutralises_formulas_behind_any_separator_a_spreadsheet_may_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("semi.csv");
    let hostile = [
        "x;=HYPERLINK(\"http://evil\",\"x\")",
        "a,+1+cmd",
        "tab\t@SUM(1)",
        "first line\n-2+3",
        "ok;-12",
        "-12",
    ];
    let mut t = Table::new("Groups", ["id", "name", "members"]);
    for (i, name) in hostile.iter().enumerate() {
        t.push(Row::new(vec![
            Cell::Int(i as i64),
            Cell::text(*name),
            Cell::List(vec!["alice".into(), "=evil()".into(), "-12".into()]),
        ]));
    }
    write_csv(&t, &path).expect("write");

    // Read with the separator it was written with: one cell per column, pieces neutralised.
    let rows = read_csv(&path);
    let names: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        names,
        [
            "x;'=HYPERLINK(\"http://evil\",\"x\")",
            "a,'+1+cmd",
            "tab\t'@SUM(1)",
            "first line\n'-2+3",
            "ok;'-12",
            "-12",
        ]
    );
    assert!(
        rows[1..].iter().all(|r| r[2] == "alice;'=evil();'-12"),
        "{rows:?}"
    );
    // Fields holding `;` are quoted, so a `;`-locale reader keeps them whole where it can.
    let raw = std::fs::read_to_string(&path).expect("raw");
    assert!(raw.contains("\"x;'=HYPERLINK("), "{raw}");
    assert!(raw.contains("\"ok;'-12\""), "{raw}");
    assert!(raw.contains("\"alice;'=evil();'-12\""), "{raw}");
    // A number on its own stays a number, unquoted.
    assert!(raw.contains("5,-12,\""), "{raw}");

    // Read as other locales would: no cell is a live formula, and plain numbers stay numbers.
    for delimiter in [b',', b';', b'\t'] {
        let cells: Vec<String> = read_csv_split_on(&path, delimiter)
            .into_iter()
            .flatten()
            .collect();
        let live: Vec<&String> = cells.iter().filter(|c| is_live_formula(c)).collect();
        assert!(
            live.is_empty(),
            "split on {:?}: {live:?}",
            delimiter as char
        );
    }
    let semi: Vec<String> = read_csv_split_on(&path, b';')
        .into_iter()
        .flatten()
        .collect();
    assert!(
        semi.iter().any(|c| c.starts_with("'=HYPERLINK")),
        "{semi:?}"
    );
}

#[test]
fn csv_to_writer_matches_file_and_rejects_ragged_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("g.csv");
    write_csv(&groups(), &path).expect("write file");
    let mut buf = Vec::new();
    write_csv_to(&groups(), &mut buf).expect("write buffer");
    assert_eq!(buf, std::fs::read(&path).expect("read"));

    let mut ragged = Table::new("bad", ["a", "b"]);
    ragged.push(Row::new(vec![Cell::Int(1)]));
    let err = write_csv(&ragged, &dir.path().join("bad.csv")).expect_err("ragged");
    assert!(
        err.to_string()
            .contains("row 1 has 1 cells but the table has 2 columns"),
        "{err}"
    );
    assert!(
        !dir.path().join("bad.csv").exists(),
        "nothing written for a bad table"
    );
}

#[test]
fn rewriting_a_report_replaces_it_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("g.csv");
    write_csv(&groups(), &path).expect("first");
    let mut small = Table::new("Groups", ["only"]);
    small.push(Row::new(vec!["x".into()]));
    write_csv(&small, &path).expect("second");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "only\nx\n");
}

fn zip_entry(path: &Path, name: &str) -> String {
    let file = std::fs::File::open(path).expect("open xlsx");
    let mut archive = zip::ZipArchive::new(file).expect("zip");
    let mut entry = archive.by_name(name).expect("entry");
    let mut xml = String::new();
    entry.read_to_string(&mut xml).expect("xml");
    xml
}

#[test]
fn xlsx_round_trips_values_sheets_and_styles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out/audit.xlsx");
    let table = groups();
    let mut missing = Table::new(
        "Missing",
        [Column::new("group"), Column::new("member").with_width(30.0)],
    );
    missing.push(Row::new(vec!["bitsafe-x".into(), "alice".into()]).highlighted(true));
    Workbook::new()
        .summary_sheet(
            "Summary",
            [
                ("Coverage", Cell::Percent(66.7)),
                ("Groups", Cell::Int(3)),
                ("Unmatched", Cell::List(vec!["zed".into()])),
            ],
        )
        .sheet(&table)
        .sheet(missing)
        .save(&path)
        .expect("save");

    let mut book: Xlsx<_> = open_workbook(&path).expect("calamine opens it");
    assert_eq!(book.sheet_names(), vec!["Summary", "Groups", "Missing"]);

    let summary = book.worksheet_range("Summary").expect("summary");
    assert_eq!(
        summary.get_value((0, 0)),
        Some(&Data::String("Item".into()))
    );
    assert_eq!(
        summary.get_value((1, 0)),
        Some(&Data::String("Coverage".into()))
    );
    assert_eq!(
        summary.get_value((1, 1)),
        Some(&Data::Float(0.667)),
        "percent stored as a fraction"
    );
    assert_eq!(summary.get_value((3, 1)), Some(&Data::String("zed".into())));

    let g = book.worksheet_range("Groups").expect("groups");
    assert_eq!(g.get_size(), (4, 8));
    assert_eq!(
        g.get_value((0, 1)),
        Some(&Data::String("group_name".into()))
    );
    assert_eq!(g.get_value((1, 2)), Some(&Data::Float(3.0)));
    assert_eq!(g.get_value((1, 4)), Some(&Data::String("yes".into())));
    assert_eq!(
        g.get_value((2, 1)),
        Some(&Data::String("'=HYPERLINK(\"http://evil\",\"x\")".into()))
    );
    assert_eq!(
        g.get_value((2, 3)),
        Some(&Data::String("alice; bob".into()))
    );
    assert_eq!(g.get_value((2, 6)), Some(&Data::Float(-2.25)));
    assert_eq!(g.get_value((3, 1)), Some(&Data::String("'@ops".into())));
    assert_eq!(g.get_value((3, 2)), Some(&Data::Float(-4.0)));

    // The highlighted row is filled light red; the others are not; the header is bold.
    let styles = book.worksheet_style("Groups").expect("styles");
    let fill = |r, c| {
        styles
            .get((r, c))
            .and_then(|s| s.fill.as_ref())
            .filter(|f| f.is_visible())
            .and_then(|f| f.get_color())
            .map(|c| c.to_argb() & 0xFF_FFFF)
    };
    assert_eq!(fill(2, 0), Some(0xFFC7CE));
    assert_eq!(fill(2, 7), Some(0xFFC7CE));
    assert_eq!(fill(1, 0), None);
    assert_eq!(fill(3, 1), None);
    let header = styles
        .get((0, 0))
        .and_then(|s| s.font.as_ref())
        .expect("header font");
    assert!(header.is_bold());

    // Frozen header row and autofilter over the whole table, from the sheet's XML.
    let groups_xml = zip_entry(&path, "xl/worksheets/sheet2.xml");
    assert!(
        groups_xml.contains(
            r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
        ),
        "{groups_xml}"
    );
    assert!(
        groups_xml.contains(r#"<autoFilter ref="A1:H4"/>"#),
        "{groups_xml}"
    );
    // Content-sized columns: group_name is wider than is_private; the fixed width is kept.
    let widths = column_widths(&groups_xml);
    assert!(widths[1] > widths[4], "{widths:?}");
    assert!(
        widths.iter().all(|w| (6.0..=61.0).contains(w)),
        "{widths:?}"
    );
    let missing_xml = zip_entry(&path, "xl/worksheets/sheet3.xml");
    assert!(
        (column_widths(&missing_xml)[1] - 30.7).abs() < 0.5,
        "{missing_xml}"
    );
}

/// The `width` attribute of each `<col>` element, in order.
fn column_widths(xml: &str) -> Vec<f64> {
    xml.split("<col ")
        .skip(1)
        .filter_map(|c| c.split("width=\"").nth(1))
        .filter_map(|w| w.split('"').next())
        .map(|w| w.parse().expect("number"))
        .collect()
}

#[test]
fn duplicate_sheet_names_fail_before_writing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("dup.xlsx");
    let a = Table::new("Groups", ["x"]);
    let b = Table::new("groups", ["y"]);
    let err = Workbook::new()
        .sheet(&a)
        .sheet(&b)
        .save(&path)
        .expect_err("duplicate");
    assert!(err.to_string().contains("groups"), "{err}");
    assert!(!path.exists());
}
