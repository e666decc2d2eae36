//! Request helpers every controller shares: cursor pagination, the output format (HTML, JSON or
//! CSV) and turning a table into CSV.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// Default and largest page size of a list.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// `?cursor=&limit=&format=` as every list accepts them. The cursor is opaque to clients; here it
/// is the id of the last row of the previous page (lists are newest first by id).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    pub format: Option<String>,
}

impl ListQuery {
    pub fn limit(&self) -> AppResult<usize> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(AppError::BadRequest(format!(
                "limit {n} is out of range: use 1 to {MAX_LIMIT}"
            ))),
        }
    }

    /// The id rows must be below, from the cursor.
    pub fn before(&self) -> AppResult<Option<i64>> {
        match self.cursor.as_deref() {
            None | Some("") => Ok(None),
            Some(c) => c.parse().map(Some).map_err(|_| {
                AppError::BadRequest(format!("cursor {c:?} is not one this server gave out"))
            }),
        }
    }

    pub fn wants_csv(&self) -> bool {
        self.format.as_deref() == Some("csv")
    }
}

/// One page of a list, as the API answers it.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` fetched rows (the extra one says whether there is more).
    pub fn from_rows(mut rows: Vec<T>, limit: usize, id: impl Fn(&T) -> i64) -> Page<T> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|r| id(r).to_string())
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// A table as a CSV download. Cells starting with a formula character get a leading `'`, so a
/// channel name cannot run a formula when the file is opened in a spreadsheet.
pub fn csv_response(filename: &str, header: &[&str], rows: Vec<Vec<String>>) -> Response {
    fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}").into()
        } else {
            s.into()
        }
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let written = w.write_record(header).and_then(|()| {
        rows.iter()
            .try_for_each(|row| w.write_record(row.iter().map(|c| neutralise(c).into_owned())))
    });
    let body = match written
        .map_err(|e| e.to_string())
        .and_then(|()| w.into_inner().map_err(|e| e.to_string()))
    {
        Ok(b) => b,
        Err(e) => return AppError::Internal(format!("writing CSV: {e}")).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn csv_quotes_and_neutralises_formulas() {
        let resp = csv_response(
            "t.csv",
            &["name", "n"],
            vec![vec!["=HYPERLINK(\"x\")".into(), "a,b".into()]],
        );
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        assert_eq!(
            String::from_utf8_lossy(&body),
            "name,n\r\n\"'=HYPERLINK(\"\"x\"\")\",\"a,b\"\r\n"
        );
    }

    #[test]
    fn page_cursor_points_at_last_item() {
        let p = Page::from_rows(vec![9, 8, 7], 2, |x| *x);
        assert_eq!(p.items, vec![9, 8]);
        assert_eq!(p.next_cursor.as_deref(), Some("8"));
        let last = Page::from_rows(vec![7], 2, |x| *x);
        assert_eq!(last.next_cursor, None);
    }
}
