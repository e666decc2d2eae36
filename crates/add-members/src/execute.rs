//! Carrying out a plan: one `conversations.invite` per channel, per-channel errors recorded and
//! passed over, fatal ones (missing scope, bad token) stopping the run, every operation written to
//! the JSON-lines log and SQLite as it happens, and Ctrl-C honoured between calls.
//!
//! Invites are sent without `force`, so a bad user fails the channel's call as a whole and the
//! channel is reported failed, as the issue asks. `already_in_channel` is different: someone joined
//! since the plan was made (or a retried call had gone through). Slack's `errors` list names who is
//! in already; those count as done and the rest are invited in a further call. When the list is
//! missing, the membership is read again instead. Each round removes at least one user, so this
//! ends.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use futures::{Stream, StreamExt};
use indicatif::ProgressBar;
use jiff::Timestamp;
use serde::Serialize;
use slack_client::{Error, SlackClient, UserError};
use store::Store;
use store::invites::{InviteRunStatus, InviteTotals, InviteUserError, NewInviteOp, NewInviteRun};

use crate::plan::ChannelPlan;
use crate::resolve::Invitee;
use crate::targets::Skipped;

/// The JSON-lines log every run appends to, under `--out`.
pub const LOG_FILE: &str = "add-members.jsonl";

/// What happened in one channel, per person (by label).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelResult {
    pub channel_id: String,
    pub channel_name: String,
    pub added: Vec<String>,
    /// Slack answered `already_in_channel`: counted as done.
    pub already_in: Vec<String>,
    pub skipped: Vec<Skipped>,
    /// (label, Slack error code)
    pub failed: Vec<(String, String)>,
    /// Planned but not sent because the run stopped first.
    pub not_attempted: Vec<String>,
}

impl ChannelResult {
    fn from_plan(plan: &ChannelPlan) -> Self {
        ChannelResult {
            channel_id: plan.channel_id.clone(),
            channel_name: plan.channel_name.clone(),
            skipped: plan.skipped.clone(),
            ..ChannelResult::default()
        }
    }
}

/// The whole run.
#[derive(Debug, Default)]
pub struct RunReport {
    pub channels: Vec<ChannelResult>,
    /// The fatal error that stopped the run, if one did.
    pub stopped_by: Option<Error>,
    /// Ctrl-C stopped the run after the call in flight.
    pub interrupted: bool,
    /// The SQLite run id, when anything was recorded.
    pub run_id: Option<i64>,
}

impl RunReport {
    pub fn totals(&self) -> InviteTotals {
        let mut t = InviteTotals::default();
        for c in &self.channels {
            t.added += c.added.len() as i64;
            t.already_in += c.already_in.len() as i64;
            t.skipped += c.skipped.len() as i64;
            t.failed += c.failed.len() as i64;
        }
        t
    }

    /// Whether everything planned was done.
    pub fn succeeded(&self) -> bool {
        self.stopped_by.is_none()
            && !self.interrupted
            && self
                .channels
                .iter()
                .all(|c| c.failed.is_empty() && c.not_attempted.is_empty())
    }
}

/// One line of the JSON-lines log.
#[derive(Serialize)]
struct LogLine<'a> {
    time: String,
    run: i64,
    channel: &'a str,
    channel_name: &'a str,
    users: &'a [String],
    result: &'a str,
    error: Option<&'a str>,
    user_errors: &'a [InviteUserError],
}

/// Where operations are recorded: the JSON-lines log (flushed per line) and SQLite. Created
/// lazily, on the first operation, so a run with nothing to do leaves no trace.
pub struct Recorder {
    out_dir: PathBuf,
    db_path: PathBuf,
    run: NewInviteRun,
    open: Option<(File, Store, i64)>,
}

impl Recorder {
    pub fn new(out_dir: &Path, db_path: &Path, run: NewInviteRun) -> Self {
        Recorder {
            out_dir: out_dir.to_path_buf(),
            db_path: db_path.to_path_buf(),
            run,
            open: None,
        }
    }

    /// The run id, once anything was recorded.
    pub fn run_id(&self) -> Option<i64> {
        self.open.as_ref().map(|(_, _, id)| *id)
    }

