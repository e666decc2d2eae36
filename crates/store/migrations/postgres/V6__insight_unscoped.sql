-- V6__insight_unscoped: mirrors 06_insight_unscoped.sql (when a stored channel left insight's
-- scope without being opted out). Differences: BIGINT for INTEGER.
--
-- A channel that merely vanished from scope (a typo in insight.json, a short conversations.list
-- answer) keeps its data for a grace period instead of being deleted at once; an explicit opt-out
-- or a revoked private opt-in still deletes at the next sync.
ALTER TABLE insight_channels ADD COLUMN unscoped_since_us BIGINT; -- Unix µs; NULL while in scope
