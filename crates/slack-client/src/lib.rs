//! Typed async client for the subset of Slack's Web API the tools use: paginated streams, per-method rate budgets, bounded retries, and errors that say how to fix them.
