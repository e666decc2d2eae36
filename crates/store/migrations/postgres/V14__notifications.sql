-- V14__notifications: mirrors 14_notifications.sql (notifications for every tool: what was sent,
-- not only where). Differences: TEXT COLLATE "C" (see README.md); otherwise the same statements.
-- Rows logged by slack-audit --notify before this migration keep NULL event/text (they were audit
-- summaries).

ALTER TABLE notifications ADD COLUMN event TEXT COLLATE "C";     -- e.g. 'audit_complete'; NULL = legacy summary
ALTER TABLE notifications ADD COLUMN text TEXT COLLATE "C";      -- the rendered plain-text fallback
ALTER TABLE notifications ADD COLUMN blocks TEXT COLLATE "C";    -- the rendered Block Kit JSON array
ALTER TABLE notifications ADD COLUMN template TEXT COLLATE "C";  -- 'template', 'fallback' or 'builtin'
ALTER TABLE notifications ADD COLUMN priority TEXT COLLATE "C";  -- 'low', 'normal' or 'high'

CREATE INDEX notifications_by_status ON notifications (status);
