//! Rendered answers (a page's content below the header, a JSON body) kept under a key that names
//! everything they were made from: the cache key of the figures (which moves with the store, see
//! `controllers::engagement::EngagementKey`) or a finished run's identity, plus the request's
//! parameters. Rendering a thousand-row table or serialising a megabyte of JSON per request cost
//! more than everything else an answer does; the same answer is asked for again and again.
//! The header (who is logged in, the logout form's CSRF token) is never kept: it is rendered
//! around the kept content per request.

use axum::body::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::error::{AppError, AppResult};

/// Bytes kept at most (the least recently asked-for answers go first).
const CAPACITY_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Clone)]
struct ByLength;

impl Weighter<String, Bytes> for ByLength {
    fn weight(&self, key: &String, val: &Bytes) -> u64 {
        (key.len() + val.len()) as u64
    }
}

pub struct Rendered(Cache<String, Bytes, ByLength>);

impl Default for Rendered {
    fn default() -> Self {
        Rendered(Cache::with_weighter(256, CAPACITY_BYTES, ByLength))
    }
}

impl Rendered {
    /// The answer kept under `key`, or `render`'s (kept for the next request). Requests for a
    /// key being rendered wait for it without holding a runtime thread.
    pub async fn get_or_render(
        &self,
        key: String,
        render: impl FnOnce() -> AppResult<Bytes>,
    ) -> AppResult<Bytes> {
        self.0
            .get_or_insert_async(&key, async move { render() })
            .await
    }
}

/// Kept page content as the `&str` it was made from.
pub fn as_html(content: &Bytes) -> AppResult<&str> {
    std::str::from_utf8(content)
        .map_err(|e| AppError::Internal(format!("kept page content is not UTF-8: {e}")))
}
