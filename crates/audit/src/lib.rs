//! Audit engine: given groups with their members (any platform) and the roster, compute per-group coverage findings and the run summary.
