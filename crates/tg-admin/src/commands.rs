//! The administration commands: login, find-user, remove-user, request-ownership, rename,
//! admin-status. Destructive ones build a plan first, show it, ask (or need --yes), then apply it
//! one operation at a time, logging each; rerunning after success is a no-op.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::Context as _;
use cli_support::{Outcome, UsageError};
use report::{Cell, Row, Table};
use serde_json::json;
use store::tg_ops::{NewTgOp, TgOpStatus};
use telegram::{ChatKind, LoginFlow, LoginStep, Role, TelegramApi, TelegramError, TgUser};

use crate::cli::{ChangeArgs, Cli, UsersArgs};
use crate::session::{GroupState, Session, telegram_error};

/// Tries a wrong code or password may take before the login gives up.
const LOGIN_TRIES: u32 = 3;

/// `tg-admin login`: the [`telegram::LoginFlow`] with the phone, code and password typed on the
/// terminal (the password without echo). Fixture accounts with a `login` section log in the same
/// way and write the same session file.
pub async fn login(cli: &Cli) -> anyhow::Result<Outcome> {
    if cli.common.demo {
        tracing::info!("the demo account (--demo) needs no login");
        return Ok(Outcome::Success);
    }
    let mut flow = LoginFlow::from_env().map_err(telegram_error)?;
    if let Some(me) = flow.authorised().await.map_err(telegram_error)? {
        eprintln!(
            "already logged in as {} ({}); session {}",
            roster::text::terminal_safe(&me.display_name()),
            roster::text::terminal_safe(&me.label()),
            flow.session_path().display()
        );
        return Ok(Outcome::Success);
    }
    // Refuse before asking Telegram to send a code nobody could type.
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(telegram_error(TelegramError::NoTerminal));
    }
    let mut step = flow.start(None).await.map_err(telegram_error)?;
    if step == LoginStep::NeedPhone {
        let phone = prompt_line("Phone number (international format, e.g. +44...): ")?;
        step = flow.start(Some(&phone)).await.map_err(telegram_error)?;
        if step == LoginStep::NeedPhone {
            return Err(UsageError::new("no phone number given")
                .with_hint("type the account's number, or set TELEGRAM_PHONE")
                .into());
        }
    }
    let mut tries = 0;
    let me = loop {
        step = match step {
            LoginStep::Done(me) => break me,
            LoginStep::NeedCode => {
                let code = prompt_line("Login code Telegram sent you: ")?;
                flow.submit_code(&code).await
            }
            LoginStep::NeedPassword { ref hint } => {
                let password = rpassword::prompt_password(format!(
                    "Two-step verification password (hint: {}): ",
                    hint.as_deref()
                        .map_or("none".into(), roster::text::terminal_safe)
                ))?;
                flow.submit_password(&password).await
            }
            other => anyhow::bail!("unexpected login step {other:?}"),
        }
        .or_else(|e| match e {
            TelegramError::BadCode | TelegramError::BadPassword if tries + 1 < LOGIN_TRIES => {
                tries += 1;
                eprintln!("{e}");
                Ok(flow.step().clone())
            }
            e => Err(telegram_error(e)),
        })?;
    };
    eprintln!(
        "logged in as {} ({}); session saved to {}",
        roster::text::terminal_safe(&me.display_name()),
        roster::text::terminal_safe(&me.label()),
        flow.session_path().display()
    );
    Ok(Outcome::Success)
}

