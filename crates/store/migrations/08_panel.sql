-- 08_panel: admin-panel's audit trail: every login attempt (failed ones too), logout and action,
-- so a security reviewer can see who looked and what they did. Passwords are never stored here.

CREATE TABLE panel_events (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,                -- RFC 3339 UTC
    -- login_ok | login_failed | login_limited | logout | action
    kind     TEXT NOT NULL CHECK (kind IN ('login_ok', 'login_failed', 'login_limited', 'logout', 'action')),
    username TEXT NOT NULL,                -- as typed at the login form (may be unknown)
    address  TEXT NOT NULL,                -- the client's IP address
    detail   TEXT                          -- what the action was, or why a login failed
) STRICT;

CREATE INDEX panel_events_by_time ON panel_events (id DESC);
