//! slack-sim: a local Slack-compatible Web API server over an in-memory workspace, the test double
//! for every tool and the engine of `--demo`.
//!
//! [`generate`] builds a deterministic workspace from a [`GenSpec`]; [`start`] serves it over HTTP
//! on loopback with Slack's response shapes, pagination, auth, scopes, rate limits and injected
//! faults; the returned [`SimHandle`] exposes the request log and the live workspace to tests.
//! The file format, flags and the fault/rate model are documented in `docs/slack-sim.md`.

mod files;
mod generate;
mod index;
mod methods;
mod model;
mod oauth;
mod params;
mod rate;
mod server;

use std::path::PathBuf;

pub use files::file_content;
pub use generate::{GenSpec, add_external_users, generate};
pub use model::{
    Channel, ChannelKind, Team, ThreadSummary, TopicField, Workspace, format_ts, str_field, ts_key,
};
pub use oauth::OAuthApp;
pub use rate::{RateRule, rate_rule};
pub use server::{RequestRecord, SimHandle, start};

/// The token the `slack-sim` binary accepts unless told otherwise. It is published (docs, tests),
/// so [`start`] refuses it on any address other than loopback: there, anyone who can reach the
/// port could read the workspace with it.
pub const DEFAULT_TOKEN: &str = "xoxp-sim";

/// How the server behaves, apart from the workspace it serves.
#[derive(Clone, Default)]
pub struct SimOptions {
    /// The only token the sim accepts (as `Authorization: Bearer` or a `token` param).
    pub token: String,
    /// Scopes granted to the token; `None` grants every scope.
    pub scopes: Option<Vec<String>>,
    /// Enforce Slack's per-method rate limits sped up this many times; `None` = no limits.
    pub rate_scale: Option<f64>,
    /// Probability per request of an injected fault (0.0 = none).
    pub faults: f64,
    /// Seed of the fault sequence: the same seed and request order give the same faults.
    pub fault_seed: u64,
    /// Also append each request record to this file as a JSON line.
    pub log_file: Option<PathBuf>,
    /// Faults given in advance, each for the next call of its method (in order); see
    /// [`ScriptedFault`]. Applied on top of the random `faults`.
    pub fault_script: Vec<ScriptedFault>,
}

/// One planned fault: the next call of `method` gets `fault`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedFault {
    pub method: String,
    pub fault: FaultKind,
}

/// A scripted fault. The `*AfterEffect` kinds run the method (a post is stored) and then answer
/// as a failing Slack or network would: the client cannot tell whether its request took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// HTTP 429 with `Retry-After: 1`, nothing done.
    RateLimited,
    /// HTTP 500, nothing done.
    ServerError,
    /// The connection reset, nothing done.
    Reset,
    /// The method ran, then HTTP 500.
    ServerErrorAfterEffect,
    /// The method ran, then the connection reset.
    ResetAfterEffect,
}

impl std::str::FromStr for ScriptedFault {
    type Err = String;

    /// `METHOD=KIND`, KIND one of `429`, `500`, `reset`, `500-after`, `reset-after`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (method, kind) = s.split_once('=').ok_or_else(|| {
            format!("{s:?}: expected METHOD=KIND, e.g. chat.postMessage=500-after")
        })?;
        let fault = match kind {
            "429" => FaultKind::RateLimited,
            "500" => FaultKind::ServerError,
            "reset" => FaultKind::Reset,
            "500-after" => FaultKind::ServerErrorAfterEffect,
            "reset-after" => FaultKind::ResetAfterEffect,
            other => {
                return Err(format!(
                    "{other:?}: unknown fault; use 429, 500, reset, 500-after or reset-after"
                ));
            }
        };
        Ok(ScriptedFault {
            method: method.to_string(),
            fault,
        })
    }
}

impl std::fmt::Debug for SimOptions {
    // Hand-written so the token never shows up in Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOptions")
            .field("token", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("rate_scale", &self.rate_scale)
            .field("faults", &self.faults)
            .field("fault_seed", &self.fault_seed)
            .field("log_file", &self.log_file)
            .field("fault_script", &self.fault_script)
            .finish()
    }
}

/// Errors starting the sim or reading/writing workspace files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read or write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid workspace JSON file: {source}", path.display())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error(
        "refusing to listen on {addr} with the well-known token {DEFAULT_TOKEN:?}: the address is \
         not loopback, so anyone who can reach it could read the workspace"
    )]
    WellKnownToken { addr: std::net::SocketAddr },
}

impl SimError {
    /// What to do about it, for a `hint:` line.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            SimError::WellKnownToken { .. } => Some(
                "pass --token (or SLACK_SIM_TOKEN) with a secret of your own, or listen on \
                 127.0.0.1",
            ),
            _ => None,
        }
    }
}
