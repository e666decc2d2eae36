-- 04_export: slack-export's state for --resume, and the messages it renders its files from.
--
-- History arrives newest first but the files are written oldest first with replies under their
-- parents, so every fetched message is spooled here and the files are streamed from ordered
-- queries: memory stays flat with channel size, and a rerun (or a run after a kill) re-renders the
-- same files from the same rows.

CREATE TABLE export_channels (
    id           INTEGER PRIMARY KEY,
    export_key   TEXT NOT NULL,              -- the export's output directory (absolute path)
    channel_id   TEXT NOT NULL,
    channel_name TEXT NOT NULL,
    newest_ts    TEXT,                       -- newest top-level message exported (Slack ts)
    complete     INTEGER NOT NULL DEFAULT 0, -- 1 once a history pass and all its threads finished
    updated_at   TEXT NOT NULL,              -- RFC 3339 UTC
    UNIQUE (export_key, channel_id)
) STRICT;

CREATE TABLE export_messages (
    channel    INTEGER NOT NULL REFERENCES export_channels(id) ON DELETE CASCADE,
    ts_key     INTEGER NOT NULL,             -- ts in microseconds: sorts like time
    thread_key INTEGER NOT NULL,             -- the thread parent's ts_key for replies, else ts_key
    ts         TEXT NOT NULL,                -- the Slack ts as sent
    user       TEXT,                         -- sender user ID (NULL for some bot posts)
    raw        TEXT NOT NULL,                -- the message exactly as Slack sent it (JSON)
    PRIMARY KEY (channel, ts_key)
) STRICT;

-- Parent followed by its replies, in order: the text and json layouts read in this order.
CREATE INDEX export_messages_thread ON export_messages (channel, thread_key, ts_key);

CREATE TABLE export_threads (
    channel      INTEGER NOT NULL REFERENCES export_channels(id) ON DELETE CASCADE,
    thread_ts    TEXT NOT NULL,
    latest_reply TEXT NOT NULL,               -- the thread's latest_reply when its replies were stored
    PRIMARY KEY (channel, thread_ts)
) STRICT;
