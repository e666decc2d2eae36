//! Embedded static files: nothing is fetched from a CDN and nothing needs a build step.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

const CSS: &str = include_str!("../../assets/panel.css");
const ICON: &str = include_str!("../../assets/favicon.svg");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/assets/panel.css", get(css))
        // Browsers ask for /favicon.ico on pages without a link (the JSON answers); a 404 there
        // is a console error.
        .route("/assets/favicon.svg", get(icon))
        .route("/favicon.ico", get(icon))
}

async fn icon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        ICON,
    )
}

async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        CSS,
    )
}
