-- V12__search: mirrors 12_search.sql (one full-text index over every exported message, Slack and
-- Telegram, for `slack-export search`). Differences:
-- - search_messages keeps the same columns (PostgreSQL types, see README.md) plus a last,
--   PostgreSQL-only column `tsv`, generated from `text`, and a GIN index on it, in place of the
--   FTS5 table search_fts (PostgreSQL has no FTS5). Being generated, `tsv` is always in step with
--   `text`: no second write, nothing to delete from an index by hand, no integrity check. It must
--   not be named in an INSERT (a copy lists the other columns).
-- - The id stays a plain BIGINT PRIMARY KEY: the code computes it (time_us * 1024 + n, see
--   12_search.sql), so "newest first, first N" is a backward walk of the primary key, and
--   --since/--until an id range.
-- - Tokens: the 'simple' configuration splits words with PostgreSQL's parser and lowercases them,
--   without stemming or stop words, like FTS5's unicode61, but it does not fold diacritics
--   (unicode61 `remove_diacritics 2` matches "cafe" to "café"; 'simple' does not: PostgreSQL only
--   folds accents with the unaccent extension, whose function is not IMMUTABLE and so cannot feed
--   a generated column).
-- - FTS5's 'secure-delete' option has no twin: a deleted or rewritten row (purge-user, an edit)
--   leaves its old version, text and index entries, as a dead tuple until (auto)vacuum removes it;
--   no query sees it. Whoever needs it gone at once runs VACUUM search_messages after the purge
--   (outside a transaction).

CREATE TABLE search_messages (
    id                BIGINT PRIMARY KEY,          -- time_us * 1024 + n (see above)
    source            TEXT COLLATE "C" NOT NULL,   -- 'slack' or 'telegram'
    conversation_id   TEXT COLLATE "C" NOT NULL,
    conversation_name TEXT COLLATE "C" NOT NULL,
    msg_id            TEXT COLLATE "C" NOT NULL,   -- Slack ts, Telegram message id
    sender_id         TEXT COLLATE "C",            -- NULL for some bot posts
    sender_name       TEXT COLLATE "C" NOT NULL,
    text              TEXT COLLATE "C" NOT NULL,   -- plain text, mentions by name
    mentions          TEXT COLLATE "C" NOT NULL DEFAULT '[]', -- JSON [[id, name], ...]: who the text names (purge)
    tsv               tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED,
    UNIQUE (source, conversation_id, msg_id)
);

-- The search code matches with `tsv @@ <tsquery built with 'simple'>`; the same configuration on
-- both sides, or nothing matches.
CREATE INDEX search_messages_tsv ON search_messages USING gin (tsv);
