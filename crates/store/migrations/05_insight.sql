-- 05_insight: insight-sync's engagement data and insight-report's materialized aggregates.
--
-- Privacy: opted-out users never get a row in any of these tables; message text is only kept (in
-- insight_events.text) when the config says store_text. Days, hours and weekdays are local to the
-- configured timezone (recorded in meta key `insight.timezone`) so reports never convert per row.

-- One row per person seen in users.list (opted-out users excluded).
CREATE TABLE insight_users (
    user_id      TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,              -- username
    display_name TEXT NOT NULL,
    department   TEXT,                       -- from team.json or a profile field; NULL = unknown
    deleted      INTEGER NOT NULL DEFAULT 0,
    is_bot       INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Channels in scope, with the per-channel sync state.
CREATE TABLE insight_channels (
    channel_id  TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    is_private  INTEGER NOT NULL DEFAULT 0,
    is_archived INTEGER NOT NULL DEFAULT 0,
    newest_ts   TEXT,                        -- newest top-level message stored (Slack ts)
    oldest_synced_us INTEGER                 -- start of the oldest window fetched (µs)
) STRICT;

-- One row per sync run (cron history).
CREATE TABLE insight_sync_runs (
    run_id      INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,               -- RFC 3339 UTC
    finished_at TEXT,                        -- NULL while running or when killed
    status      TEXT NOT NULL,               -- running | ok | failed
    channels    INTEGER NOT NULL DEFAULT 0,
    events      INTEGER NOT NULL DEFAULT 0
) STRICT;

-- A membership snapshot: one per channel per sync, with its members.
CREATE TABLE insight_member_snapshots (
    run_id     INTEGER NOT NULL,
    channel_id TEXT NOT NULL REFERENCES insight_channels(channel_id) ON DELETE CASCADE,
    taken_us   INTEGER NOT NULL,             -- Unix µs
    PRIMARY KEY (run_id, channel_id)
) STRICT;

CREATE TABLE insight_members (
    run_id     INTEGER NOT NULL,
    channel_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (run_id, channel_id, user_id),
    FOREIGN KEY (run_id, channel_id) REFERENCES insight_member_snapshots(run_id, channel_id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX insight_members_user ON insight_members (user_id);

-- Normalized interaction events. kind: 0 post, 1 reply, 2 reaction. For a reaction `ts` is the
-- reacted message's ts and `at_us` its time (Slack gives reactions no time of their own).
CREATE TABLE insight_events (
    channel_id TEXT NOT NULL,
    ts         TEXT NOT NULL,
    kind       INTEGER NOT NULL,
    user_id    TEXT NOT NULL,
    emoji      TEXT NOT NULL DEFAULT '',
    at_us      INTEGER NOT NULL,
    day        TEXT NOT NULL,                -- local YYYY-MM-DD
    hour       INTEGER NOT NULL,             -- local 0..23
    thread_ts  TEXT,
    text       TEXT,                         -- only with store_text
    PRIMARY KEY (channel_id, ts, kind, user_id, emoji)
) STRICT, WITHOUT ROWID;
CREATE INDEX insight_events_day ON insight_events (channel_id, day);
CREATE INDEX insight_events_user ON insight_events (user_id);

-- Threads seen: latest_reply decides whether replies are fetched again; latency_s is parent to
-- the first reply by someone other than the parent's author (NULL when nobody else replied).
CREATE TABLE insight_threads (
    channel_id   TEXT NOT NULL REFERENCES insight_channels(channel_id) ON DELETE CASCADE,
    thread_ts    TEXT NOT NULL,
    latest_reply TEXT NOT NULL,
    day          TEXT NOT NULL,              -- local day of the parent
    latency_s    REAL,
    PRIMARY KEY (channel_id, thread_ts)
) STRICT, WITHOUT ROWID;

-- Materialized daily aggregates: what reports read.
CREATE TABLE insight_daily_user_channel (
    day        TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    posts      INTEGER NOT NULL,
    replies    INTEGER NOT NULL,
    reactions  INTEGER NOT NULL,
    PRIMARY KEY (channel_id, day, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX insight_duc_user ON insight_daily_user_channel (user_id);

CREATE TABLE insight_daily_channel (
    day            TEXT NOT NULL,
    channel_id     TEXT NOT NULL,
    active_members INTEGER NOT NULL,
    posts          INTEGER NOT NULL,
    replies        INTEGER NOT NULL,
    reactions      INTEGER NOT NULL,
    PRIMARY KEY (channel_id, day)
) STRICT, WITHOUT ROWID;

-- Posts and replies per user per local day and hour (the hour-of-day x weekday heatmap).
-- Per channel, like every aggregate, so a channel's rows can be rebuilt or deleted on their own.
CREATE TABLE insight_daily_user_hour (
    channel_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    hour       INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    PRIMARY KEY (channel_id, day, user_id, hour)
) STRICT, WITHOUT ROWID;
CREATE INDEX insight_duh_user ON insight_daily_user_hour (user_id);

-- Active window per user per local day: first and last post or reply (µs).
-- Per channel; the report takes min/max across channels.
CREATE TABLE insight_active_windows (
    channel_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    first_us   INTEGER NOT NULL,
    last_us    INTEGER NOT NULL,
    PRIMARY KEY (channel_id, day, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX insight_aw_user ON insight_active_windows (user_id);
