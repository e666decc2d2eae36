-- 06_export_spool: the export spool keyed by its primary key alone (WITHOUT ROWID).
--
-- As a rowid table every spooled message cost three B-tree inserts (the rows, the primary key's
-- index, the thread index); clustered on (channel, ts_key) it costs two, and the chronological
-- read is the table's own order. Rows are a few hundred bytes, well under the size where SQLite
-- advises against WITHOUT ROWID. Same columns and meaning as in 04_export.

CREATE TABLE export_messages_new (
    channel    INTEGER NOT NULL REFERENCES export_channels(id) ON DELETE CASCADE,
    ts_key     INTEGER NOT NULL,             -- ts in microseconds: sorts like time
    thread_key INTEGER NOT NULL,             -- the thread parent's ts_key for replies, else ts_key
    ts         TEXT NOT NULL,                -- the Slack ts as sent
    user       TEXT,                         -- sender user ID (NULL for some bot posts)
    raw        TEXT NOT NULL,                -- the message as Slack sent it (JSON)
    PRIMARY KEY (channel, ts_key)
) STRICT, WITHOUT ROWID;

INSERT INTO export_messages_new (channel, ts_key, thread_key, ts, user, raw)
    SELECT channel, ts_key, thread_key, ts, user, raw FROM export_messages;

DROP TABLE export_messages;
ALTER TABLE export_messages_new RENAME TO export_messages;

-- Parent followed by its replies, in order: the text layout reads in this order.
CREATE INDEX export_messages_thread ON export_messages (channel, thread_key, ts_key);