    fn ensure_open(&mut self) -> anyhow::Result<&mut (File, Store, i64)> {
        if self.open.is_none() {
            private_files::create_dir_all(&self.out_dir)
                .with_context(|| format!("creating {}", self.out_dir.display()))?;
            let path = self.out_dir.join(LOG_FILE);
            let file = private_files::open_append(&path)
                .with_context(|| format!("opening the log {}", path.display()))?;
            let store = Store::open(&self.db_path)?;
            self.run.log_file = Some(path.display().to_string());
            let id = store.invite_run_start(&self.run)?;
            self.open = Some((file, store, id));
        }
        self.open.as_mut().context("the operation log is not open")
    }

    /// Appends one operation: the log line is written and flushed before the SQLite row, so the
    /// file is the record of last resort.
    pub fn record(&mut self, op: &NewInviteOp) -> anyhow::Result<()> {
        let (file, store, run) = self.ensure_open()?;
        let line = LogLine {
            time: store::format_time(op.at),
            run: *run,
            channel: &op.channel_id,
            channel_name: &op.channel_name,
            users: &op.users,
            result: &op.result,
            error: op.error.as_deref(),
            user_errors: &op.user_errors,
        };
        let mut text = serde_json::to_string(&line)?;
        text.push('\n');
        file.write_all(text.as_bytes())
            .and_then(|()| file.flush())
            .context("writing the operation log")?;
        store.invite_op_insert(*run, op)?;
        Ok(())
    }

    /// Marks the run finished (if it was ever started).
    pub fn finish(&mut self, status: InviteRunStatus, totals: &InviteTotals) -> anyhow::Result<()> {
        if let Some((_, store, run)) = &self.open {
            store.invite_run_finish(*run, status, totals, Timestamp::now())?;
        }
        Ok(())
    }
}

/// A short code for any client error, for logs and summaries.
fn error_code(e: &Error) -> String {
    if let Some(code) = e.code() {
        return code.to_string();
    }
    match e {
        Error::Http { status, .. } => format!("http_{status}"),
        Error::Transport { .. } => "transport_error".into(),
        Error::Decode { .. } => "bad_answer".into(),
        _ => "error".into(),
    }
}

fn ids(users: &[Invitee]) -> Vec<String> {
    users.iter().map(|u| u.user_id.clone()).collect()
}

fn user_errors(errors: &[UserError]) -> Vec<InviteUserError> {
    errors
        .iter()
        .map(|e| InviteUserError {
            user: e.user.clone(),
            error: e.error.clone(),
        })
        .collect()
}

fn op(plan: &ChannelPlan, users: Vec<String>, result: &str, error: Option<String>) -> NewInviteOp {
    NewInviteOp {
        at: Timestamp::now(),
        channel_id: plan.channel_id.clone(),
        channel_name: plan.channel_name.clone(),
        users,
        result: result.to_string(),
        error,
        user_errors: Vec::new(),
    }
}

const ALREADY: &str = "already_in_channel";

