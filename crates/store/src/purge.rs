//! Erasing one person from every table that holds them (insight-sync `purge-user`): the insight
//! tables, slack-export's message spool, the search index and add-members' invite log. The audit history is not
//! touched: it holds team.json handles, which the operator writes and removes there.
//!
//! Audited against the migrations: `meta`, `workspaces`, `export_channels` and
//! `export_threads` hold nobody; `notifications` (migration 13) keeps rendered texts that may name
//! the person (members_added), rewritten here; `audit_runs` / `audit_findings` hold team.json handles;
//! `invite_runs.handles` (as typed), `invite_ops.users` / `user_errors` (IDs), `export_messages`,
//! `slack_users_cache`, `search_messages` (sender, and `mentions` for the names in its text; the
//! code keeps `search_fts` in step) and every `insight_*` table hold people and are covered here.

use crate::db::{Backend, Db, DbError, params};
use crate::insight::{Redact, RemovedRows, purge_user_rows};
use crate::{Store, StoreError};

/// How to rewrite what mentions the person: plain message text, and JSON documents (a spooled
/// message, an invite's user list). Each returns `Some(new)` only when something changed.
pub struct PersonScrub<'a> {
    pub text: Redact<'a>,
    pub json: Redact<'a>,
    /// How people may have typed them (ID, username, email): dropped from the handle lists
    /// add-members recorded, compared without case or a leading `@`.
    pub handles: &'a [String],
}

impl Store {
    /// Removes `user_id` everywhere in one transaction and returns rows touched per table. With
    /// `dry_run` the transaction is rolled back: the same counts, nothing changed.
    pub fn purge_person(
        &mut self,
        user_id: &str,
        scrub: &PersonScrub<'_>,
        dry_run: bool,
    ) -> Result<RemovedRows, StoreError> {
        // A dry run ends as an "error" so the transaction rolls back, carrying the counts out.
        enum End {
            DryRun(RemovedRows),
            Failed(StoreError),
        }
        impl From<DbError> for End {
            fn from(e: DbError) -> Self {
                End::Failed(e.into())
            }
        }
        impl From<StoreError> for End {
            fn from(e: StoreError) -> Self {
                End::Failed(e)
            }
        }
        let ended = self.conn.transaction(|tx| -> Result<RemovedRows, End> {
            let removed = purge_in(tx, user_id, scrub)?;
            if dry_run {
                return Err(End::DryRun(removed));
            }
            Ok(removed)
        });
        match ended {
            Ok(removed) | Err(End::DryRun(removed)) => Ok(removed),
            Err(End::Failed(e)) => Err(e),
        }
    }
}

/// Every table's part of [`Store::purge_person`], inside its transaction.
fn purge_in(tx: &Db, user_id: &str, scrub: &PersonScrub<'_>) -> Result<RemovedRows, StoreError> {
    // `instr` is `strpos` in Postgres; `user` is a reserved word there, so it is quoted.
    let contains = |column: &str| match tx.backend() {
        Backend::Sqlite => format!("instr({column}, ?1) > 0"),
        Backend::Postgres => format!("strpos({column}, ?1) > 0"),
    };
    let mut removed = purge_user_rows(tx, user_id, scrub.text)?;
    removed.push((
        "export_messages",
        tx.execute("DELETE FROM export_messages WHERE \"user\" = ?1", [user_id])?,
    ));
    removed.push((
        "slack_users_cache",
        tx.execute(
            "DELETE FROM slack_users_cache WHERE user_id = ?1",
            [user_id],
        )?,
    ));
    removed.push((
        "export_messages.raw (rewritten)",
        rewrite_json(
            tx,
            &format!(
                "SELECT channel, ts_key, raw FROM export_messages WHERE {}",
                contains("raw")
            ),
            "UPDATE export_messages SET raw = ?3 WHERE channel = ?1 AND ts_key = ?2",
            user_id,
            scrub.json,
        )?,
    ));
    let mut invites = 0;
    for column in ["users", "user_errors"] {
        invites += rewrite_json(
            tx,
            &format!(
                "SELECT id, 0, {column} FROM invite_ops WHERE {}",
                contains(column)
            ),
            &format!("UPDATE invite_ops SET {column} = ?3 WHERE id = ?1 AND 0 = ?2"),
            user_id,
            scrub.json,
        )?;
    }
    removed.push(("invite_ops (rewritten)", invites));
    removed.push((
        "invite_runs.handles (rewritten)",
        drop_handles(tx, scrub.handles)?,
    ));
    let (deleted, rewritten) = crate::search::purge_person(tx, user_id)?;
    removed.push(("search_messages", deleted));
    removed.push(("search_messages.text (rewritten)", rewritten));
    removed.push((
        "notifications (rewritten)",
        redact_notifications(tx, user_id, scrub.handles)?,
    ));
    Ok(removed)
}

