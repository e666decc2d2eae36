//! How far a run is, reported as it goes: [`RunProgress`] is what a run calls, [`ProgressCounter`]
//! keeps the latest figures for a page that polls them.

use std::sync::Mutex;

use roster::Platform;
use serde::Serialize;

/// The steps of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    /// Listing users and groups and reading their members.
    Scanning,
    /// Auditing, writing the reports and recording the run in the history.
    Recording,
    /// Posting the summary to Slack (`notify`).
    Notifying,
    /// Over (successfully or not).
    Done,
}

/// Receives a run's progress. Every method has a default that ignores it, so an observer
/// implements only what it shows. Called from the run's tasks: keep it quick.
pub trait RunProgress: Send + Sync {
    fn phase(&self, _phase: RunPhase) {}
    /// `total` groups of `platform` are in scope and will be read.
    fn groups_total(&self, _platform: Platform, _total: u64) {}
    /// One more group of `platform` was read (or failed to be).
    fn group_done(&self, _platform: Platform) {}
}

/// Progress nobody watches.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl RunProgress for NoProgress {}

/// The figures of a run at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgressSnapshot {
    /// `None` until the run starts scanning.
    pub phase: Option<RunPhase>,
    /// Groups read so far, over every platform.
    pub groups_done: u64,
    /// Groups in scope so far, over every platform (grows as each platform lists its groups).
    pub groups_total: u64,
}

/// Keeps the latest figures; [`ProgressCounter::snapshot`] reads them from any thread.
#[derive(Debug, Default)]
pub struct ProgressCounter {
    state: Mutex<ProgressSnapshot>,
}

impl ProgressCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn snapshot(&self) -> ProgressSnapshot {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProgressSnapshot> {
        // A panic while holding this lock cannot leave the counters inconsistent: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RunProgress for ProgressCounter {
    fn phase(&self, phase: RunPhase) {
        self.lock().phase = Some(phase);
    }

    fn groups_total(&self, _platform: Platform, total: u64) {
        self.lock().groups_total += total;
    }

    fn group_done(&self, _platform: Platform) {
        self.lock().groups_done += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_sums_platforms_and_keeps_the_latest_phase() {
        let c = ProgressCounter::new();
        assert_eq!(c.snapshot(), ProgressSnapshot::default());
        c.phase(RunPhase::Scanning);
        c.groups_total(Platform::Slack, 3);
        c.groups_total(Platform::Telegram, 2);
        c.group_done(Platform::Slack);
        c.group_done(Platform::Telegram);
        assert_eq!(
            c.snapshot(),
            ProgressSnapshot {
                phase: Some(RunPhase::Scanning),
                groups_done: 2,
                groups_total: 5
            }
        );
        c.phase(RunPhase::Done);
        assert_eq!(c.snapshot().phase, Some(RunPhase::Done));
    }
}
