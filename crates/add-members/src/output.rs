//! What the user reads on stdout: the plan before any change, and the summary after (per channel,
//! then totals by result and reason), as tables or, with `--json`, as one JSON document.

use std::collections::BTreeMap;

use report::{Cell, Row, Table};
use serde_json::{Value, json};

use crate::execute::RunReport;
use crate::plan::ChannelPlan;

fn skipped_cells(skipped: &[crate::targets::Skipped]) -> Cell {
    Cell::List(
        skipped
            .iter()
            .map(|s| format!("{} ({})", s.label, s.reason))
            .collect(),
    )
}

/// The plan: channel, who to add, who is skipped and why.
pub fn plan_table(plans: &[ChannelPlan]) -> Table {
    let mut t = Table::new("Plan", ["Channel", "ID", "Add", "Skipped"]);
    for p in plans {
        let mut add: Vec<String> = p.to_add.iter().map(|u| u.label.clone()).collect();
        if let Some(problem) = &p.problem {
            add = vec![format!("cannot read members: {problem}")];
        }
        t.push(
            Row::new(vec![
                Cell::text(format!("#{}", p.channel_name)),
                Cell::text(&p.channel_id),
                Cell::List(add),
                skipped_cells(&p.skipped),
            ])
            .highlighted(p.problem.is_some()),
        );
    }
    t
}

/// The counts under the plan table.
pub fn plan_totals(plans: &[ChannelPlan]) -> String {
    let invites: usize = plans.iter().map(|p| p.to_add.len()).sum();
    let channels = plans.iter().filter(|p| !p.to_add.is_empty()).count();
    let skipped: usize = plans.iter().map(|p| p.skipped.len()).sum();
    format!("{invites} invite(s) in {channels} channel(s) ({channels} call(s)); {skipped} skipped")
}

/// One row per channel with what happened there.
pub fn result_table(report: &RunReport) -> Table {
    let mut t = Table::new(
        "Results",
        [
            "Channel",
            "Added",
            "Already in",
            "Skipped",
            "Failed",
            "Not attempted",
        ],
    );
    for c in &report.channels {
        t.push(
            Row::new(vec![
                Cell::text(format!("#{}", c.channel_name)),
                Cell::List(c.added.clone()),
                Cell::List(c.already_in.clone()),
                skipped_cells(&c.skipped),
                Cell::List(
                    c.failed
                        .iter()
                        .map(|(who, code)| format!("{who} ({code})"))
                        .collect(),
                ),
                Cell::List(c.not_attempted.clone()),
            ])
            .highlighted(!c.failed.is_empty()),
        );
    }
    t
}

/// Counts of (channel, person) pairs by (result, reason); the reason is empty for plain adds.
fn counts_by_reason(report: &RunReport) -> BTreeMap<(&'static str, String), i64> {
    let mut counts: BTreeMap<(&str, String), i64> = BTreeMap::new();
    for c in &report.channels {
        *counts.entry(("added", String::new())).or_default() += c.added.len() as i64;
        if !c.already_in.is_empty() {
            *counts
                .entry(("added", "already in channel".into()))
                .or_default() += c.already_in.len() as i64;
        }
        for s in &c.skipped {
            *counts
                .entry(("skipped", s.reason.key().to_string()))
                .or_default() += 1;
        }
        for (_, code) in &c.failed {
            *counts.entry(("failed", code.clone())).or_default() += 1;
        }
        if !c.not_attempted.is_empty() {
            *counts
                .entry(("not attempted", "run stopped".into()))
                .or_default() += c.not_attempted.len() as i64;
        }
    }
    counts
}

/// Totals of (channel, person) pairs by result and reason.
pub fn summary_table(report: &RunReport) -> Table {
    let mut t = Table::new("Summary", ["Result", "Reason", "Count"]);
    for ((result, reason), n) in counts_by_reason(report) {
        if n == 0 && !reason.is_empty() {
            continue;
        }
        t.push(
            Row::new(vec![Cell::text(result), Cell::text(reason), Cell::Int(n)])
                .highlighted(result == "failed"),
        );
    }
    t
}

fn skipped_json(skipped: &[crate::targets::Skipped]) -> Vec<Value> {
    skipped
        .iter()
        .map(|s| json!({"user": s.label, "reason": s.reason.key(), "detail": s.reason.to_string()}))
        .collect()
}

/// `--json` when nothing is invited (`--dry-run`, nothing to do, or the user said no): the plan.
pub fn plan_json(plans: &[ChannelPlan], dry_run: bool) -> Value {
    let channels: Vec<Value> = plans
        .iter()
        .map(|p| {
            json!({
                "id": p.channel_id,
                "name": p.channel_name,
                "add": p.to_add.iter()
                    .map(|u| json!({"user": u.label, "user_id": u.user_id}))
                    .collect::<Vec<_>>(),
                "skipped": skipped_json(&p.skipped),
                "error": p.problem,
            })
        })
        .collect();
    json!({
        "kind": "plan",
        "dry_run": dry_run,
        "changed": false,
        "totals": {
            "invites": plans.iter().map(|p| p.to_add.len()).sum::<usize>(),
            "channels": plans.iter().filter(|p| !p.to_add.is_empty()).count(),
            "skipped": plans.iter().map(|p| p.skipped.len()).sum::<usize>(),
        },
        "channels": channels,
    })
}

/// `--json` after invites were sent: totals, counts by result and reason, and each channel.
pub fn result_json(report: &RunReport, targets: usize) -> Value {
    let t = report.totals();
    let not_attempted: usize = report.channels.iter().map(|c| c.not_attempted.len()).sum();
    let by_reason: Vec<Value> = counts_by_reason(report)
        .into_iter()
        .filter(|((_, reason), n)| *n > 0 || reason.is_empty())
        .map(|((result, reason), n)| json!({"result": result, "reason": reason, "count": n}))
        .collect();
    let channels: Vec<Value> = report
        .channels
        .iter()
        .map(|c| {
            json!({
                "id": c.channel_id,
                "name": c.channel_name,
                "added": c.added,
                "already_in": c.already_in,
                "skipped": skipped_json(&c.skipped),
                "failed": c.failed.iter()
                    .map(|(who, code)| json!({"user": who, "error": code}))
                    .collect::<Vec<_>>(),
                "not_attempted": c.not_attempted,
            })
        })
        .collect();
    json!({
        "kind": "result",
        "dry_run": false,
        "changed": t.added > 0,
        "run_id": report.run_id,
        "ok": report.succeeded(),
        "totals": {
            "added": t.added,
            "already_in": t.already_in,
            "skipped": t.skipped,
            "failed": t.failed,
            "not_attempted": not_attempted,
        },
        "by_reason": by_reason,
        "channels_not_reached": targets.saturating_sub(report.channels.len()),
        "interrupted": report.interrupted,
        "error": report.stopped_by.as_ref().map(|e| e.to_string()),
        "channels": channels,
    })
}
