//! Demo mode: start slack-sim in-process on a loopback port with a built-in workspace (customer
//! channels with realistic gaps, threads, reactions) and the matching team config, and hand a tool
//! a client pointed at it. Every Slack-facing tool's `--demo` goes through [`DemoEnv::start`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};
use slack_client::{ClientConfig, SlackClient};
use slack_sim::{Channel, SimHandle, SimOptions, Team, TopicField, Workspace};

/// The demo roster (`team.json`), shipped inside the binary.
pub const TEAM_JSON: &str = include_str!("../data/team.json");
/// The demo scope and categories (`categories.json`).
pub const CATEGORIES_JSON: &str = include_str!("../data/categories.json");
/// The demo engagement-analytics config (`insight.json`): two private channels opted in, one user opted out.
pub const INSIGHT_JSON: &str = include_str!("../data/insight.json");

/// The token the demo sim accepts. Not a secret: it only opens the in-process demo sim.
pub const DEMO_TOKEN: &str = "xoxp-demo-0000";

/// A running demo: the sim, a config directory holding the demo config files, and a client
/// configuration pointed at the sim. Dropping it stops nothing explicitly: the sim task ends with
/// the runtime; call [`DemoEnv::shutdown`] for an orderly stop.
pub struct DemoEnv {
    pub sim: SimHandle,
    /// Directory with the demo `team.json` and `categories.json` (a temp dir, removed on drop).
    pub config_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl DemoEnv {
    /// Starts the demo sim with no rate limits (a demo should be quick) and writes the demo config.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(SimOptions::default()).await
    }

    /// Starts the demo sim with the given options (the token is always the demo token).
    pub async fn start_with(mut opts: SimOptions) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("slack-tools-demo-")
            .tempdir()
            .context("creating a temporary directory for the demo config")?;
        write_config(dir.path())?;
        opts.token = DEMO_TOKEN.to_string();
        let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
        let sim = slack_sim::start(addr, workspace(), opts)
            .await
            .context("starting the demo slack-sim")?;
        Ok(Self {
            sim,
            config_dir: dir.path().to_path_buf(),
            _dir: dir,
        })
    }

    /// Client settings for the demo sim: the sim has no rate limits, so the client paces nothing.
    pub fn client_config(&self) -> ClientConfig {
        let mut cfg = ClientConfig::new(DEMO_TOKEN, self.sim.base_url());
        cfg.rate_scale = 0.0;
        cfg
    }

    /// A client pointed at the demo sim.
    pub fn client(&self) -> anyhow::Result<SlackClient> {
        SlackClient::new(self.client_config()).context("building the demo Slack client")
    }

    pub async fn shutdown(self) {
        self.sim.shutdown().await;
    }
}

/// Writes the demo `team.json`, `categories.json` and `insight.json` into `dir`.
pub fn write_config(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in [
        ("team.json", TEAM_JSON),
        ("categories.json", CATEGORIES_JSON),
        ("insight.json", INSIGHT_JSON),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The team account, the customer contacts and the channels of the demo workspace.
struct Person {
    id: &'static str,
    name: &'static str,
    real: &'static str,
    display: &'static str,
    email: &'static str,
}

const OPS: &str = "U0DEMOOPS";

const STAFF: &[Person] = &[
    Person {
        id: OPS,
        name: "opsdesk",
        real: "Ops Desk",
        display: "ops",
        email: "ops@bitsafe.example",
    },
    Person {
        id: "U0DEMOAKI",
        name: "aki",
        real: "Aki Balogh",
        display: "Aki",
        email: "aki@bitsafe.example",
    },
    Person {
        id: "U0DEMOMAR",
        name: "mlopez",
        real: "Maria Lopez",
        display: "Maria",
        email: "maria@bitsafe.example",
    },
    Person {
        id: "U0DEMODEV",
        name: "devpatel",
        real: "Dev Patel",
        display: "Dev",
        email: "dev@bitsafe.example",
    },
    Person {
        id: "U0DEMOSAM",
        name: "schen",
        real: "Sam Chen",
        display: "Sam",
        email: "sam@bitsafe.example",
    },
    Person {
        id: "U0DEMOFRK",
        name: "ffox",
        real: "Frank Fox",
        display: "Frank",
        email: "frank@example.com",
    },
    Person {
        id: "U0DEMOALI",
        name: "alice",
        real: "Alice Wong",
        display: "Alice",
        email: "alice@bitsafe.example",
    },
    Person {
        id: "U0DEMOBOB",
        name: "bob",
        real: "Bob Stone",
        display: "Bob",
        email: "bob@bitsafe.example",
    },
];

/// Customer-side contacts, one pair per company (index into channel definitions below).
const CUSTOMERS: &[Person] = &[
    Person {
        id: "U0CUSACM1",
        name: "jane.acme",
        real: "Jane Doe",
        display: "Jane (Acme)",
        email: "jane@acme.example",
    },
    Person {
        id: "U0CUSACM2",
        name: "raj.acme",
        real: "Raj Iyer",
        display: "Raj",
        email: "raj@acme.example",
    },
    Person {
        id: "U0CUSGLX1",
        name: "hank.globex",
        real: "Hank Scorpio",
        display: "Hank",
        email: "hank@globex.example",
    },
    Person {
        id: "U0CUSINI1",
        name: "peter.initech",
        real: "Peter Gibbons",
        display: "Peter",
        email: "peter@initech.example",
    },
    Person {
        id: "U0CUSUMB1",
        name: "alice.umbrella",
        real: "Alice Abernathy",
        display: "A. Abernathy",
        email: "alice@umbrella.example",
    },
    Person {
        id: "U0CUSHOO1",
        name: "gavin.hooli",
        real: "Gavin Belson",
        display: "Gavin",
        email: "gavin@hooli.example",
    },
    Person {
        id: "U0CUSWAY1",
        name: "lucius.wayne",
        real: "Lucius Fox",
        display: "Lucius",
        email: "lucius@wayne.example",
    },
    Person {
        id: "U0CUSSTK1",
        name: "pepper.stark",
        real: "Pepper Potts",
        display: "Pepper",
        email: "pepper@stark.example",
    },
];

struct ChannelDef {
    id: &'static str,
    name: &'static str,
    private: bool,
    archived: bool,
    ext_shared: bool,
    staff: &'static [&'static str],
    customers: &'static [&'static str],
    purpose: &'static str,
    /// Messages per day on active days; 0 = a quiet channel.
    activity: u32,
}

