-- 01_core: things every tool shares.

-- Free-form key/value facts about this database (e.g. which tool last wrote it).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- Slack workspaces this database has seen (from auth.test / team.info), so rows from different
-- workspaces can be told apart if one file is ever pointed at two of them.
CREATE TABLE workspaces (
    team_id    TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    domain     TEXT,
    first_seen TEXT NOT NULL,  -- RFC 3339 UTC
    last_seen  TEXT NOT NULL   -- RFC 3339 UTC
) STRICT;
