-- 10_slack_users: people slack-export looked up with users.info because users.list did not return
-- them (Slack Connect members of another organisation), cached across runs so each is asked once.
-- `found = 0` records a user_not_found answer: the ID stays unresolved and is not asked again.

CREATE TABLE slack_users_cache (
    user_id    TEXT PRIMARY KEY,
    team_id    TEXT,                   -- the person's own workspace (another team for Connect people)
    found      INTEGER NOT NULL CHECK (found IN (0, 1)),
    user_json  TEXT,                   -- the users.info member object; NULL when not found
    fetched_at TEXT NOT NULL           -- RFC 3339 UTC
) STRICT;
