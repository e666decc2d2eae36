-- notifications for every tool (issue 14): what was sent, not only where. Rows logged by
-- slack-audit --notify before this migration keep NULL event/text (they were audit summaries).

ALTER TABLE notifications ADD COLUMN event TEXT;        -- e.g. 'audit_complete'; NULL = legacy summary
ALTER TABLE notifications ADD COLUMN text TEXT;         -- the rendered plain-text fallback
ALTER TABLE notifications ADD COLUMN blocks TEXT;       -- the rendered Block Kit JSON array
ALTER TABLE notifications ADD COLUMN template TEXT;     -- 'template', 'fallback' or 'builtin'
ALTER TABLE notifications ADD COLUMN priority TEXT;     -- 'low', 'normal' or 'high'

CREATE INDEX notifications_by_status ON notifications (status);
