//! Demo mode: start slack-sim in-process with the built-in demo workspace and team config, and hand a tool a client pointed at it.
