//! HTML building blocks (escaping and a plain `<table>`) for self-contained dashboards.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::Table;

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Renders `table` as `<table class="report-table">` with a caption, a header and one `<tr>` per
/// row. Numeric cells get `class="num"`, highlighted rows `class="gap"`, so a page's CSS can style
/// them. Rows with the wrong number of cells are rendered as they are (check with [`Table::check`]).
pub fn render_html_table(table: &Table) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail, so the fmt::Results below are ignored on purpose.
    let _ = writeln!(out, "<table class=\"report-table\">");
    let _ = writeln!(out, "<caption>{}</caption>", html_escape(&table.name));
    out.push_str("<thead><tr>");
    for c in &table.columns {
        let _ = write!(out, "<th scope=\"col\">{}</th>", html_escape(&c.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &table.rows {
        out.push_str(if row.highlight {
            "<tr class=\"gap\">"
        } else {
            "<tr>"
        });
        for cell in &row.cells {
            let class = if cell.is_numeric() {
                " class=\"num\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", html_escape(&cell.display_text()));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cell, Row};

    #[test]
    fn escapes_markup() {
        assert_eq!(html_escape("plain"), "plain");
        assert_eq!(
            html_escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
    }

    #[test]
    fn table_has_escaped_cells_and_classes() {
        let mut t = Table::new("Leaderboard <top>", ["user", "score"]);
        t.push(Row::new(vec![Cell::text("<b>eve</b>"), Cell::Float(91.5)]).highlighted(true));
        t.push(Row::new(vec![Cell::text("bob"), Cell::Empty]));
        let html = render_html_table(&t);
        assert!(html.contains("<caption>Leaderboard &lt;top&gt;</caption>"));
        assert!(
            html.contains(
                "<tr class=\"gap\"><td>&lt;b&gt;eve&lt;/b&gt;</td><td class=\"num\">91.50</td></tr>"
            ),
            "{html}"
        );
        assert!(html.contains("<tr><td>bob</td><td></td></tr>"));
        assert!(!html.contains("<b>"));
    }
}
