//! What the user reads on stdout: the plan before any change, and the summary after (per channel,
//! then totals by result and reason).

use std::collections::BTreeMap;

use report::{Cell, Row, Table};

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

/// Totals of (channel, person) pairs by result and reason.
pub fn summary_table(report: &RunReport) -> Table {
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
    let mut t = Table::new("Summary", ["Result", "Reason", "Count"]);
    for ((result, reason), n) in counts {
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
