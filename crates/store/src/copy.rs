//! Copying a whole store from one backend to another (SQLite to Postgres to move a history onto a
//! shared server, Postgres to SQLite for a backup), verified table by table.
//!
//! Both sides are first brought to this build's schema, so they have the same tables and columns.
//! The table list, column order, keys and dependency order come from the SQLite schema the
//! migrations build (the Postgres schema mirrors it column for column; `scripts/schema_compare.py`
//! checks that), so a new migration needs nothing here. Rows go in key order, in batches, with
//! `ON CONFLICT DO NOTHING`: a second copy inserts nothing, and an interrupted one picks up where it
//! stopped. Each table is then verified: row count and a SHA-256 over every row in key order, read
//! back from both sides.

use sha2::{Digest, Sha256};

use crate::db::{Db, Value};
use crate::{Store, StoreError};

/// Rows read and written per statement: well under both backends' parameter limits (SQLite
/// 32766, Postgres 65535) for the widest table.
const BATCH_PARAMS: usize = 8000;

/// One table's schema as the copy needs it.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub name: String,
    pub columns: Vec<String>,
    /// The primary key's columns (all columns when a table has none).
    pub key: Vec<String>,
}

/// What happened to one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableReport {
    pub table: String,
    /// Rows in the source.
    pub source_rows: u64,
    /// Rows this copy inserted (0 on a second run).
    pub inserted: u64,
    /// Rows in the target after the copy.
    pub target_rows: u64,
    pub source_sha256: String,
    pub target_sha256: String,
}

impl TableReport {
    /// True when the target holds exactly the source's rows.
    pub fn verified(&self) -> bool {
        self.source_rows == self.target_rows && self.source_sha256 == self.target_sha256
    }
}

/// Every table of the current schema, parents before children (foreign keys), with columns in
/// their declared order. Read from a fresh in-memory SQLite store built by the migrations.
pub fn tables() -> Result<Vec<TableSpec>, StoreError> {
    let mem = Store::open_in_memory()?;
    let conn = mem.conn();
    let names: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
               AND name NOT LIKE 'sqlite_%'
               AND name NOT LIKE 'search_fts%'
             ORDER BY name",
        )?;
        stmt.query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let mut specs = Vec::new();
    let mut deps: Vec<(String, Vec<String>)> = Vec::new();
    for name in &names {
        let mut stmt = conn.prepare(&format!(
            "SELECT name, pk FROM pragma_table_info('{name}') ORDER BY cid"
        ))?;
        let cols: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut key: Vec<(i64, String)> = cols
            .iter()
            .filter(|(_, pk)| *pk > 0)
            .map(|(c, pk)| (*pk, c.clone()))
            .collect();
        key.sort();
        let columns: Vec<String> = cols.into_iter().map(|(c, _)| c).collect();
        let key: Vec<String> = if key.is_empty() {
            columns.clone()
        } else {
            key.into_iter().map(|(_, c)| c).collect()
        };
        let mut stmt = conn.prepare(&format!(
            "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list('{name}')"
        ))?;
        let parents: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        deps.push((name.clone(), parents));
        specs.push(TableSpec {
            name: name.clone(),
            columns,
            key,
        });
    }
    // Parents first: repeatedly take the tables whose parents are all placed.
    let mut ordered = Vec::new();
    let mut placed = std::collections::HashSet::new();
    while ordered.len() < specs.len() {
        let before = ordered.len();
        for (spec, (_, parents)) in specs.iter().zip(&deps) {
            if !placed.contains(&spec.name)
                && parents
                    .iter()
                    .all(|p| placed.contains(p) || *p == spec.name)
            {
                placed.insert(spec.name.clone());
                ordered.push(spec.clone());
            }
        }
        if ordered.len() == before {
            // A cycle would be a schema bug; keep the rest in name order rather than loop.
            for spec in &specs {
                if placed.insert(spec.name.clone()) {
                    ordered.push(spec.clone());
                }
            }
        }
    }
    Ok(ordered)
}