fn normalize(handle: &str) -> String {
    let h = handle.trim();
    h.strip_prefix('@').unwrap_or(h).trim().to_lowercase()
}

/// Replaces the person (their ID and how they were typed) in the rendered text and blocks of
/// notifications (members_added names who was added) with `(removed)`; returns rows changed.
/// Matched without ASCII case, so over-redaction is possible, never a leftover.
fn redact_notifications(tx: &Db, user_id: &str, handles: &[String]) -> Result<usize, StoreError> {
    let mut needles: Vec<String> = handles
        .iter()
        .map(|h| normalize(h))
        .chain(std::iter::once(user_id.to_ascii_lowercase()))
        .filter(|h| !h.is_empty())
        .collect();
    needles.sort();
    needles.dedup();
    let rows: Vec<(i64, Option<String>, Option<String>)> = tx.query_all(
        "SELECT id, text, blocks FROM notifications WHERE text IS NOT NULL",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let redact = |s: &str| -> String {
        let mut out = s.to_string();
        for n in &needles {
            // Searched after each replacement, so a needle inside "(removed)" cannot loop.
            let mut from = 0;
            while let Some(at) = out[from..].to_ascii_lowercase().find(n.as_str()) {
                let at = from + at;
                out.replace_range(at..at + n.len(), "(removed)");
                from = at + "(removed)".len();
            }
        }
        out
    };
    let mut changed = 0;
    for (id, text, blocks) in rows {
        let new_text = text.as_deref().map(redact);
        let new_blocks = blocks.as_deref().map(redact);
        if new_text != text || new_blocks != blocks {
            changed += tx.execute(
                "UPDATE notifications SET text = ?2, blocks = ?3 WHERE id = ?1",
                params![id, new_text, new_blocks],
            )?;
        }
    }
    Ok(changed)
}

/// Removes `handles` from every invite run's list of what was asked for; returns runs changed.
fn drop_handles(tx: &Db, handles: &[String]) -> Result<usize, StoreError> {
    let gone: Vec<String> = handles.iter().map(|h| normalize(h)).collect();
    let runs: Vec<(i64, String)> = tx.query_all(
        "SELECT id, handles FROM invite_runs WHERE handles != '[]'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut changed = 0;
    for (id, doc) in runs {
        let Ok(list) = serde_json::from_str::<Vec<String>>(&doc) else {
            continue;
        };
        let kept: Vec<&String> = list
            .iter()
            .filter(|h| !gone.contains(&normalize(h)))
            .collect();
        if kept.len() != list.len() {
            changed += tx.execute(
                "UPDATE invite_runs SET handles = ?2 WHERE id = ?1",
                params![id, serde_json::to_string(&kept)?],
            )?;
        }
    }
    Ok(changed)
}

/// Rewrites the JSON column `select` finds (as `(key1, key2, json)` rows) through `scrub`;
/// returns rows changed.
fn rewrite_json(
    tx: &Db,
    select: &str,
    update: &str,
    user_id: &str,
    scrub: Redact<'_>,
) -> Result<usize, StoreError> {
    let rows: Vec<(i64, i64, String)> =
        tx.query_all(select, [user_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let mut changed = 0;
    for (a, b, doc) in rows {
        if let Some(new) = scrub(&doc) {
            changed += tx.execute(update, params![a, b, new])?;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::SpoolMessage;

    #[test]
    fn dry_run_counts_what_the_purge_then_removes_and_changes_nothing() {
        crate::test_db::on_both(dry_run_counts_on);
    }

    fn dry_run_counts_on(store: &mut Store) {
        let ch = store
            .export_channel("/x", "C1", "general", false)
            .expect("channel")
            .id;
        let msg = |ts_key, user, raw| SpoolMessage {
            ts_key,
            thread_key: ts_key,
            ts: "1.0",
            user: Some(user),
            raw,
            replace: false,
        };
        store
            .export_put_messages(
                ch,
                &[
                    msg(1, "U9", r#"{"user":"U9"}"#),
                    msg(2, "U1", r#"{"user":"U1","text":"hi <@U9>"}"#),
                ],
            )
            .expect("spool");
        let text = |t: &str| Some(t.replace("<@U9>", "<@redacted>")).filter(|r| r != t);
        let handles = ["U9".to_string()];
        let scrub = PersonScrub {
            text: &text,
            json: &text,
            handles: &handles,
        };
        let count = |store: &Store| -> i64 {
            store
                .db()
                .query_row(
                    "SELECT count(*) FROM export_messages WHERE raw LIKE '%U9%'",
                    [],
                    |r| r.get(0),
                )
                .expect("count")
        };
        let plan = store.purge_person("U9", &scrub, true).expect("dry run");
        assert_eq!(count(store), 2, "a dry run changes nothing");
        let done = store.purge_person("U9", &scrub, false).expect("purge");
        assert_eq!(plan, done);
        assert!(done.contains(&("export_messages", 1)), "{done:?}");
        assert!(
            done.contains(&("export_messages.raw (rewritten)", 1)),
            "{done:?}"
        );
        assert_eq!(count(store), 0);
    }

    #[test]
    fn purge_removes_the_person_from_the_search_index() {
        crate::test_db::on_both(purge_from_search_on);
    }

    fn purge_from_search_on(store: &mut Store) {
        let mut theirs = crate::search::SearchDoc {
            source: "slack".into(),
            conversation_id: "C1".into(),
            conversation_name: "general".into(),
            msg_id: "1.0".into(),
            time_us: 1_000_000,
            sender_id: Some("U9".into()),
            sender_name: "Zed Secret".into(),
            text: "my quarterly numbers".into(),
            mentions: Vec::new(),
        };
        let mut mentioning = theirs.clone();
        mentioning.msg_id = "2.0".into();
        mentioning.time_us = 2_000_000;
        mentioning.sender_id = Some("U1".into());
        mentioning.sender_name = "Ann".into();
        mentioning.text = "ask @Zed Secret about quarterly numbers".into();
        mentioning.mentions = vec![("U9".into(), "Zed Secret".into())];
        theirs.text.push_str(" (Zed Secret)");
        store
            .search_index_messages(&[theirs, mentioning])
            .expect("index");
        let find = |store: &Store, q: &str| {
            store
                .search(&crate::search::SearchQuery {
                    query: q.into(),
                    limit: 10,
                    ..Default::default()
                })
                .expect("search")
        };
        assert_eq!(find(store, "zed").len(), 2);
        let none = |_: &str| None;
        let scrub = PersonScrub {
            text: &none,
            json: &none,
            handles: &[],
        };
        let done = store.purge_person("U9", &scrub, false).expect("purge");
        assert!(done.contains(&("search_messages", 1)), "{done:?}");
        assert!(
            done.contains(&("search_messages.text (rewritten)", 1)),
            "{done:?}"
        );
        assert!(
            find(store, "zed").is_empty(),
            "neither the name nor the sender is found"
        );
        let left = find(store, "quarterly");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].text, "ask @(removed) about quarterly numbers");
        let stored: i64 = store
            .db()
            .query_row(
                "SELECT count(*) FROM search_messages WHERE mentions LIKE '%U9%'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(stored, 0);
        crate::search::tests::integrity(store);
    }

    #[test]
    fn notification_texts_lose_the_person() {
        crate::test_db::on_both(|store| {
            let id = store
                .notification_log(&crate::notifications::NewNotification {
                    event: "members_added",
                    channel: "C1",
                    text: "Members added\nAdded 2 in acme: Frank, u9",
                    blocks: r#"[{"text":"frank, U9"}]"#,
                    template: "template",
                    priority: "normal",
                    run_id: None,
                })
                .expect("log");
            let keep = |_: &str| None;
            let handles = ["@frank".to_string()];
            let scrub = PersonScrub {
                text: &keep,
                json: &keep,
                handles: &handles,
            };
            let done = store.purge_person("U9", &scrub, false).expect("purge");
            assert!(done.contains(&("notifications (rewritten)", 1)), "{done:?}");
            let e = store.notification_entry(id).expect("read").expect("row");
            assert_eq!(
                e.text.as_deref(),
                Some("Members added\nAdded 2 in acme: (removed), (removed)")
            );
            assert_eq!(
                e.blocks.as_deref(),
                Some(r#"[{"text":"(removed), (removed)"}]"#)
            );
        });
    }

    /// One row per table the purge reaches, written with plain SQL so the same test runs on
    /// both backends; then a dry run (counts, nothing changed) and the purge.
    #[test]
    fn the_purge_reaches_every_table_on_both_backends() {
        crate::test_db::on_both(|store| {
            let db = store.db();
            let channel: i64 = db
                .query_row(
                    "INSERT INTO export_channels (export_key, channel_id, channel_name, updated_at)
                     VALUES ('/x', 'C1', 'general', '2026-03-01T00:00:00.000Z') RETURNING id",
                    [],
                    |r| r.get(0),
                )
                .expect("channel");
            for (ts_key, user, raw) in [
                (1, "U9", r#"{"user":"U9","text":"mine"}"#),
                (2, "U1", r#"{"user":"U1","text":"hi <@U9>"}"#),
            ] {
                db.execute(
                    "INSERT INTO export_messages (channel, ts_key, thread_key, ts, \"user\", raw)
                     VALUES (?1, ?2, ?2, '1.0', ?3, ?4)",
                    params![channel, ts_key, user, raw],
                )
                .expect("message");
            }
            db.execute(
                "INSERT INTO slack_users_cache (user_id, found, fetched_at)
                 VALUES ('U9', 0, '2026-03-01T00:00:00.000Z')",
                [],
            )
            .expect("cache");
            db.execute(
                "INSERT INTO insight_users (user_id, name, display_name) VALUES ('U9', 'zed', 'Zed')",
                [],
            )
            .expect("insight user");
            let run = store
                .invite_run_start(&crate::invites::NewInviteRun {
                    started_at: jiff::Timestamp::now(),
                    handles: vec!["@Zed".into(), "frank".into()],
                    from_audit_run: None,
                    channels_planned: 1,
                    log_file: None,
                })
                .expect("invite run");
            store
                .invite_op_insert(
                    run,
                    &crate::invites::NewInviteOp {
                        at: jiff::Timestamp::now(),
                        channel_id: "C1".into(),
                        channel_name: "general".into(),
                        users: vec!["U9".into(), "U1".into()],
                        result: "added".into(),
                        error: None,
                        user_errors: Vec::new(),
                    },
                )
                .expect("invite op");
            for (id, sender, text, mentions) in [
                (1024, "U9", "my numbers", "[]"),
                (2048, "U1", "ask @Zed about numbers", r#"[["U9","Zed"]]"#),
            ] {
                db.execute(
                    "INSERT INTO search_messages (id, source, conversation_id, conversation_name,
                         msg_id, sender_id, sender_name, text, mentions)
                     VALUES (?1, 'slack', 'C1', 'general', ?2, ?3, 'Someone', ?4, ?5)",
                    params![id, id.to_string(), sender, text, mentions],
                )
                .expect("search row");
                if !db.is_postgres() {
                    db.execute(
                        "INSERT INTO search_fts (rowid, text) VALUES (?1, ?2)",
                        params![id, text],
                    )
                    .expect("fts row");
                }
            }
            let note = store
                .notification_log(&crate::notifications::NewNotification {
                    event: "members_added",
                    channel: "C1",
                    text: "Added zed",
                    blocks: "[]",
                    template: "builtin",
                    priority: "normal",
                    run_id: None,
                })
                .expect("notification");

            let json = |t: &str| Some(t.replace("U9", "(removed)")).filter(|r| r != t);
            let handles = ["zed".to_string()];
            let scrub = PersonScrub {
                text: &json,
                json: &json,
                handles: &handles,
            };
            let holding = |store: &Store| -> i64 {
                let contains = |col: &str| {
                    if store.db().is_postgres() {
                        format!("strpos({col}, 'U9') > 0")
                    } else {
                        format!("instr({col}, 'U9') > 0")
                    }
                };
                let sql = format!(
                    "SELECT (SELECT count(*) FROM export_messages WHERE {})
                          + (SELECT count(*) FROM slack_users_cache)
                          + (SELECT count(*) FROM insight_users)
                          + (SELECT count(*) FROM invite_ops WHERE {})
                          + (SELECT count(*) FROM search_messages WHERE {})",
                    contains("raw"),
                    contains("users"),
                    contains("mentions")
                );
                store.db().query_row(&sql, [], |r| r.get(0)).expect("count")
            };
            assert_eq!(holding(store), 6);
            let plan = store.purge_person("U9", &scrub, true).expect("dry run");
            assert_eq!(holding(store), 6, "a dry run changes nothing");
            let done = store.purge_person("U9", &scrub, false).expect("purge");
            assert_eq!(plan, done);
            for expected in [
                ("export_messages", 1),
                ("export_messages.raw (rewritten)", 1),
                ("slack_users_cache", 1),
                ("insight_users", 1),
                ("invite_ops (rewritten)", 1),
                ("invite_runs.handles (rewritten)", 1),
                ("search_messages", 1),
                ("search_messages.text (rewritten)", 1),
                ("notifications (rewritten)", 1),
            ] {
                assert!(done.contains(&expected), "{expected:?} in {done:?}");
            }
            assert_eq!(holding(store), 0);
            let kept = store.invite_run(run).expect("read").expect("run").handles;
            assert_eq!(kept, vec!["frank".to_string()]);
            let text: String = store
                .db()
                .query_row("SELECT text FROM search_messages", [], |r| r.get(0))
                .expect("the mentioning message stays");
            assert_eq!(text, "ask @(removed) about numbers");
            let note = store.notification_entry(note).expect("read").expect("row");
            assert_eq!(note.text.as_deref(), Some("Added (removed)"));
            if store.db().is_postgres() {
                // The generated tsv follows the rewritten text: the name is not found any more.
                let found: i64 = store
                    .db()
                    .query_row(
                        "SELECT count(*) FROM search_messages
                         WHERE tsv @@ to_tsquery('simple', 'zed')",
                        [],
                        |r| r.get(0),
                    )
                    .expect("tsv");
                assert_eq!(found, 0);
            } else {
                crate::search::tests::integrity(store);
            }
        });
    }
}
