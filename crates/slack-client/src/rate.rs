//! Slack's per-method rate tiers and the client's budget that paces calls under them.
//!
//! Each Web API method gets its own limiter (Slack counts per method, per workspace, per app) built
//! from the tier table scaled by `SLACK_RATE_SCALE`, pacing at [`PACING`] of the limit with a burst no
//! larger than the remaining headroom, so a normal run sees few 429s. A 429 answer blocks only its method until `Retry-After` has passed;
//! every caller of that method waits on the same "blocked until" instant, other methods keep going.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

/// Most 429 answers one call waits out before giving up with [`crate::Error::RateLimited`]; counted
/// separately from the error-retry budget.
pub const MAX_RATE_LIMIT_RETRIES: u32 = 8;

/// Longest `Retry-After` the client waits out. A 429 asking for more fails the call at once with
/// [`crate::Error::RetryAfterTooLong`]: waiting longer would hang a cron run (and up to
/// [`MAX_RATE_LIMIT_RETRIES`] such waits in a row), and waiting only this long would just draw
/// the same answer again. Slack's own waits are seconds to a minute or two.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// Share of the documented limit the client paces at: slightly under, so clock skew and window
/// alignment on the server side rarely turn into 429s.
pub const PACING: f64 = 0.95;

/// Slack's rate-limit tiers, in requests per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// 1+ per minute.
    T1,
    /// 20+ per minute.
    T2,
    /// 50+ per minute.
    T3,
    /// 100+ per minute.
    T4,
    /// A method-specific limit, per minute.
    Special(u32),
}

/// The tier of a Web API method. Methods not in the table get Tier 3, Slack's most common tier.
pub fn tier_of(method: &str) -> Tier {
    match method {
        // "Hundreds per minute": 300 is well inside that.
        "auth.test" => Tier::Special(300),
        // Slack allows about one post per second per channel (several hundred per minute per
        // workspace); one per second overall keeps every channel under its limit.
        "chat.postMessage" => Tier::Special(60),
        "users.list" | "conversations.list" | "pins.list" => Tier::T2,
        // File downloads have no published tier; about ten a second is polite.
        "files.download" => Tier::Special(600),
        "conversations.members" | "users.info" => Tier::T4,
        "conversations.history"
        | "conversations.replies"
        | "conversations.invite"
        | "conversations.info"
        | "team.info" => Tier::T3,
        _ => Tier::T3,
    }
}

/// Requests per minute Slack allows for `method` (unscaled).
pub fn per_minute(method: &str) -> u32 {
    match tier_of(method) {
        Tier::T1 => 1,
        Tier::T2 => 20,
        Tier::T3 => 50,
        Tier::T4 => 100,
        Tier::Special(n) => n,
    }
}

/// The rate-limit floor: the least wall time `calls` calls of `method` need at `scale`, taken at the
/// sustained rate (`calls / (per_minute * scale)` minutes; bursts ignored). `scale <= 0` means no
/// limit, so zero.
pub fn rate_floor(method: &str, calls: u64, scale: f64) -> Duration {
    if scale <= 0.0 || !scale.is_finite() {
        return Duration::ZERO;
    }
    let per_second = f64::from(per_minute(method)) * scale / 60.0;
    Duration::from_secs_f64(calls as f64 / per_second)
}

/// The pacing state of one method: its proactive limiter and the instant a 429 blocked it until.
pub(crate) struct MethodBudget {
    limiter: Option<DefaultDirectRateLimiter>,
    blocked_until: Mutex<Option<Instant>>,
}

impl MethodBudget {
    fn new(method: &str, scale: f64) -> Self {
        let limiter = (scale > 0.0 && scale.is_finite()).then(|| {
            let limit = per_minute(method);
            let per_second = f64::from(limit) * scale * PACING / 60.0;
            let period = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_nanos(1));
            // An even stream plus a burst of the headroom left under the limit: any window of one
            // (scaled) minute then holds at most burst + PACING * limit <= limit calls, so even a
            // strict sliding window is never exceeded.
            let burst = (f64::from(limit) * (1.0 - PACING)).floor() as u32;
            let quota = Quota::with_period(period)
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
            RateLimiter::direct(quota)
        });
        MethodBudget {
            limiter,
            blocked_until: Mutex::new(None),
        }
    }

    fn blocked_until(&self) -> Option<Instant> {
        let guard = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        *guard
    }

    /// Waits until this method may send: past any 429 block, then through the limiter.
    pub(crate) async fn acquire(&self) {
        loop {
            if let Some(until) = self.blocked_until()
                && until > Instant::now()
            {
                tokio::time::sleep_until(until).await;
                continue;
            }
            if let Some(limiter) = &self.limiter {
                limiter.until_ready().await;
            }
            // A 429 may have arrived while we queued in the limiter: honour it before sending.
            match self.blocked_until() {
                Some(until) if until > Instant::now() => continue,
                _ => return,
            }
        }
    }

    /// Records a 429: every call of this method waits until `wait` from now.
    pub(crate) fn block_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut guard = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none_or(|current| current < until) {
            *guard = Some(until);
        }
    }
}

/// All methods' budgets for one client (one token, one workspace), created on first use.
pub(crate) struct RateBudget {
    scale: f64,
    methods: Mutex<HashMap<String, Arc<MethodBudget>>>,
}

impl RateBudget {
    pub(crate) fn new(scale: f64) -> Self {
        RateBudget {
            scale,
            methods: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn method(&self, method: &str) -> Arc<MethodBudget> {
        let mut map = self.methods.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(method.to_string())
            .or_insert_with(|| Arc::new(MethodBudget::new(method, self.scale)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_the_table() {
        assert_eq!(per_minute("users.list"), 20);
        assert_eq!(per_minute("conversations.members"), 100);
        assert_eq!(per_minute("conversations.history"), 50);
        assert_eq!(tier_of("conversations.list"), Tier::T2);
        assert_eq!(tier_of("something.new"), Tier::T3);
    }

    #[test]
    fn floor_is_calls_over_sustained_rate() {
        // 500 members calls at 100/min sped up 60x = 100/s -> 5 s.
        assert_eq!(
            rate_floor("conversations.members", 500, 60.0),
            Duration::from_secs(5)
        );
        assert_eq!(
            rate_floor("conversations.members", 500, 0.0),
            Duration::ZERO
        );
    }

    #[tokio::test]
    async fn limiter_paces_near_the_scaled_rate() {
        // users.info: 100/min * 600 = 1000/s, paced at 950/s with a burst of 5: 100 calls need ~0.1 s.
        let budget = RateBudget::new(600.0);
        let m = budget.method("users.info");
        let start = std::time::Instant::now();
        for _ in 0..100 {
            m.acquire().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(90), "too fast: {took:?}");
    }

    #[tokio::test]
    async fn block_holds_only_its_method() {
        let budget = RateBudget::new(0.0);
        budget.method("a").block_for(Duration::from_millis(2000));
        let start = std::time::Instant::now();
        budget.method("b").acquire().await;
        // Generous: "b" must not wait out a's 2 s block, however loaded the machine is.
        assert!(start.elapsed() < Duration::from_millis(1000));
        budget.method("a").acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(1990));
    }
}