fn prompt_line(prompt: &str) -> anyhow::Result<String> {
    let mut err = std::io::stderr();
    write!(err, "{prompt}")?;
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

fn role_of(group: &GroupState, user: i64) -> Option<Role> {
    group
        .participants
        .iter()
        .find(|p| p.user.id == user)
        .map(|p| p.role)
}

fn yes_no(b: bool) -> Cell {
    Cell::Bool(b)
}

fn unknown_users_rows(table: &mut Table, unknown: &[String], width: usize) {
    for q in unknown {
        let mut cells = vec![Cell::text(q.clone()), Cell::text("-")];
        cells.resize(width - 1, Cell::Empty);
        cells.push(Cell::text("not found: no such Telegram user"));
        table.push(Row::new(cells).highlighted(true));
    }
}

pub async fn find_user(s: &Session, users: &UsersArgs) -> anyhow::Result<Outcome> {
    let (found, unknown) = s.resolve_users(users).await?;
    let groups = s.snapshot(true).await?;
    let mut table = Table::new(
        "Memberships",
        [
            "user",
            "chat_id",
            "chat",
            "kind",
            "user_role",
            "our_role",
            "we_can_remove",
            "we_can_rename",
            "note",
        ],
    );
    unknown_users_rows(&mut table, &unknown, 9);
    for user in &found {
        let mut any = false;
        for g in &groups {
            let Some(role) = role_of(g, user.id) else {
                continue;
            };
            any = true;
            table.push(Row::new(vec![
                Cell::text(user.label()),
                Cell::Int(g.chat.id),
                Cell::text(g.chat.title.clone()),
                Cell::text(g.chat.kind.as_str()),
                Cell::text(role.as_str()),
                Cell::text(g.rights.role.as_str()),
                yes_no(g.rights.can_ban),
                yes_no(g.rights.can_change_info),
                Cell::Empty,
            ]));
        }
        if !any {
            table.push(Row::new(vec![
                Cell::text(user.label()),
                Cell::text("-"),
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::text("not a member of any of our groups"),
            ]));
        }
    }
    s.report("find-user", &table)?;
    Ok(if unknown.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// What a destructive command intends for one row of its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Apply,
    Skip,
    Blocked,
}

struct Step {
    chat_id: i64,
    chat: String,
    user: Option<TgUser>,
    user_role: Option<Role>,
    our_role: Option<Role>,
    new_title: Option<String>,
    action: Action,
    outcome: String,
}

/// Shows the plan on stderr and asks (or checks --yes). `Ok(false)` when the user declined.
fn confirm_plan(question: &str, change: ChangeArgs) -> anyhow::Result<bool> {
    Ok(cli_support::confirm(question, change.yes)?)
}

pub async fn remove_user(
    s: &Session,
    users: &UsersArgs,
    change: ChangeArgs,
) -> anyhow::Result<Outcome> {
    let (found, unknown) = s.resolve_users(users).await?;
    let me = s.api.me().await.map_err(telegram_error)?;
    let groups = s.snapshot(true).await?;
    let mut steps = Vec::new();
    for user in &found {
        let mut any = false;
        for g in &groups {
            let Some(role) = role_of(g, user.id) else {
                continue;
            };
            any = true;
            let r = g.rights;
            let (action, outcome) = if user.id == me.id {
                (Action::Skip, "skipped: that is our own account".to_owned())
            } else if role == Role::Creator {
                (
                    Action::Blocked,
                    "needs ownership transfer: the user is the creator".to_owned(),
                )
            } else if !r.can_ban {
                (
                    Action::Blocked,
                    format!(
                        "needs ownership/admin transfer: we are {} without the right to remove members",
                        r.role.as_str()
                    ),
                )
            } else if role == Role::Admin && r.role != Role::Creator {
                (
                    Action::Blocked,
                    "needs the creator: only they can remove another admin".to_owned(),
                )
            } else {
                (
                    Action::Apply,
                    if change.dry_run {
                        "would remove"
                    } else {
                        "to remove"
                    }
                    .to_owned(),
                )
            };
            steps.push(Step {
                chat_id: g.chat.id,
                chat: g.chat.title.clone(),
                user: Some(user.clone()),
                user_role: Some(role),
                our_role: Some(r.role),
                new_title: None,
                action,
                outcome,
            });
        }
        // Idempotent reruns: chats we removed this user from earlier are reported, not forgotten.
        for (chat_id, chat) in s.logged_done("remove-user", user.id, "removed") {
            let still_there = groups
                .iter()
                .any(|g| g.chat.id == chat_id && role_of(g, user.id).is_some());
            if !still_there {
                any = true;
                steps.push(Step {
                    chat_id,
                    chat,
                    user: Some(user.clone()),
                    user_role: None,
                    our_role: None,
                    new_title: None,
                    action: Action::Skip,
                    outcome: "skipped: not a member".into(),
                });
            }
        }
        if !any {
            steps.push(Step {
                chat_id: 0,
                chat: "-".into(),
                user: Some(user.clone()),
                user_role: None,
                our_role: None,
                new_title: None,
                action: Action::Skip,
                outcome: "skipped: not a member of any of our groups".into(),
            });
        }
    }
    let to_apply = steps.iter().filter(|st| st.action == Action::Apply).count();
    let mut failed = !unknown.is_empty();
    if to_apply > 0 && !change.dry_run {
        eprint!(
            "{}",
            report::render_text(&steps_table(&steps, &unknown, false), None)
        );
        if !confirm_plan(&format!("Remove {to_apply} membership(s)?"), change)? {
            eprintln!("nothing changed");
            return Ok(Outcome::Declined);
        }
        s.open_store()?;
        for st in steps.iter_mut().filter(|st| st.action == Action::Apply) {
            let Some(user) = st.user.clone() else {
                continue;
            };
            st.outcome = match s.api.remove_participant(st.chat_id, user.id).await {
                Ok(()) => "removed".into(),
                Err(TelegramError::NotParticipant { .. }) => "skipped: not a member".into(),
                Err(e) => {
                    failed = true;
                    tracing::error!("{e}");
                    format!("failed: {e}")
                }
            };
            s.log_op(
                json!({"command": "remove-user", "chat_id": st.chat_id, "chat": st.chat,
                "user_id": user.id, "user": user.label(), "outcome": st.outcome}),
            )?;
            record_step(s, "remove-user", st)?;
        }
    } else {
        for st in &steps {
            if let Some(user) = &st.user {
                s.log_op(json!({"command": "remove-user", "dry_run": change.dry_run, "chat_id": st.chat_id,
                    "chat": st.chat, "user_id": user.id, "user": user.label(), "outcome": st.outcome}))?;
            }
        }
    }
    s.report("remove-user", &steps_table(&steps, &unknown, false))?;
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// Records a change that was attempted in the store. The outcome text says how it ended:
/// "removed"/"renamed", "skipped: why" or "failed: error".
fn record_step(s: &Session, operation: &str, st: &Step) -> anyhow::Result<()> {
    let (status, error) = if let Some(why) = st.outcome.strip_prefix("failed: ") {
        (TgOpStatus::Failed, Some(why))
    } else if let Some(why) = st.outcome.strip_prefix("skipped: ") {
        (TgOpStatus::Skipped, Some(why))
    } else {
        (TgOpStatus::Done, None)
    };
    let user = st.user.as_ref().map(TgUser::label);
    s.record_op(&NewTgOp {
        operation,
        chat_id: st.chat_id,
        chat_title: &st.chat,
        target_user: user.as_deref(),
        target_user_id: st.user.as_ref().map(|u| u.id),
        new_title: st.new_title.as_deref(),
        status,
        error,
    })
}

fn steps_table(steps: &[Step], unknown: &[String], rename: bool) -> Table {
    let mut table = if rename {
        Table::new(
            "Rename",
            ["chat_id", "chat", "new_title", "our_role", "outcome"],
        )
    } else {
        Table::new(
            "Removals",
            [
                "user",
                "chat_id",
                "chat",
                "user_role",
                "our_role",
                "outcome",
            ],
        )
    };
    if !rename {
        unknown_users_rows(&mut table, unknown, 6);
    }
    for st in steps {
        let role = |r: Option<Role>| r.map_or(Cell::Empty, |r| Cell::text(r.as_str()));
        let chat_id = if st.chat_id == 0 {
            Cell::Empty
        } else {
            Cell::Int(st.chat_id)
        };
        let highlight = st.action == Action::Blocked
            || st.outcome.starts_with("failed")
            || st.outcome.starts_with("not found");
        let cells = if rename {
            vec![
                chat_id,
                Cell::text(st.chat.clone()),
                st.new_title.clone().map_or(Cell::Empty, Cell::Text),
                role(st.our_role),
                Cell::text(st.outcome.clone()),
            ]
        } else {
            vec![
                st.user
                    .as_ref()
                    .map_or(Cell::Empty, |u| Cell::text(u.label())),
                chat_id,
                Cell::text(st.chat.clone()),
                role(st.user_role),
                role(st.our_role),
                Cell::text(st.outcome.clone()),
            ]
        };
        table.push(Row::new(cells).highlighted(highlight));
    }
    table
}

pub async fn request_ownership(s: &Session, users: &UsersArgs) -> anyhow::Result<Outcome> {
    let (found, unknown) = s.resolve_users(users).await?;
    let me = s.api.me().await.map_err(telegram_error)?;
    let groups = s.snapshot(true).await?;
    let mut table = Table::new(
        "Requests",
        [
            "user",
            "chat_id",
            "chat",
            "user_role",
            "our_role",
            "message",
        ],
    );
    unknown_users_rows(&mut table, &unknown, 6);
    let mut text = String::new();
    s.open_store()?;
    for user in &found {
        for g in &groups {
            let Some(role) = role_of(g, user.id) else {
                continue;
            };
            let ours_ok = g.rights.can_ban && g.rights.can_change_info;
            if !matches!(role, Role::Creator | Role::Admin) || ours_ok || user.id == me.id {
                continue;
            }
            // A text file people read and paste from: no control characters from the title.
            let title = roster::text::terminal_safe(&g.chat.title);
            let message = ownership_message(user, role, &me, &title);
            let _ = writeln!(
                text,
                "=== To {} in \"{title}\" (chat {})\n{message}\n",
                roster::text::terminal_safe(&user.label()),
                g.chat.id
            );
            table.push(Row::new(vec![
                Cell::text(user.label()),
                Cell::Int(g.chat.id),
                Cell::text(g.chat.title.clone()),
                Cell::text(role.as_str()),
                Cell::text(g.rights.role.as_str()),
                Cell::text(message),
            ]));
            s.record_op(&NewTgOp {
                operation: "request-ownership",
                chat_id: g.chat.id,
                chat_title: &g.chat.title,
                target_user: Some(&user.label()),
                target_user_id: Some(user.id),
                new_title: None,
                status: TgOpStatus::Written,
                error: None,
            })?;
        }
    }
    let path = s.output_path("ownership-requests", "txt");
    private_files::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(
        "{} request(s) written to {}",
        table.rows.len() - unknown.len(),
        path.display()
    );
    s.report("request-ownership", &table)?;
    Ok(if unknown.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// A ready-to-send request: creators are asked to transfer ownership, admins to grant us rights.
fn ownership_message(to: &TgUser, their_role: Role, me: &TgUser, title: &str) -> String {
    let greeting = to.first_name.clone().unwrap_or_else(|| to.label());
    let us = me.label();
    let ask = if their_role == Role::Creator {
        format!(
            "could you transfer ownership of \"{title}\" to {us}? (Group info → Edit → Administrators → {us} → Transfer Group Ownership.) \
             If you prefer to keep it, please make {us} an admin with the rights to remove members and change group info."
        )
    } else {
        format!(
            "could you make {us} an admin of \"{title}\" with the rights to remove members and change group info?"
        )
    };
    format!(
        "Hi {greeting}, we are moving administration of our customer groups to {us}: {ask} Thank you!"
    )
}

pub async fn rename(
    s: &Session,
    find: Option<&str>,
    replace: Option<&str>,
    mapping: Option<&Path>,
    change: ChangeArgs,
) -> anyhow::Result<Outcome> {
    let groups = s.snapshot(false).await?;
    let mut targets: Vec<(Option<&GroupState>, String, String)> = Vec::new(); // (group, key, new title)
    match (find, replace, mapping) {
        (Some(find), Some(replace), None) => {
            if find.is_empty() {
                return Err(UsageError::new("--find must not be empty").into());
            }
            for g in &groups {
                if let Some(new) = replace_ci(&g.chat.title, find, replace) {
                    targets.push((Some(g), g.chat.title.clone(), new));
                }
            }
        }
        (None, None, Some(path)) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                UsageError::new(format!("cannot read --mapping {}: {e}", path.display()))
            })?;
            let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
                .map_err(|e| {
                    UsageError::new(format!("--mapping {}: {e}", path.display())).with_hint(
                        r#"the file is a JSON object: {"old title or chat id": "new title"}"#,
                    )
                })?;
            for (key, value) in map {
                let Some(new) = value.as_str() else {
                    return Err(UsageError::new(format!(
                        "--mapping {}: the new title for {key:?} is not a string",
                        path.display()
                    ))
                    .into());
                };
                targets.push((find_chat(&groups, &key), key, new.to_owned()));
            }
        }
        _ => {
            return Err(
                UsageError::new("pass --find with --replace, or --mapping FILE.json").into(),
            );
        }
    }
    let mut failed = false;
    let mut steps: Vec<Step> = targets
        .into_iter()
        .map(|(g, key, new)| {
            let Some(g) = g else {
                failed = true;
                return Step {
                    chat_id: 0,
                    chat: key,
                    user: None,
                    user_role: None,
                    our_role: None,
                    new_title: Some(new),
                    action: Action::Blocked,
                    outcome: "not found: no chat with that id or title".into(),
                };
            };
            let (action, outcome) = if g.chat.title == new {
                (Action::Skip, "skipped: already named so".to_owned())
            } else if !g.rights.can_change_info {
                (
                    Action::Blocked,
                    format!(
                        "no right: we are {} without the right to change group info",
                        g.rights.role.as_str()
                    ),
                )
            } else {
                (
                    Action::Apply,
                    if change.dry_run {
                        "would rename"
                    } else {
                        "to rename"
                    }
                    .to_owned(),
                )
            };
            Step {
                chat_id: g.chat.id,
                chat: g.chat.title.clone(),
                user: None,
                user_role: None,
                our_role: Some(g.rights.role),
                new_title: Some(new),
                action,
                outcome,
            }
        })
        .collect();
    let to_apply = steps.iter().filter(|st| st.action == Action::Apply).count();
    if to_apply > 0 && !change.dry_run {
        eprint!(
            "{}",
            report::render_text(&steps_table(&steps, &[], true), None)
        );
        if !confirm_plan(&format!("Rename {to_apply} group(s)?"), change)? {
            eprintln!("nothing changed");
            return Ok(Outcome::Declined);
        }
        s.open_store()?;
    }
    for st in &mut steps {
        if st.action == Action::Apply && !change.dry_run {
            let new = st.new_title.clone().unwrap_or_default();
            st.outcome = match s.api.rename_chat(st.chat_id, &new).await {
                Ok(()) => "renamed".into(),
                Err(e) => {
                    failed = true;
                    tracing::error!("{e}");
                    format!("failed: {e}")
                }
            };
            record_step(s, "rename", st)?;
        }
        s.log_op(json!({"command": "rename", "dry_run": change.dry_run, "chat_id": st.chat_id, "chat": st.chat,
            "new_title": st.new_title, "outcome": st.outcome}))?;
    }
    s.report("rename", &steps_table(&steps, &[], true))?;
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// `title` with every case-insensitive occurrence of `find` replaced; `None` when there is none.
/// The roster's matcher maps matches back to `title`'s own byte positions, so titles whose
/// lower-case form has other lengths (`İ`, `ẞ`) are renamed correctly instead of panicking.
fn replace_ci(title: &str, find: &str, replace: &str) -> Option<String> {
    roster::text::contains_ci(title, find).then(|| roster::text::replace_ci(title, find, replace))
}

/// A chat by id or exact title (then case-insensitive title).
pub fn find_chat<'a>(groups: &'a [GroupState], key: &str) -> Option<&'a GroupState> {
    let key = key.trim();
    if let Ok(id) = key.parse::<i64>() {
        return groups.iter().find(|g| g.chat.id == id);
    }
    groups.iter().find(|g| g.chat.title == key).or_else(|| {
        groups
            .iter()
            .find(|g| g.chat.title.eq_ignore_ascii_case(key))
    })
}

pub async fn admin_status(s: &Session) -> anyhow::Result<Outcome> {
    let groups = s.snapshot(true).await?;
    let mut table = Table::new(
        "Admin status",
        [
            "chat_id",
            "chat",
            "kind",
            "our_role",
            "can_remove",
            "can_rename",
            "members",
        ],
    );
    for g in &groups {
        let r = g.rights;
        table.push(
            Row::new(vec![
                Cell::Int(g.chat.id),
                Cell::text(g.chat.title.clone()),
                Cell::text(g.chat.kind.as_str()),
                Cell::text(r.role.as_str()),
                yes_no(r.can_ban),
                yes_no(r.can_change_info),
                Cell::Int(i64::try_from(g.participants.len()).unwrap_or(i64::MAX)),
            ])
            .highlighted(g.chat.kind != ChatKind::Channel && !(r.can_ban && r.can_change_info)),
        );
    }
    s.report("admin-status", &table)?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_ci_replaces_every_occurrence_keeping_the_rest() {
        assert_eq!(
            replace_ci("iBTC <> Acme (IBTC)", "ibtc", "cBTC").as_deref(),
            Some("cBTC <> Acme (cBTC)")
        );
        assert_eq!(replace_ci("Acme", "ibtc", "cBTC"), None);
        assert_eq!(replace_ci("ibtc", "ibtc", "x").as_deref(), Some("x"));
        // Lower-casing `İ` adds a byte and `ẞ` loses one: positions must come from the title.
        assert_eq!(replace_ci("İxẞ", "X", "y").as_deref(), Some("İyẞ"));
    }
}