const ALL_STAFF: &[&str] = &[OPS, "U0DEMOAKI", "U0DEMOMAR", "U0DEMODEV", "U0DEMOSAM"];

const CHANNELS: &[ChannelDef] = &[
    ChannelDef {
        id: "C0DEMOGEN",
        name: "general",
        private: false,
        archived: false,
        ext_shared: false,
        staff: &[
            OPS,
            "U0DEMOAKI",
            "U0DEMOMAR",
            "U0DEMODEV",
            "U0DEMOSAM",
            "U0DEMOFRK",
            "U0DEMOALI",
            "U0DEMOBOB",
        ],
        customers: &[],
        purpose: "Company-wide announcements",
        activity: 3,
    },
    ChannelDef {
        id: "C0DEMOACM",
        name: "bitsafe-acme",
        private: true,
        archived: false,
        ext_shared: true,
        staff: &[
            OPS,
            "U0DEMOAKI",
            "U0DEMOMAR",
            "U0DEMODEV",
            "U0DEMOSAM",
            "U0DEMOFRK",
        ],
        customers: &["U0CUSACM1", "U0CUSACM2"],
        purpose: "Acme <> BitSafe",
        activity: 6,
    },
    ChannelDef {
        id: "C0DEMOGLX",
        name: "bitsafe-globex",
        private: true,
        archived: false,
        ext_shared: true,
        staff: &[OPS, "U0DEMOAKI", "U0DEMOMAR", "U0DEMOSAM"],
        customers: &["U0CUSGLX1"],
        purpose: "Globex <> BitSafe",
        activity: 4,
    },
    ChannelDef {
        id: "C0DEMOINI",
        name: "bitsafe-initech",
        private: false,
        archived: false,
        ext_shared: false,
        staff: &[OPS, "U0DEMOAKI", "U0DEMODEV"],
        customers: &["U0CUSINI1"],
        purpose: "Initech rollout",
        activity: 2,
    },
    ChannelDef {
        id: "C0DEMOUMB",
        name: "bitsafe-ibtc-umbrella",
        private: true,
        archived: false,
        ext_shared: true,
        staff: ALL_STAFF,
        customers: &["U0CUSUMB1"],
        purpose: "Umbrella iBTC pilot",
        activity: 3,
    },
    ChannelDef {
        id: "C0DEMOMKT",
        name: "bitsafe-mktg-launch",
        private: true,
        archived: false,
        ext_shared: false,
        staff: &[OPS, "U0DEMOAKI", "U0DEMOALI"],
        customers: &[],
        purpose: "Launch campaign",
        activity: 2,
    },
    ChannelDef {
        id: "C0DEMOINT",
        name: "bitsafe-internal-ops",
        private: true,
        archived: false,
        ext_shared: false,
        staff: &[OPS, "U0DEMODEV"],
        customers: &[],
        purpose: "Internal ops",
        activity: 1,
    },
    ChannelDef {
        id: "C0DEMOHOO",
        name: "bitsafe-intro-hooli",
        private: true,
        archived: false,
        ext_shared: true,
        staff: &[OPS, "U0DEMOAKI", "U0DEMOMAR", "U0DEMODEV"],
        customers: &["U0CUSHOO1"],
        purpose: "Intro: Hooli",
        activity: 1,
    },
    ChannelDef {
        id: "C0DEMOWAY",
        name: "bitsafe-wayne",
        private: true,
        archived: false,
        ext_shared: true,
        staff: ALL_STAFF,
        customers: &["U0CUSWAY1"],
        purpose: "Wayne Enterprises",
        activity: 5,
    },
    ChannelDef {
        id: "C0DEMOSTK",
        name: "bitsafe-stark",
        private: true,
        archived: false,
        ext_shared: true,
        staff: &[OPS, "U0DEMOAKI", "U0DEMODEV", "U0DEMOSAM", "U0DEMOFRK"],
        customers: &["U0CUSSTK1"],
        purpose: "Stark Industries",
        activity: 2,
    },
    ChannelDef {
        id: "C0DEMOOLD",
        name: "bitsafe-oldco",
        private: true,
        archived: true,
        ext_shared: false,
        staff: &[OPS, "U0DEMOAKI"],
        customers: &[],
        purpose: "Old customer (churned)",
        activity: 0,
    },
    ChannelDef {
        id: "C0DEMORND",
        name: "random",
        private: false,
        archived: false,
        ext_shared: false,
        staff: &[OPS, "U0DEMOAKI", "U0DEMOFRK", "U0DEMOBOB"],
        customers: &[],
        purpose: "Anything goes",
        activity: 2,
    },
];

