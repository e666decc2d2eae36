-- 12_search: one full-text index over every exported message, Slack and Telegram alike, for
-- `slack-export search`.
--
-- The row id is the message's time (microseconds x 1024, plus a small counter for messages in the
-- same microsecond): FTS5 walks its matches in row id order, so "newest first, first N" reads N
-- matches instead of sorting all of them, and --since/--until become a row id range.

CREATE TABLE search_messages (
    id                INTEGER PRIMARY KEY,   -- time_us * 1024 + n (see above)
    source            TEXT NOT NULL,         -- 'slack' or 'telegram'
    conversation_id   TEXT NOT NULL,
    conversation_name TEXT NOT NULL,
    msg_id            TEXT NOT NULL,         -- Slack ts, Telegram message id
    sender_id         TEXT,                  -- NULL for some bot posts
    sender_name       TEXT NOT NULL,
    text              TEXT NOT NULL,         -- plain text, mentions by name
    mentions          TEXT NOT NULL DEFAULT '[]', -- JSON [[id, name], ...]: who the text names (purge)
    UNIQUE (source, conversation_id, msg_id)
) STRICT;

-- External content: the text is stored once, in search_messages. No column sizes (they only serve
-- bm25 ranking; results come newest first): one write less per message. No index on sender_id
-- either: --from filters rows the text search found, and only a purge looks people up by id (a
-- scan, rarely).
--
-- No triggers keep the two in step: a trigger's statement makes FTS5 flush its pending terms into a
-- new segment every time (six times slower inserts, measured), so `store::search` writes both
-- tables itself, and is the only writer.
CREATE VIRTUAL TABLE search_fts USING fts5 (
    text,
    content = 'search_messages',
    content_rowid = 'id',
    columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- A deleted or rewritten message (purge-user, an edit) leaves no token behind in the index's
-- segments: by default FTS5 only records the deletion and keeps the old entries until a merge.
INSERT INTO search_fts (search_fts, rank) VALUES ('secure-delete', 1);