fn quoted(cols: &[String]) -> String {
    cols.iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads `table` in key order, a page at a time, calling `f` with each page.
fn read_pages(
    db: &Db,
    t: &TableSpec,
    mut f: impl FnMut(Vec<Vec<Value>>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let cols = quoted(&t.columns);
    let key = quoted(&t.key);
    let page = (BATCH_PARAMS / t.columns.len().max(1)).max(1);
    let key_pos: Vec<usize> = t
        .key
        .iter()
        .map(|k| t.columns.iter().position(|c| c == k).unwrap_or(0))
        .collect();
    let mut last: Option<Vec<Value>> = None;
    loop {
        let rows: Vec<Vec<Value>> = match &last {
            None => db.query_all(
                &format!(
                    "SELECT {cols} FROM \"{}\" ORDER BY {key} LIMIT {page}",
                    t.name
                ),
                [],
                |r| (0..t.columns.len()).map(|i| r.get::<Value>(i)).collect(),
            )?,
            Some(after) => {
                // Keyset paging: (k1, k2) > (?1, ?2) works on both backends.
                let marks: Vec<String> = (1..=after.len()).map(|i| format!("?{i}")).collect();
                db.query_all(
                    &format!(
                        "SELECT {cols} FROM \"{}\" WHERE ({key}) > ({}) ORDER BY {key} LIMIT {page}",
                        t.name,
                        marks.join(", ")
                    ),
                    after,
                    |r| (0..t.columns.len()).map(|i| r.get::<Value>(i)).collect(),
                )?
            }
        };
        let n = rows.len();
        if let Some(row) = rows.last() {
            last = Some(key_pos.iter().map(|&i| row[i].clone()).collect());
        }
        if n > 0 {
            f(rows)?;
        }
        if n < page {
            return Ok(());
        }
    }
}

/// Row count and SHA-256 over every row in key order (type-tagged, length-prefixed values).
fn digest(db: &Db, t: &TableSpec) -> Result<(u64, String), StoreError> {
    let mut h = Sha256::new();
    let mut n = 0u64;
    read_pages(db, t, |rows| {
        for row in rows {
            n += 1;
            for v in row {
                match v {
                    Value::Null => h.update([0u8]),
                    Value::Int(i) => {
                        h.update([1u8]);
                        h.update(i.to_be_bytes());
                    }
                    Value::Real(f) => {
                        h.update([2u8]);
                        h.update(f.to_bits().to_be_bytes());
                    }
                    Value::Text(s) => {
                        h.update([3u8]);
                        h.update((s.len() as u64).to_be_bytes());
                        h.update(s.as_bytes());
                    }
                    Value::Blob(b) => {
                        h.update([4u8]);
                        h.update((b.len() as u64).to_be_bytes());
                        h.update(&b);
                    }
                }
            }
        }
        Ok(())
    })?;
    let hex = h
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok((n, hex))
}

/// Copies every table of `from` into `to` and verifies each; `progress` hears the table name and
/// the rows read so far. Returns one report per table (check [`TableReport::verified`]).
pub fn copy(
    from: &Store,
    to: &Store,
    mut progress: impl FnMut(&str, u64),
) -> Result<Vec<TableReport>, StoreError> {
    let specs = tables()?;
    let (src, dst) = (from.db(), to.db());
    let mut reports = Vec::new();
    for t in &specs {
        let cols = quoted(&t.columns);
        let mut inserted = 0u64;
        let mut read = 0u64;
        read_pages(src, t, |rows| {
            read += rows.len() as u64;
            let width = t.columns.len();
            let mut marks = Vec::with_capacity(rows.len());
            for r in 0..rows.len() {
                let row: Vec<String> = (1..=width).map(|c| format!("?{}", r * width + c)).collect();
                marks.push(format!("({})", row.join(", ")));
            }
            let params: Vec<Value> = rows.into_iter().flatten().collect();
            let sql = format!(
                "INSERT INTO \"{}\" ({cols}) VALUES {} ON CONFLICT DO NOTHING",
                t.name,
                marks.join(", ")
            );
            inserted += dst.transaction(|tx| tx.execute(&sql, &params))? as u64;
            progress(&t.name, read);
            Ok(())
        })?;
        let (source_rows, source_sha256) = digest(src, t)?;
        let (target_rows, target_sha256) = digest(dst, t)?;
        reports.push(TableReport {
            table: t.name.clone(),
            source_rows,
            inserted,
            target_rows,
            source_sha256,
            target_sha256,
        });
    }
    after_copy(dst)?;
    Ok(reports)
}

/// What each backend needs after rows arrive behind its back: Postgres' identity sequences move
/// past the copied ids (or the next insert would collide), SQLite's FTS5 index is rebuilt from
/// the copied messages.
fn after_copy(db: &Db) -> Result<(), StoreError> {
    if db.is_postgres() {
        let identities: Vec<(String, String)> = db.query_all(
            "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns
             WHERE table_schema = current_schema() AND is_identity = 'YES'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (table, column) in identities {
            db.query_row(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'),
                            coalesce((SELECT max(\"{column}\") FROM \"{table}\"), 0) + 1, false)"
                ),
                [],
                |_| Ok(()),
            )?;
        }
    } else {
        db.execute_batch("INSERT INTO search_fts (search_fts) VALUES ('rebuild')")?;
    }
    Ok(())
}
