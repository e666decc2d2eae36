//! The events the tools report, and the variables (context) each one gives its template.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The variables of one occurrence of an event, by name. Values are user data (channel names,
/// handles, error texts): rendering escapes them.
pub type Context = BTreeMap<String, String>;

/// Something a tool reports. docs/notifications.md lists each one's variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event {
    AuditComplete,
    AuditNewGaps,
    SyncFailed,
    SyncComplete,
    ExportComplete,
    MembersAdded,
    TelegramSessionExpired,
    SystemAlert,
}

impl Event {
    pub const ALL: [Event; 8] = [
        Event::AuditComplete,
        Event::AuditNewGaps,
        Event::SyncFailed,
        Event::SyncComplete,
        Event::ExportComplete,
        Event::MembersAdded,
        Event::TelegramSessionExpired,
        Event::SystemAlert,
    ];

    /// The name in notifications.json, the store and `notifications test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::AuditComplete => "audit_complete",
            Event::AuditNewGaps => "audit_new_gaps",
            Event::SyncFailed => "sync_failed",
            Event::SyncComplete => "sync_complete",
            Event::ExportComplete => "export_complete",
            Event::MembersAdded => "members_added",
            Event::TelegramSessionExpired => "telegram_session_expired",
            Event::SystemAlert => "system_alert",
        }
    }

    /// The message header.
    pub fn title(self) -> &'static str {
        match self {
            Event::AuditComplete => "Customer coverage audit",
            Event::AuditNewGaps => "New coverage gaps",
            Event::SyncFailed => "Insight sync failed",
            Event::SyncComplete => "Insight sync complete",
            Event::ExportComplete => "Slack export complete",
            Event::MembersAdded => "Members added",
            Event::TelegramSessionExpired => "Telegram session expired",
            Event::SystemAlert => "System alert",
        }
    }

    /// The variables every occurrence of this event has, with a sample value each (used by
    /// `notifications test` and to check templates).
    pub fn variables(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Event::AuditComplete => &[
                ("coverage", "92.5%"),
                ("groups", "40"),
                ("groups_with_gaps", "3"),
                ("missing_required", "4"),
                ("new_gaps", "1"),
                ("closed_gaps", "2"),
                ("run_id", "17"),
                ("summary", "37 of 40 customer groups complete"),
            ],
            Event::AuditNewGaps => &[
                ("count", "2"),
                ("gaps", "bitsafe-acme: aki; bitsafe-globex: maria"),
                ("coverage", "92.5%"),
                ("run_id", "17"),
            ],
            Event::SyncFailed => &[
                ("error", "conversations.history: HTTP 500"),
                ("tool", "insight-sync"),
            ],
            Event::SyncComplete => &[
                ("channels", "12"),
                ("users", "40"),
                ("events", "3400"),
                ("failed_channels", "0"),
                ("tool", "insight-sync"),
            ],
            Event::ExportComplete => &[
                ("channels", "5"),
                ("messages", "12000"),
                ("files", "30"),
                ("output", "out/export"),
            ],
            Event::MembersAdded => &[
                ("count", "3"),
                ("channels", "bitsafe-acme, bitsafe-globex"),
                ("members", "aki, maria"),
                ("failed", "0"),
            ],
            Event::TelegramSessionExpired => &[
                ("tool", "slack-audit"),
                ("detail", "the session is not authorised"),
            ],
            Event::SystemAlert => &[("message", "disk almost full"), ("tool", "notifications")],
        }
    }

    /// Sample context: every variable with its sample value.
    pub fn sample(self) -> Context {
        self.variables()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The message used when notifications.json gives no template: every variable, one a line.
    pub fn builtin_template(self) -> String {
        self.variables()
            .iter()
            .map(|(k, _)| format!("{}: {{{k}}}", k.replace('_', " ")))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event name that is not one of [`Event::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event `{0}`; events: {list}", list = Event::ALL.map(Event::as_str).join(", "))]
pub struct UnknownEvent(pub String);

impl FromStr for Event {
    type Err = UnknownEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Event::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownEvent(s.to_string()))
    }
}