/// Invites the plan's users into its channel. Returns the result, and the fatal error if one
/// stopped it (the caller then stops the run).
pub async fn invite_channel(
    client: &SlackClient,
    plan: &ChannelPlan,
    rec: &mut Recorder,
) -> anyhow::Result<(ChannelResult, Option<Error>)> {
    let mut result = ChannelResult::from_plan(plan);
    if let Some(code) = &plan.problem {
        rec.record(&op(plan, ids(&plan.to_add), "failed", Some(code.clone())))?;
        result.failed = plan
            .to_add
            .iter()
            .map(|u| (u.label.clone(), code.clone()))
            .collect();
        return Ok((result, None));
    }
    let mut pending: Vec<Invitee> = plan.to_add.clone();
    while !pending.is_empty() {
        let sent = ids(&pending);
        match client
            .conversations_invite(&plan.channel_id, &sent, false)
            .await
        {
            Ok(outcome) => {
                // Per-user errors on an ok answer are undocumented but possible: honour them.
                let mut line = op(plan, sent, "added", None);
                line.user_errors = user_errors(&outcome.user_errors);
                rec.record(&line)?;
                for inv in pending.drain(..) {
                    match outcome.user_errors.iter().find(|e| e.user == inv.user_id) {
                        None => result.added.push(inv.label),
                        Some(e) if e.error == ALREADY => result.already_in.push(inv.label),
                        Some(e) => result.failed.push((inv.label, e.error.clone())),
                    }
                }
            }
            Err(e) if e.is_fatal() => {
                rec.record(&op(plan, sent, "stopped", Some(error_code(&e))))?;
                result.not_attempted = pending.drain(..).map(|u| u.label).collect();
                return Ok((result, Some(e)));
            }
            Err(Error::Api {
                code,
                user_errors: errors,
                ..
            }) if code == ALREADY && errors.iter().all(|u| u.error == ALREADY) => {
                let mut line = op(plan, sent, ALREADY, Some(code.clone()));
                line.user_errors = user_errors(&errors);
                rec.record(&line)?;
                let mut in_now: HashSet<String> = errors.into_iter().map(|e| e.user).collect();
                if in_now.is_empty() {
                    // Slack did not say who: read the membership again.
                    match client.all_members(&plan.channel_id).await {
                        Ok(members) => in_now = members.into_iter().collect(),
                        Err(e) if e.is_fatal() => {
                            result.not_attempted = pending.drain(..).map(|u| u.label).collect();
                            return Ok((result, Some(e)));
                        }
                        Err(e) => tracing::debug!("re-reading members failed: {e}"),
                    }
                }
                if !pending.iter().any(|u| in_now.contains(&u.user_id)) {
                    // Slack says someone is in but we cannot tell who: trust it for everyone
                    // rather than loop.
                    in_now = pending.iter().map(|u| u.user_id.clone()).collect();
                }
                let (done, rest): (Vec<Invitee>, Vec<Invitee>) =
                    pending.drain(..).partition(|u| in_now.contains(&u.user_id));
                result.already_in.extend(done.into_iter().map(|u| u.label));
                pending = rest;
            }
            Err(e) => {
                let code = error_code(&e);
                let errors = match &e {
                    Error::Api { user_errors, .. } => user_errors.clone(),
                    _ => Vec::new(),
                };
                tracing::warn!(channel = %plan.channel_name, "invite failed: {e}");
                let mut line = op(plan, sent, "failed", Some(code.clone()));
                line.user_errors = user_errors(&errors);
                rec.record(&line)?;
                for inv in pending.drain(..) {
                    match errors.iter().find(|u| u.user == inv.user_id) {
                        Some(u) if u.error == ALREADY => result.already_in.push(inv.label),
                        Some(u) => result.failed.push((inv.label, u.error.clone())),
                        None => result.failed.push((inv.label, code.clone())),
                    }
                }
            }
        }
    }
    Ok((result, None))
}

/// A flag set by Ctrl-C; the invite loop checks it between calls.
#[derive(Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Sets the flag on the first Ctrl-C; a second one exits at once (status 130), for a user who
    /// does not want to wait for the call in flight.
    pub fn on_ctrl_c(&self) {
        let flag = self.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::warn!("interrupted: finishing the call in flight, then stopping");
                flag.stop();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
}

/// Runs the plans in order until they run out, a fatal error, or Ctrl-C.
pub async fn execute(
    client: &SlackClient,
    mut plans: impl Stream<Item = Result<ChannelPlan, Error>> + Unpin,
    rec: &mut Recorder,
    stop: &StopFlag,
    bar: &ProgressBar,
) -> anyhow::Result<RunReport> {
    let mut report = RunReport::default();
    loop {
        if stop.is_set() {
            report.interrupted = true;
            break;
        }
        let Some(next) = plans.next().await else {
            break;
        };
        let plan = match next {
            Ok(plan) => plan,
            Err(e) => {
                report.stopped_by = Some(e);
                break;
            }
        };
        if !plan.to_add.is_empty() {
            let names: Vec<&str> = plan.to_add.iter().map(|u| u.label.as_str()).collect();
            bar.set_message(plan.channel_name.clone());
            tracing::debug!(channel = %plan.channel_name, "inviting {}", names.join(", "));
        }
        let (result, fatal) = invite_channel(client, &plan, rec).await?;
        report.channels.push(result);
        bar.inc(1);
        if let Some(e) = fatal {
            report.stopped_by = Some(e);
            break;
        }
    }
    bar.finish_and_clear();
    report.run_id = rec.run_id();
    let status = if report.stopped_by.is_some() {
        InviteRunStatus::Stopped
    } else if report.interrupted {
        InviteRunStatus::Interrupted
    } else {
        InviteRunStatus::Completed
    };
    rec.finish(status, &report.totals())?;
    Ok(report)
}
