-- 13_slack_connection: the workspace connected through the admin panel's "Connect Slack" (OAuth v2
-- install). One row at most. The user token is stored only sealed (ChaCha20-Poly1305, key outside
-- the database, see docs/slack-connect.md): `token_nonce` + `token_sealed`, never in clear.

CREATE TABLE slack_connection (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    team_id         TEXT NOT NULL,
    team_name       TEXT NOT NULL,
    app_id          TEXT,
    authed_user_id  TEXT NOT NULL,         -- the Slack user who approved the install
    scopes          TEXT NOT NULL,         -- granted user scopes, comma-separated as Slack sends them
    token_nonce     BLOB NOT NULL,         -- 12 bytes, fresh per seal
    token_sealed    BLOB NOT NULL,         -- ciphertext + 16-byte tag
    connected_by    TEXT NOT NULL,         -- the panel user who connected it
    connected_at    TEXT NOT NULL,         -- RFC 3339 UTC
    default_channel TEXT                   -- default notification channel (name or ID), set by an admin
) STRICT;
