//! Plain-text tables for a terminal: aligned columns, numbers right-aligned.

use crate::Table;

/// Widest a column may get before its cells are cut with `…`, so one long value cannot push the
/// rest of the table off the screen.
const MAX_COLUMN_WIDTH: usize = 48;

/// Renders `table` as aligned text (header, a rule, the rows), at most `max_rows` rows followed by a
/// line saying how many were left out. Control characters in the data (newlines, terminal escapes,
/// U+2028) are shown as visible escapes (`\u{1b}`) so untrusted names cannot break the layout or
/// the terminal.
pub fn render_text(table: &Table, max_rows: Option<usize>) -> String {
    let shown = max_rows.unwrap_or(table.rows.len()).min(table.rows.len());
    let header: Vec<String> = table.columns.iter().map(|c| clean(&c.name)).collect();
    let body: Vec<Vec<String>> = table.rows[..shown]
        .iter()
        .map(|r| r.cells.iter().map(|c| clean(&c.display_text())).collect())
        .collect();

    let columns = table.columns.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &body {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for w in &mut widths {
        *w = (*w).min(MAX_COLUMN_WIDTH);
    }
    // A column is right-aligned when every non-empty cell in it is a number.
    let numeric: Vec<bool> = (0..columns)
        .map(|i| {
            let mut cells = table.rows.iter().filter_map(|r| r.cells.get(i));
            let mut any = false;
            let all = cells.all(|c| {
                any |= c.is_numeric();
                c.is_numeric() || matches!(c, crate::Cell::Empty)
            });
            any && all
        })
        .collect();

    let mut out = String::new();
    push_line(&mut out, &header, &widths, &numeric);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    push_line(&mut out, &rule, &widths, &numeric);
    for row in &body {
        push_line(&mut out, row, &widths, &numeric);
    }
    let hidden = table.rows.len() - shown;
    if hidden > 0 {
        out.push_str(&format!(
            "… {hidden} more row{}\n",
            if hidden == 1 { "" } else { "s" }
        ));
    }
    out
}

fn push_line(out: &mut String, cells: &[String], widths: &[usize], numeric: &[bool]) {
    let mut line = String::new();
    for (i, (cell, &width)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        let cell = truncate(cell, width);
        let pad = width.saturating_sub(cell.chars().count());
        if numeric[i] {
            line.extend(std::iter::repeat_n(' ', pad));
            line.push_str(&cell);
        } else {
            line.push_str(&cell);
            line.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut cut: String = s.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

fn clean(s: &str) -> String {
    roster::text::terminal_safe(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cell, Row};

    fn sample() -> Table {
        let mut t = Table::new("Groups", ["group", "present", "coverage", "missing"]);
        t.push(Row::new(vec![
            "bitsafe-acme".into(),
            Cell::Int(3),
            Cell::Percent(100.0),
            Cell::List(vec![]),
        ]));
        t.push(Row::new(vec![
            "b".into(),
            Cell::Int(12),
            Cell::Percent(7.26),
            Cell::List(vec!["al".into(), "bo".into()]),
        ]));
        t
    }

    #[test]
    fn columns_align_and_numbers_right() {
        let text = render_text(&sample(), None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            vec![
                "group         present  coverage  missing",
                "------------  -------  --------  -------",
                "bitsafe-acme        3    100.0%",
                "b                  12      7.3%  al; bo",
            ]
        );
    }

    #[test]
    fn max_rows_reports_the_rest() {
        let text = render_text(&sample(), Some(1));
        assert_eq!(text.lines().count(), 4);
        assert!(text.contains("bitsafe-acme"));
        assert!(!text.contains("al; bo"));
        assert!(text.ends_with("… 1 more row\n"), "{text}");
    }

    #[test]
    fn control_characters_and_long_cells_are_tamed() {
        let mut t = Table::new("x", ["name"]);
        t.push(Row::new(vec![Cell::text(
            "evil\x1b[31mred\nline\r\u{2028}",
        )]));
        t.push(Row::new(vec![Cell::text("y".repeat(100))]));
        let text = render_text(&t, None);
        assert!(!text.contains(['\x1b', '\r', '\u{2028}']));
        assert_eq!(
            text.lines().nth(2).expect("row"),
            "evil\\u{1b}[31mred\\u{a}line\\u{d}\\u{2028}"
        );
        let long = text.lines().nth(3).expect("row");
        assert_eq!(long.chars().count(), MAX_COLUMN_WIDTH);
        assert!(long.ends_with('…'));
    }
}