const LINES: &[&str] = &[
    "Morning! Quick update on the integration: staging is green.",
    "Can we move the weekly sync to Thursday?",
    "Shared the latest deck in the drive, feedback welcome.",
    "We saw a spike in latency around 14:00 UTC, investigating.",
    "Contract redlines are back from legal :memo:",
    "Great call today, thanks everyone!",
    "Reminder: the custody audit window opens Monday.",
    "Is the API key rotation scheduled for this week?",
    "Invoice for October sent over.",
    "Deployed the fix, please confirm on your side.",
];

const REPLIES: &[&str] = &[
    "On it.",
    "Thanks, looks good to me.",
    "Confirmed on our side.",
    "Let me check with the team and come back.",
    "Works for us!",
];

const EMOJI: &[&str] = &["thumbsup", "eyes", "white_check_mark", "tada", "pray"];

/// Days of history the demo holds, ending today, so date-window reports always have data.
const DEMO_DAYS: i64 = 21;

/// The built-in demo workspace. Deterministic in structure; timestamps are relative to today so
/// that "last N days" reports have data whenever the demo is run.
pub fn workspace() -> Workspace {
    let today_start = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::UTC)
        .start_of_day()
        .map(|z| z.timestamp().as_second())
        .unwrap_or(1_763_000_000);
    let mut rng = fastrand::Rng::with_seed(20261122);
    let mut users: Vec<Value> = STAFF
        .iter()
        .chain(CUSTOMERS.iter())
        .map(|p| user_json(p, false))
        .collect();
    // A deleted former employee and a bot, as real workspaces have.
    users.push(user_json(
        &Person {
            id: "U0DEMOOLD",
            name: "gina",
            real: "Gina Howe (former)",
            display: "",
            email: "gina@oldmail.example",
        },
        true,
    ));
    users.push(json!({
        "id": "U0DEMOBOT", "team_id": "T0DEMO", "name": "deploybot", "deleted": false, "is_bot": true,
        "real_name": "Deploy Bot", "tz": null,
        "profile": {"display_name": "", "real_name": "Deploy Bot", "bot_id": "B0DEMOBOT"}
    }));

    let channels = CHANNELS
        .iter()
        .map(|def| {
            let mut members: Vec<String> = def.staff.iter().map(|s| s.to_string()).collect();
            members.extend(def.customers.iter().map(|s| s.to_string()));
            let created = today_start - (DEMO_DAYS + 30) * 86_400;
            let messages = channel_messages(def, &members, today_start, &mut rng);
            Channel {
                id: def.id.into(),
                name: def.name.into(),
                is_private: def.private,
                is_archived: def.archived,
                is_general: def.name == "general",
                is_ext_shared: def.ext_shared,
                is_shared: def.ext_shared,
                created,
                creator: OPS.into(),
                purpose: TopicField {
                    value: def.purpose.into(),
                    creator: OPS.into(),
                    last_set: created,
                },
                members,
                messages,
                ..Channel::default()
            }
        })
        .collect();
    Workspace {
        team: Team {
            id: "T0DEMO".into(),
            name: "BitSafe (demo)".into(),
            domain: "bitsafe-demo".into(),
        },
        token_user: OPS.into(),
        users,
        channels,
    }
}

