-- 03_invites: add-members history. One row per run that made (or tried to make) invites, and one
-- row per conversations.invite operation, written as it happens so an interrupted run leaves an
-- exact record. Dry runs make no operations and are not stored.

CREATE TABLE invite_runs (
    id               INTEGER PRIMARY KEY,
    started_at       TEXT NOT NULL,              -- RFC 3339 UTC
    finished_at      TEXT,                       -- RFC 3339 UTC; NULL while running or after a crash
    -- running | completed | interrupted (Ctrl-C) | stopped (missing scope / auth error)
    status           TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'stopped')),
    handles          TEXT NOT NULL DEFAULT '[]', -- JSON array: what was asked for, as typed
    from_audit_run   INTEGER REFERENCES audit_runs(id) ON DELETE SET NULL,
    channels_planned INTEGER NOT NULL,           -- channels with someone to invite
    added            INTEGER NOT NULL DEFAULT 0, -- (channel, user) pairs invited
    already_in       INTEGER NOT NULL DEFAULT 0, -- pairs Slack said were in already (counted done)
    skipped          INTEGER NOT NULL DEFAULT 0, -- pairs not attempted: present, excluded, archived
    failed           INTEGER NOT NULL DEFAULT 0, -- pairs whose invite failed
    log_file         TEXT                        -- the JSON-lines log of this run
) STRICT;

CREATE TABLE invite_ops (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES invite_runs(id) ON DELETE CASCADE,
    at           TEXT NOT NULL,                  -- RFC 3339 UTC, when the answer came
    channel_id   TEXT NOT NULL,
    channel_name TEXT NOT NULL,
    users        TEXT NOT NULL,                  -- JSON array of the user IDs sent in this call
    -- added | already_in_channel | failed | stopped
    result       TEXT NOT NULL,
    error        TEXT,                           -- Slack's error code, if any
    user_errors  TEXT NOT NULL DEFAULT '[]'      -- JSON array of {user, error} from Slack
) STRICT;

CREATE INDEX invite_ops_by_run ON invite_ops (run_id, id);
-- "When was this channel last touched by add-members?"
CREATE INDEX invite_ops_by_channel ON invite_ops (channel_id, run_id);
