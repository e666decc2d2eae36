//! slack-sim: a local Slack-compatible Web API server over an in-memory workspace, the test double for every tool and the engine of `--demo`.
