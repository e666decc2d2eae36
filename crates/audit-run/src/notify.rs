//! The audit's notifications (see docs/notifications.md), sent through the `notifications` crate:
//! `audit_complete` (the summary `--notify CHANNEL` has always posted, or the file's template),
//! `audit_new_gaps` (required members missing now and not in the previous run) and
//! `telegram_session_expired`.

use audit::Changes;
use notifications::{Context, Event, NotificationsConfig};
use slack_client::SlackClient;
use store::Store;
use store::audit::NotificationRow;

pub use notifications::NotifyMessage;

use crate::AuditRun;
use crate::outputs;

/// Sends the events of a finished run; returns every log row (audit_complete's first).
pub async fn after_run(
    client: &SlackClient,
    store: &mut Store,
    config: &NotificationsConfig,
    notify: Option<&str>,
    run_id: i64,
    run: &AuditRun,
    changes: Option<&Changes>,
) -> Result<Vec<NotificationRow>, store::StoreError> {
    let mut rows = Vec::new();
    if notifications::wanted(config, Event::AuditComplete, notify) {
        let ctx = complete_context(run, changes, run_id);
        // Without a template of its own the summary reads as it always has.
        let message = match config
            .rule(Event::AuditComplete)
            .and_then(|r| r.template.as_ref())
        {
            Some(_) => notifications::render(config, Event::AuditComplete, &ctx),
            None => outputs::notify_message(run, changes).message(
                config
                    .rule(Event::AuditComplete)
                    .map(|r| r.priority)
                    .unwrap_or_default(),
            ),
        };
        rows.extend(
            notifications::emit_message(
                client,
                store,
                config,
                Event::AuditComplete,
                &message,
                notify,
                Some(run_id),
            )
            .await?,
        );
    }
    // Only events the file enables; --notify then only moves them to its channel.
    let opened = changes
        .map(|c| c.gaps_opened.as_slice())
        .unwrap_or_default();
    if !opened.is_empty() && config.enabled(Event::AuditNewGaps).is_some() {
        let mut ctx = Context::new();
        ctx.insert("count".into(), opened.len().to_string());
        let gaps: Vec<String> = opened
            .iter()
            .map(|g| format!("{}: {}", g.group_name, g.handle))
            .collect();
        ctx.insert("gaps".into(), gaps.join("; "));
        ctx.insert("coverage".into(), coverage(run));
        ctx.insert("run_id".into(), run_id.to_string());
        rows.extend(
            notifications::emit(
                client,
                store,
                config,
                Event::AuditNewGaps,
                &ctx,
                notify,
                Some(run_id),
            )
            .await?,
        );
    }
    Ok(rows)
}

/// `telegram_session_expired` when the Telegram session is not authorised (enabled in the file).
pub async fn telegram_expired(
    client: &SlackClient,
    store: &mut Store,
    config: &NotificationsConfig,
    notify: Option<&str>,
    run_id: Option<i64>,
    detail: &str,
) -> Result<Vec<NotificationRow>, store::StoreError> {
    if config.enabled(Event::TelegramSessionExpired).is_none() {
        return Ok(Vec::new());
    }
    let mut ctx = Context::new();
    ctx.insert("tool".into(), "slack-audit".into());
    ctx.insert("detail".into(), detail.to_string());
    notifications::emit(
        client,
        store,
        config,
        Event::TelegramSessionExpired,
        &ctx,
        notify,
        run_id,
    )
    .await
}

/// `system_alert` (enabled in the file): something the people running the audit from cron must
/// look at, such as the run failing or groups it could not read.
pub async fn system_alert(
    client: &SlackClient,
    store: &mut Store,
    config: &NotificationsConfig,
    notify: Option<&str>,
    run_id: Option<i64>,
    message: &str,
) -> Result<Vec<NotificationRow>, store::StoreError> {
    if config.enabled(Event::SystemAlert).is_none() {
        return Ok(Vec::new());
    }
    let mut ctx = Context::new();
    ctx.insert("tool".into(), "slack-audit".into());
    ctx.insert("message".into(), message.to_string());
    notifications::emit(
        client,
        store,
        config,
        Event::SystemAlert,
        &ctx,
        notify,
        run_id,
    )
    .await
}

fn coverage(run: &AuditRun) -> String {
    match run.result.summary.coverage_rate {
        Some(rate) => format!("{:.1}%", rate * 100.0),
        None => "n/a".into(),
    }
}

fn complete_context(run: &AuditRun, changes: Option<&Changes>, run_id: i64) -> Context {
    let s = &run.result.summary;
    let mut ctx = Context::new();
    ctx.insert("coverage".into(), coverage(run));
    ctx.insert("groups".into(), s.groups.to_string());
    ctx.insert("groups_with_gaps".into(), s.groups_with_gaps.to_string());
    ctx.insert(
        "missing_required".into(),
        s.missing_required_total.to_string(),
    );
    ctx.insert(
        "new_gaps".into(),
        changes.map_or(0, |c| c.gaps_opened.len()).to_string(),
    );
    ctx.insert(
        "closed_gaps".into(),
        changes.map_or(0, |c| c.gaps_closed.len()).to_string(),
    );
    ctx.insert("run_id".into(), run_id.to_string());
    ctx.insert("summary".into(), outputs::headline(run, changes).join("\n"));
    ctx
}
