//! What `slack-audit` prints: the `--json` document and the human summary on stdout.

use std::io::Write;

use audit::{Changes, GroupFinding};
use audit_run::AuditRun;
use audit_run::outputs::{ReportPaths, gap_line, headline, worst_gaps};
use serde_json::json;

/// `--json`: one document on stdout.
pub(crate) fn print_json(
    run: &AuditRun,
    changes: Option<&Changes>,
    reports: &ReportPaths,
    run_id: i64,
) -> anyhow::Result<()> {
    let doc = json!({
        "run_id": run_id,
        "summary": run.result.summary,
        "groups": run.result.findings,
        "changes": changes,
        "warnings": run.result.warnings,
        "skipped": run.skipped,
        "reports": reports,
    });
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &doc)?;
    writeln!(out)?;
    Ok(())
}

/// The human summary on stdout: coverage, worst gaps, warnings, unreadable groups, report paths.
/// Group names are Slack's and Telegram's: every line is made terminal-safe, so a title holding
/// an escape sequence, `\r` or U+2028 cannot rewrite what the reader sees.
pub(crate) fn print_summary(
    run: &AuditRun,
    changes: Option<&Changes>,
    reports: &ReportPaths,
) -> anyhow::Result<()> {
    use roster::text::terminal_safe as safe;
    let mut out = std::io::stdout().lock();
    writeln!(out, "Customer-group coverage audit")?;
    for line in headline(run, changes) {
        writeln!(out, "  {}", safe(&line))?;
    }
    let gaps = worst_gaps(run);
    if !gaps.is_empty() {
        writeln!(out, "Worst gaps:")?;
        for f in gaps {
            writeln!(out, "  {}", safe(&gap_line(f)))?;
        }
    }
    let errors: Vec<&GroupFinding> = run
        .result
        .findings
        .iter()
        .filter(|f| f.error.is_some())
        .collect();
    if !errors.is_empty() {
        writeln!(out, "Groups that could not be read:")?;
        for f in errors {
            let line = format!(
                "{} ({}): {}",
                f.group_name,
                f.group_id,
                f.error.as_deref().unwrap_or_default()
            );
            writeln!(out, "  {}", safe(&line))?;
        }
    }
    if !run.result.warnings.is_empty() {
        writeln!(out, "Warnings:")?;
        for w in &run.result.warnings {
            writeln!(out, "  {}", safe(w))?;
        }
    }
    writeln!(out, "Reports:")?;
    writeln!(out, "  {}", reports.xlsx.display())?;
    writeln!(out, "  {}", reports.csv.display())?;
    Ok(())
}
