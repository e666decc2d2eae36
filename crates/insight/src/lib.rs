//! Engagement analytics shared by insight-sync and insight-report: the strict `insight.json`
//! config ([`config`]), local-time helpers ([`time`]) and the metrics computed from the store's
//! materialized aggregates ([`metrics`]).

pub mod config;
pub mod metrics;
pub mod time;

pub use config::{ConfigError, InsightConfig, is_user_id, load_config};
pub use metrics::{Cohort, Metrics, Period, compute};
