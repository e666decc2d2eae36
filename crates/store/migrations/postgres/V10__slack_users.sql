-- V10__slack_users: mirrors 10_slack_users.sql (people slack-export looked up with users.info,
-- cached across runs). Differences: the PostgreSQL types (see README.md); no STRICT; user_id is
-- NOT NULL here as every PostgreSQL primary key is (SQLite would accept a NULL key; the code never
-- writes one). `found = 0` records a user_not_found answer.

CREATE TABLE slack_users_cache (
    user_id    TEXT COLLATE "C" PRIMARY KEY,
    team_id    TEXT COLLATE "C",          -- the person's own workspace (another team for Connect people)
    found      BIGINT NOT NULL CHECK (found IN (0, 1)),
    user_json  TEXT COLLATE "C",          -- the users.info member object; NULL when not found
    fetched_at TEXT COLLATE "C" NOT NULL  -- RFC 3339 UTC
);
