-- V7__audit_runs_origin: mirrors 07_audit_runs_origin.sql (who or what started an audit run, and
-- where it is). Differences: TEXT COLLATE "C" (see README.md); otherwise the same statements.
-- A run's row is written as 'running' when it starts fetching and set to 'finished' (results
-- stored) or 'failed' at its end; a row a killed process left 'running' is set to 'interrupted' by
-- whoever finds it (the admin panel at start-up and shutdown).

-- 'cli' (slack-audit), 'panel:<username>' (admin panel), 'demo' (--demo); NULL for runs recorded
-- before this migration (unknown).
ALTER TABLE audit_runs ADD COLUMN started_by TEXT COLLATE "C";

ALTER TABLE audit_runs ADD COLUMN status TEXT COLLATE "C" NOT NULL DEFAULT 'finished'
    CHECK (status IN ('running', 'finished', 'interrupted', 'failed'));

-- Older runs were only written once finished, so one without an end never finished.
UPDATE audit_runs SET status = 'interrupted' WHERE finished_at IS NULL;

-- "The latest finished run" (changes since the previous run, add-members --from-audit).
CREATE INDEX audit_runs_by_status ON audit_runs (status, id);
