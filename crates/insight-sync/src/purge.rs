//! `purge-user`: finds exactly one person and erases them everywhere the tools keep data (the
//! store's tables and the raw snapshots), after showing what goes and asking.
//!
//! Matching is exact: a user ID, an email or a username. The store's own user table is asked
//! first, so people gone from Slack can still be purged; an ID the table does not hold (someone
//! opted out before, still in the export spool or a snapshot) is taken as given. Emails are looked
//! up in Slack, because the store keeps none.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use cli_support::{Outcome, UsageError};
use serde_json::Value;
use slack_client::SlackClient;
use store::Store;
use store::purge::PersonScrub;

use crate::{snapshot, sync};

/// Who an input named.
enum Found {
    /// `handles`: how people may have typed them (ID, username, email when known).
    Person {
        id: String,
        label: String,
        handles: Vec<String>,
    },
    Nobody(String),
}

fn person(id: &str, name: &str, email: Option<&str>) -> Found {
    Found::Person {
        id: id.to_string(),
        label: name.to_string(),
        handles: [Some(id), Some(name), email]
            .into_iter()
            .flatten()
            .map(String::from)
            .collect(),
    }
}

pub(crate) async fn purge_user(
    db: &Path,
    out: &Path,
    input: &str,
    slack: impl FnOnce() -> anyhow::Result<SlackClient>,
    dry_run: bool,
    yes: bool,
) -> anyhow::Result<Outcome> {
    let _lock = sync::lock(db)?;
    let mut store = Store::open(db)?;
    let (id, label, handles) = match find(&store, input, slack).await? {
        Found::Person { id, label, handles } => (id, label, handles),
        Found::Nobody(why) => {
            eprintln!("insight-sync purge-user: {why}; nothing was removed");
            return Ok(Outcome::Failed);
        }
    };
    let ids: HashSet<String> = [id.clone()].into();
    let text = |t: &str| Some(sync::redact_mentions(t, &ids)).filter(|r| r != t);
    let json = |doc: &str| scrub_json(doc, &ids);
    let scrub = PersonScrub {
        text: &text,
        json: &json,
        handles: &handles,
    };
    // The plan is the purge itself, rolled back: the counts cannot drift from what it does.
    let plan = store.purge_person(&id, &scrub, true)?;
    // Text is kept in the rewrite: only the person goes, whatever store_text says now.
    let files = snapshot::purge_users(out, &ids, true, true)?;
    let rows: usize = plan.iter().map(|(_, n)| n).sum();
    if rows == 0 && files.is_empty() {
        eprintln!(
            "insight-sync purge-user: nothing is stored about {label} ({id}); nothing was removed"
        );
        return Ok(Outcome::Failed);
    }
    {
        let mut stdout = std::io::stdout().lock();
        for (table, n) in &plan {
            writeln!(stdout, "{table}\t{n}")?;
        }
        writeln!(stdout, "snapshot_files\t{}", files.len())?;
        for f in &files {
            writeln!(stdout, "snapshot_file\t{}", f.display())?;
        }
    }
    if dry_run {
        eprintln!(
            "insight-sync purge-user {id} ({label}): dry run, nothing was removed; \
             {rows} rows and {} snapshot files would be",
            files.len()
        );
        return Ok(Outcome::Success);
    }
    let question = format!(
        "Remove {label} ({id}): {rows} rows and {} snapshot files, as listed above?",
        files.len()
    );
    if !cli_support::confirm(&question, yes)? {
        eprintln!("insight-sync purge-user: declined; nothing was removed");
        return Ok(Outcome::Declined);
    }
    // Snapshots first: if this dies halfway, the rows still name the person for a rerun.
    let rewritten = snapshot::purge_users(out, &ids, true, false).map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "scrubbing snapshots under {}",
            snapshot::root(out).display()
        ))
    })?;
    let removed = store.purge_person(&id, &scrub, false)?;
    if !store.checkpoint_truncate()? {
        tracing::warn!(
            "a reader kept the database's write-ahead log from being emptied; the removed rows leave it at the next checkpoint"
        );
    }
    eprintln!(
        "insight-sync purge-user {id} ({label}): removed {} rows, rewrote {} snapshot files; \
         files exported or reports sent before are not reached (see docs/insight.md)",
        removed.iter().map(|(_, n)| n).sum::<usize>(),
        rewritten.len()
    );
    Ok(Outcome::Success)
}