/// Acme's people are in the demo as Slack Connect guests from their own organisation: in the
/// shared channels' members and messages, but not in `users.list`, which lists one's own team
/// only (slack-export names them through `users.info`, as with a real customer).
const EXTERNAL_TEAM: (&str, &str) = ("U0CUSACM", "T0ACMECORP");

fn user_json(p: &Person, deleted: bool) -> Value {
    let team = if p.id.starts_with(EXTERNAL_TEAM.0) {
        EXTERNAL_TEAM.1
    } else {
        "T0DEMO"
    };
    json!({
        "id": p.id, "team_id": team, "name": p.name, "deleted": deleted, "is_bot": false,
        "real_name": p.real, "tz": "Europe/London", "tz_offset": 0,
        "profile": {"display_name": p.display, "real_name": p.real, "email": p.email}
    })
}

/// Messages of one channel: a join per member, then `activity` messages on most days with some
/// threads (replies from other members), reactions and the odd edit or bot post.
fn channel_messages(
    def: &ChannelDef,
    members: &[String],
    today_start: i64,
    rng: &mut fastrand::Rng,
) -> Vec<Value> {
    let mut out = Vec::new();
    let start = today_start - DEMO_DAYS * 86_400;
    let mut seq = 0u32;
    let mut ts = |secs: i64| {
        seq += 1;
        format!("{secs}.{:06}", seq)
    };
    for (i, m) in members.iter().enumerate() {
        out.push(json!({"type": "message", "subtype": "channel_join", "user": m,
            "text": format!("<@{m}> has joined the channel"), "ts": ts(start - 86_400 + i as i64 * 60)}));
    }
    if def.activity == 0 {
        return out;
    }
    for day in 0..DEMO_DAYS {
        // Weekends are quieter, as in real customer channels.
        let weekend = (day % 7) >= 5;
        let count = if weekend {
            def.activity / 3
        } else {
            def.activity
        };
        for _ in 0..count {
            let author = &members[rng.usize(..members.len())];
            // Working hours 08:00-18:00 UTC.
            let at = start + day * 86_400 + rng.i64(8 * 3600..18 * 3600);
            let parent_ts = ts(at);
            let mut msg = json!({"type": "message", "user": author,
                "text": LINES[rng.usize(..LINES.len())], "ts": parent_ts});
            if rng.u8(..10) < 3 {
                let reacted: Vec<&String> = members
                    .iter()
                    .filter(|u| *u != author && rng.bool())
                    .take(3)
                    .collect();
                if !reacted.is_empty() {
                    let emoji = EMOJI[rng.usize(..EMOJI.len())];
                    msg["reactions"] =
                        json!([{"name": emoji, "users": reacted, "count": reacted.len()}]);
                }
            }
            if rng.u8(..10) == 0 {
                msg["edited"] = json!({"user": author, "ts": format!("{}.000000", at + 120)});
            }
            out.push(msg);
            // About one message in three starts a thread.
            if rng.u8(..3) == 0 && members.len() > 1 {
                let replies = rng.u32(1..4);
                let mut at_r = at;
                for r in 0..replies {
                    // Replies never land in the future: the last reply time is the end of yesterday.
                    at_r = (at_r + rng.i64(60..3 * 3600)).min(today_start - 60 + r as i64);
                    let mut replier = &members[rng.usize(..members.len())];
                    if r == 0 && replier == author {
                        replier = members.iter().find(|m| *m != author).unwrap_or(replier);
                    }
                    out.push(json!({"type": "message", "user": replier,
                        "text": REPLIES[rng.usize(..REPLIES.len())], "ts": ts(at_r),
                        "thread_ts": parent_ts}));
                }
            }
        }
        if day % 5 == 0 && def.name != "general" {
            let at = start + day * 86_400 + 7 * 3600;
            out.push(json!({"type": "message", "subtype": "bot_message", "bot_id": "B0DEMOBOT",
                "username": "deploybot", "text": "Deploy finished: v2.4.1 to production", "ts": ts(at)}));
        }
    }
    // Slack orders a channel's messages by ts; the sim expects them sorted.
    out.sort_by(|a, b| ts_of(a).total_cmp(&ts_of(b)));
    out
}

fn ts_of(v: &Value) -> f64 {
    v["ts"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0.0)
}
