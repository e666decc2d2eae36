-- V1__core: mirrors 01_core.sql. Differences: the PostgreSQL types (see README.md); no STRICT.

-- Free-form key/value facts about this database (e.g. which tool last wrote it).
CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    value TEXT COLLATE "C" NOT NULL
);

-- Slack workspaces this database has seen (from auth.test / team.info), so rows from different
-- workspaces can be told apart if one database is ever pointed at two of them.
CREATE TABLE workspaces (
    team_id    TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    domain     TEXT COLLATE "C",
    first_seen TEXT COLLATE "C" NOT NULL,  -- RFC 3339 UTC
    last_seen  TEXT COLLATE "C" NOT NULL   -- RFC 3339 UTC
);
