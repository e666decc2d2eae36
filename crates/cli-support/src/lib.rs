//! Conventions shared by every tool binary: common flags, logging to stderr, exit codes, confirmation prompts, shell completions and man pages.
