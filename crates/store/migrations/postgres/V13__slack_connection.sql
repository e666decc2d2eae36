-- V13__slack_connection: mirrors 13_slack_connection.sql (the workspace connected through the
-- admin panel's "Connect Slack"). Differences: the PostgreSQL types (see README.md), BYTEA for the
-- sealed token; the id stays a plain BIGINT PRIMARY KEY (the code writes id 1, the only row); no
-- STRICT. The user token is stored only sealed (ChaCha20-Poly1305, key outside the database, see
-- docs/slack-connect.md): `token_nonce` + `token_sealed`, never in clear.

CREATE TABLE slack_connection (
    id              BIGINT PRIMARY KEY CHECK (id = 1),
    team_id         TEXT COLLATE "C" NOT NULL,
    team_name       TEXT COLLATE "C" NOT NULL,
    app_id          TEXT COLLATE "C",
    authed_user_id  TEXT COLLATE "C" NOT NULL,  -- the Slack user who approved the install
    scopes          TEXT COLLATE "C" NOT NULL,  -- granted user scopes, comma-separated as Slack sends them
    token_nonce     BYTEA NOT NULL,             -- 12 bytes, fresh per seal
    token_sealed    BYTEA NOT NULL,             -- ciphertext + 16-byte tag
    connected_by    TEXT COLLATE "C" NOT NULL,  -- the panel user who connected it
    connected_at    TEXT COLLATE "C" NOT NULL,  -- RFC 3339 UTC
    default_channel TEXT COLLATE "C"            -- default notification channel (name or ID), set by an admin
);
