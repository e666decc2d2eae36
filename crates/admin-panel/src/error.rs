//! The one error type handlers return: it becomes the HTTP response (status + a short page or JSON
//! body), so no handler builds an error page by hand. Internal details go to the log, not the client.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    /// Not logged in where a login is needed: the page redirects to the login form.
    #[error("login required")]
    LoginRequired,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("too many failed logins; try again later")]
    TooManyAttempts,
    #[error("too many open sessions; try again later")]
    TooManySessions,
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("database: {0}")]
    Db(#[from] store::db::DbError),
    #[error("internal error: {0}")]
    Internal(String),
    /// The panel's configuration (team.json, insight.json) is missing or invalid: shown, as the
    /// reader can act on it.
    #[error("{0}")]
    Config(String),
}

impl AppError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::LoginRequired => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            Self::TooManySessions | Self::Config(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) | Self::Db(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Self::LoginRequired = self {
            return (
                StatusCode::SEE_OTHER,
                [(axum::http::header::LOCATION, "/login")],
            )
                .into_response();
        }
        let shown = if status.is_server_error() && !matches!(self, Self::Config(_)) {
            tracing::error!("{self}");
            "internal error (see the panel's log)".to_string()
        } else {
            self.to_string()
        };
        let body = crate::layout::error_page(status, &shown);
        (status, body).into_response()
    }
}

/// The result every handler returns.
pub type AppResult<T> = Result<T, AppError>;
