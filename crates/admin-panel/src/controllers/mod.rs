//! One controller module per resource; each has its HTML page and its `/api/v1/` JSON answer.
//! A new page (Audits, Group, Team, Engagement) is a new module here, a `routes()` entry, and a
//! line in [`crate::layout::NAV`].

pub mod activity;
pub mod assets;
pub mod audits;
pub mod dashboard;
pub mod engagement;
pub mod groups;
pub mod helpers;
pub mod run;
pub mod session;
pub mod slack;
pub mod team;

use axum::Router;

use crate::AppState;

/// Every route of the panel.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(dashboard::routes())
        .merge(activity::routes())
        .merge(team::routes())
        .merge(engagement::routes())
        .merge(audits::routes())
        .merge(groups::routes())
        .merge(session::routes())
        .merge(run::routes())
        .merge(slack::routes())
        .merge(assets::routes())
}
