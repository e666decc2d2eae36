//! Slack's per-method rate limits, sped up by a scale factor: a sliding window of `60/scale`
//! seconds per method (per channel for chat.postMessage), a tier's allowance plus a small burst
//! tolerance (Slack's "+"), and an integer `Retry-After` when a call is over.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The limit applied to one method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateRule {
    /// Calls allowed per (scaled) minute before the burst tolerance.
    pub per_minute: u32,
    /// Whether the limit is counted per channel (chat.postMessage) rather than per method.
    pub per_channel: bool,
}

impl RateRule {
    /// Calls actually admitted per window: the allowance plus 10% (at least one) of burst.
    pub fn admitted(&self) -> usize {
        let p = self.per_minute as usize;
        p + (p / 10).max(1)
    }
}

/// The rule for a method, following Slack's published tiers (see the facts file):
/// Tier 2 = 20/min, Tier 3 = 50/min, Tier 4 = 100/min, special cases per method.
pub fn rate_rule(method: &str) -> Option<RateRule> {
    let (per_minute, per_channel) = match method {
        "auth.test" => (600, false),
        "users.list" | "conversations.list" | "pins.list" => (20, false),
        "conversations.history"
        | "conversations.replies"
        | "conversations.invite"
        | "conversations.info"
        | "team.info" => (50, false),
        "conversations.members" | "users.info" => (100, false),
        // Slack: about one message per second per channel.
        "chat.postMessage" => (60, true),
        _ => return None,
    };
    Some(RateRule {
        per_minute,
        per_channel,
    })
}

/// Sliding-window counters of admitted calls, keyed by method (and channel).
#[derive(Debug)]
pub(crate) struct RateLimiter {
    window: Duration,
    calls: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    pub(crate) fn new(scale: f64) -> Self {
        let secs = 60.0 / scale.max(1e-6);
        RateLimiter {
            window: Duration::from_secs_f64(secs),
            calls: HashMap::new(),
        }
    }

    /// Admits the call (and counts it) or answers the whole seconds to wait, rounded up as
    /// Slack's `Retry-After` is. Rejected calls are not counted, as on Slack.
    pub(crate) fn check(&mut self, key: &str, rule: RateRule, now: Instant) -> Result<(), u64> {
        let q = self.calls.entry(key.to_string()).or_default();
        while let Some(&front) = q.front() {
            if now.duration_since(front) >= self.window {
                q.pop_front();
            } else {
                break;
            }
        }
        if q.len() < rule.admitted() {
            q.push_back(now);
            return Ok(());
        }
        let oldest = q.front().copied().unwrap_or(now);
        let wait = self.window.saturating_sub(now.duration_since(oldest));
        Err((wait.as_secs_f64().ceil() as u64).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_allowance_plus_burst_then_rejects_until_window_passes() {
        let rule = rate_rule("users.list").expect("tiered");
        assert_eq!(rule.admitted(), 22);
        let mut rl = RateLimiter::new(1.0);
        let t0 = Instant::now();
        for _ in 0..22 {
            assert!(rl.check("users.list", rule, t0).is_ok());
        }
        assert_eq!(rl.check("users.list", rule, t0), Err(60));
        assert_eq!(
            rl.check("users.list", rule, t0 + Duration::from_millis(59_500)),
            Err(1)
        );
        // Another method has its own budget.
        assert!(
            rl.check("users.info", rate_rule("users.info").expect("tiered"), t0)
                .is_ok()
        );
        assert!(
            rl.check("users.list", rule, t0 + Duration::from_secs(60))
                .is_ok()
        );
    }
}
