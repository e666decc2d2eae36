-- 09_tg_operations: every change tg-admin made (or tried to) on Telegram, recorded as it happens so
-- the panel's Activity page lists them. Dry runs change nothing and are not recorded here (their
-- plan is in the run's report and operations.jsonl).

CREATE TABLE tg_operations (
    id             INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,          -- RFC 3339 UTC
    -- remove-user | rename | request-ownership
    operation      TEXT NOT NULL CHECK (operation IN ('remove-user', 'rename', 'request-ownership')),
    chat_id        INTEGER NOT NULL,
    chat_title     TEXT NOT NULL,          -- the title when the operation ran (before a rename)
    target_user    TEXT,                   -- @username or name of the user acted on (none for rename)
    target_user_id INTEGER,
    new_title      TEXT,                   -- rename only
    -- done: the change was made; skipped: nothing to do; failed: see error;
    -- written: an ownership-transfer request was written for someone to send
    status         TEXT NOT NULL CHECK (status IN ('done', 'skipped', 'failed', 'written')),
    error          TEXT                    -- why it failed or was skipped
) STRICT;