/// A stored JSON document without the people in `ids` (`None`: nothing about them in it).
fn scrub_json(doc: &str, ids: &HashSet<String>) -> Option<String> {
    let mut v: Value = serde_json::from_str(doc).ok()?;
    let before = v.clone();
    if !snapshot::scrub(&mut v, ids, true) {
        v = Value::Object(serde_json::Map::new());
    }
    (v != before).then(|| v.to_string())
}

fn looks_like_email(s: &str) -> bool {
    s.split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

async fn find(
    store: &Store,
    input: &str,
    slack: impl FnOnce() -> anyhow::Result<SlackClient>,
) -> anyhow::Result<Found> {
    let ident = input.trim();
    let ident = ident.strip_prefix('@').unwrap_or(ident).trim();
    if ident.is_empty() {
        return Err(
            UsageError::new("purge-user needs a user ID, email or username")
                .with_hint("e.g. insight-sync purge-user U0123ABCD --dry-run")
                .into(),
        );
    }
    if looks_like_email(ident) {
        return find_email(ident, slack).await;
    }
    let users = |sql: &str, arg: &str| -> anyhow::Result<Vec<(String, String)>> {
        Ok(store
            .db()
            .query_all(sql, [arg], |r| Ok((r.get(0)?, r.get(1)?)))?)
    };
    if let Some((id, name)) = users(
        "SELECT user_id, name FROM insight_users WHERE user_id = upper(?1)",
        ident,
    )?
    .pop()
    {
        return Ok(person(&id, &name, None));
    }
    let by_name = users(
        "SELECT user_id, name FROM insight_users WHERE lower(name) = lower(?1) ORDER BY user_id",
        ident,
    )?;
    match by_name.as_slice() {
        [(id, name)] => return Ok(person(id, name, None)),
        [] => {}
        several => return Err(ambiguous(ident, "the username", several)),
    }
    if insight::is_user_id(ident) {
        return Ok(Found::Person {
            id: ident.to_string(),
            label: "not in the user table".into(),
            handles: vec![ident.to_string()],
        });
    }
    let by_display = users(
        "SELECT user_id, name FROM insight_users WHERE lower(display_name) = lower(?1)
         ORDER BY user_id",
        ident,
    )?;
    if !by_display.is_empty() {
        return Err(ambiguous(ident, "the display name", &by_display));
    }
    Ok(Found::Nobody(format!(
        "no stored user has the ID or username {ident:?}"
    )))
}

/// Refuses an input that does not name exactly one person, listing who it could mean.
fn ambiguous(ident: &str, what: &str, candidates: &[(String, String)]) -> anyhow::Error {
    let list: Vec<String> = candidates
        .iter()
        .map(|(id, name)| format!("{name} ({id})"))
        .collect();
    UsageError::new(format!(
        "{ident:?} is {what} of {} stored users: {}; purge-user removes exactly one person",
        candidates.len(),
        list.join(", ")
    ))
    .with_hint(
        "pass the user ID of the one you mean, e.g. insight-sync purge-user U0123ABCD --dry-run",
    )
    .into()
}

async fn find_email(
    email: &str,
    slack: impl FnOnce() -> anyhow::Result<SlackClient>,
) -> anyhow::Result<Found> {
    let lookup_hint = "pass the person's Slack user ID (U...) or username instead";
    let client = slack().map_err(|e| {
        UsageError::new(format!(
            "{email:?} is an email; the store keeps no email addresses, so it is looked up in Slack, \
             which is not usable: {e:#}"
        ))
        .with_hint(format!("{lookup_hint}, or set SLACK_TOKEN"))
    })?;
    let users = client.all_users().await.map_err(cli_support::slack_error)?;
    let hits: Vec<(String, String)> = users
        .iter()
        .filter(|u| {
            u.profile
                .email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
        })
        .map(|u| (u.id.clone(), u.name.clone()))
        .collect();
    match hits.as_slice() {
        [(id, name)] => Ok(person(id, name, Some(email))),
        [] if users.iter().all(|u| u.profile.email.is_none()) => Err(UsageError::new(format!(
            "cannot match the email {email:?}: Slack sent no email addresses"
        ))
        .with_hint(format!(
            "the token lacks the users:read.email scope; {lookup_hint}"
        ))
        .into()),
        [] => Ok(Found::Nobody(format!(
            "no Slack user has the email {email:?}"
        ))),
        several => Err(ambiguous(email, "the email", several)),
    }
}
