-- 02_audit: slack-audit history (one row per run, one finding per group with a gap) and the log of
-- summary notifications posted after a run.

CREATE TABLE audit_runs (
    id               INTEGER PRIMARY KEY,
    started_at       TEXT NOT NULL,            -- RFC 3339 UTC
    finished_at      TEXT,                     -- RFC 3339 UTC; NULL if the run did not record an end
    platforms        TEXT NOT NULL,            -- comma-separated, e.g. 'slack' or 'slack,telegram'
    groups           INTEGER NOT NULL,
    groups_with_gaps INTEGER NOT NULL,
    missing_required INTEGER NOT NULL,         -- group x member pairs missing
    coverage         REAL,                     -- percent 0..100; NULL when nothing was in scope
    results_json     TEXT NOT NULL             -- the full results, as the audit engine serialised them
) STRICT;

CREATE TABLE audit_findings (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES audit_runs(id) ON DELETE CASCADE,
    platform         TEXT NOT NULL,
    group_id         TEXT NOT NULL,
    group_name       TEXT NOT NULL,
    category         TEXT NOT NULL,
    required_present INTEGER NOT NULL,
    required_total   INTEGER NOT NULL,
    missing_required TEXT NOT NULL DEFAULT '[]',  -- JSON array of team handles
    missing_optional TEXT NOT NULL DEFAULT '[]',  -- JSON array of team handles
    error            TEXT,                        -- set when the group could not be audited
    UNIQUE (run_id, platform, group_id)
) STRICT;

-- "What did the last runs say about this group?" (change since previous run, add-members --from-audit).
CREATE INDEX audit_findings_by_group ON audit_findings (platform, group_id, run_id);

CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER REFERENCES audit_runs(id) ON DELETE SET NULL,
    channel    TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'delivered', 'failed', 'retrying')),
    attempts   INTEGER NOT NULL DEFAULT 0,        -- times it entered 'sending'
    error      TEXT,                               -- last error, cleared on delivery
    message_ts TEXT,                               -- Slack's ts of the posted message
    created_at TEXT NOT NULL,                      -- RFC 3339 UTC
    updated_at TEXT NOT NULL                       -- RFC 3339 UTC
) STRICT;

CREATE INDEX notifications_by_run ON notifications (run_id);
