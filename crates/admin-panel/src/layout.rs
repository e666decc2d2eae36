//! The page frame every HTML page shares (navigation, stylesheet link, who is logged in), and the
//! error page. maud escapes every interpolated value, so platform names are shown as text.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use crate::auth::Viewer;

/// The navigation: one entry per page. A new page adds its controller module and a line here.
pub const NAV: &[(&str, &str)] = &[
    ("/", "Dashboard"),
    ("/audits", "Audits"),
    ("/team", "Team"),
    ("/engagement", "Engagement"),
    ("/activity", "Activity"),
    ("/run", "Audit run"),
    ("/slack", "Slack"),
];

/// A full page around `body`.
pub fn page(title: &str, viewer: Option<&Viewer>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · admin-panel" }
                link rel="stylesheet" href="/assets/panel.css";
                link rel="icon" href="/assets/favicon.svg" type="image/svg+xml";
            }
            body {
                header {
                    nav {
                        span.brand { "slack-tools" }
                        @for (href, label) in NAV { a href=(href) { (label) } }
                    }
                    @if let Some(v) = viewer {
                        div.who {
                            @if let Some(name) = &v.username {
                                span { (name) " (" (v.role.as_str()) ")" }
                                form method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=[v.csrf.as_deref()];
                                    button type="submit" { "Log out" }
                                }
                            } @else {
                                span.muted { "read-only (no users configured)" }
                            }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The page shown for an error response.
pub fn error_page(status: StatusCode, message: &str) -> Markup {
    page(
        status.canonical_reason().unwrap_or("Error"),
        None,
        html! { p.error { (message) } p { a href="/" { "Back to the dashboard" } } },
    )
}
