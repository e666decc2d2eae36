//! The deterministic workspace generator: a realistic team (humans, guests, bots, deleted users),
//! internal and customer (`bitsafe-<company>`) channels, ims and mpims, and a message history with
//! threads, broadcasts, reactions, joins, bot posts, edits and files.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::model::{Channel, Team, TopicField, Workspace, format_ts};

/// What to generate. The same spec (including `seed`) always gives the same workspace.
#[derive(Debug, Clone, PartialEq)]
pub struct GenSpec {
    /// Exactly this many members in users.list (at least 1: the token user), including some
    /// deleted users and bots.
    pub users: usize,
    /// Exactly this many conversations in conversations.list?types=public_channel,private_channel
    /// for the token user (archived included). Ims, mpims and a few private channels the token
    /// user is not in come on top.
    pub channels: usize,
    /// Days of message history.
    pub days: u32,
    pub seed: u64,
    /// Cap on members per channel (other than #general).
    pub max_members: Option<usize>,
    /// Unix time the history ends at; `None` = 2026-01-01T00:00:00Z, so output is reproducible.
    pub end: Option<i64>,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            users: 40,
            channels: 12,
            days: 30,
            seed: 1,
            max_members: None,
            end: None,
        }
    }
}

const DEFAULT_END: i64 = 1_767_225_600;
const DAY: i64 = 86_400;

const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "nina", "oscar", "peggy", "quentin", "rupert", "sybil", "trent", "ursula", "victor", "wendy",
    "xavier", "yara", "zoe", "amir", "bea", "chen", "dmitri", "elif", "fatima", "goran", "hana",
    "ines", "jonas", "kofi", "lena", "mateo", "noor", "olga", "priya",
];
const LAST: &[&str] = &[
    "smith",
    "jones",
    "garcia",
    "müller",
    "rossi",
    "kim",
    "nguyen",
    "okafor",
    "silva",
    "novak",
    "tanaka",
    "kowalski",
    "haddad",
    "johansson",
    "dubois",
    "petrov",
    "singh",
    "cohen",
    "moreau",
    "larsen",
];
const COMPANIES: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "tyrell",
    "cyberdyne",
    "soylent",
    "wonka",
    "aperture",
    "massive",
    "vandelay",
    "oceanic",
    "dunder",
    "gringotts",
    "monarch",
    "nakatomi",
    "octan",
    "pied-piper",
    "rekall",
    "sirius",
    "veridian",
    "zorg",
];
const INTERNAL: &[&str] = &[
    "engineering",
    "sales",
    "marketing",
    "support-escalations",
    "product",
    "design",
    "ops-alerts",
    "finance",
    "hiring",
    "deploys",
    "customer-success",
    "growth",
    "security",
    "legal",
    "watercooler",
];
const PRIVATE: &[&str] = &[
    "leadership",
    "board-prep",
    "comp-review",
    "incident-war-room",
    "exec-offsite",
];
const WORDS: &[&str] = &[
    "deploy",
    "invoice",
    "renewal",
    "onboarding",
    "ticket",
    "latency",
    "dashboard",
    "contract",
    "meeting",
    "roadmap",
    "bug",
    "release",
    "feedback",
    "pricing",
    "migration",
    "integration",
    "report",
    "quarter",
    "demo",
    "escalation",
    "api",
    "export",
    "audit",
    "timeline",
    "budget",
];
const EMOJI: &[&str] = &[
    "+1",
    "eyes",
    "white_check_mark",
    "tada",
    "heart",
    "joy",
    "pray",
    "rocket",
    "fire",
];
const TZ: &[&str] = &[
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Asia/Singapore",
    "America/Los_Angeles",
];

struct Gen {
    rng: fastrand::Rng,
    /// Draws for what was added later (file states, pins): kept apart so the main sequence, and
    /// with it every workspace generated before, stays the same.
    extra: fastrand::Rng,
    ids: HashSet<String>,
}

impl Gen {
    /// A Slack-looking id (`U0…`, `C0…`, `D0…`), unique within the workspace.
    fn id(&mut self, prefix: char) -> String {
        loop {
            let mut s = String::from(prefix);
            s.push('0');
            for _ in 0..9 {
                let n = self.rng.u8(0..36);
                s.push(if n < 10 {
                    (b'0' + n) as char
                } else {
                    (b'A' + n - 10) as char
                });
            }
            if self.ids.insert(s.clone()) {
                return s;
            }
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.usize(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.f64() < p
    }

    fn sentence(&mut self, mentions: &[String]) -> String {
        let n = self.rng.usize(3..14);
        let mut words: Vec<String> = (0..n).map(|_| self.pick(WORDS).to_string()).collect();
        if !mentions.is_empty() && self.chance(0.15) {
            let who = self.pick(mentions).clone();
            words.insert(0, format!("<@{who}>"));
        }
        let mut s = words.join(" ");
        if let Some(f) = s.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        s.push(if self.chance(0.2) { '?' } else { '.' });
        s
    }
}

struct Person {
    id: String,
    human: bool,
    deleted: bool,
    bot_id: Option<String>,
}

/// Builds the workspace for `spec`; deterministic for a given spec.
pub fn generate(spec: &GenSpec) -> Workspace {
    let mut g = Gen {
        rng: fastrand::Rng::with_seed(spec.seed),
        extra: fastrand::Rng::with_seed(spec.seed ^ 0x5eed_f11e),
        ids: HashSet::new(),
    };
    let end = spec.end.unwrap_or(DEFAULT_END);
    let start = end - i64::from(spec.days.max(1)) * DAY;
    let team = Team {
        id: g.id('T'),
        name: "Bitsafe".into(),
        domain: "bitsafe".into(),
    };
    let n_users = spec.users.max(1);
    let n_bots = if n_users >= 4 {
        (n_users / 20).max(1)
    } else {
        0
    };
    let n_deleted = if n_users >= 5 {
        (n_users / 15).max(1)
    } else {
        0
    };
    let n_guests = if n_users >= 10 {
        (n_users / 12).max(1)
    } else {
        0
    };

    let mut users = Vec::with_capacity(n_users);
    let mut people = Vec::with_capacity(n_users);
    let mut names = HashSet::new();
    for i in 0..n_users {
        let id = g.id('U');
        // Order: token user, humans, guests, deleted, bots (then shuffled except the token user).
        let bot = i >= n_users - n_bots;
        let deleted = !bot && i >= n_users - n_bots - n_deleted && i > 0;
        let guest = !bot && !deleted && i > 0 && i >= n_users - n_bots - n_deleted - n_guests;
        let created = start - DAY * g.rng.i64(30..900);
        if bot {
            let bot_id = g.id('B');
            let name = format!(
                "{}bot{}",
                g.pick(&["deploy", "alert", "crm", "standup", "jira"]),
                i
            );
            users.push(json!({
                "id": id, "team_id": team.id, "name": name, "deleted": false, "color": "757575",
                "real_name": name, "tz": null, "tz_label": "Pacific Standard Time", "tz_offset": -28800,
                "profile": { "real_name": name, "display_name": "", "bot_id": bot_id,
                             "api_app_id": g.id('A'), "always_active": true, "first_name": name,
                             "last_name": "", "team": team.id },
                "is_admin": false, "is_owner": false, "is_primary_owner": false,
                "is_restricted": false, "is_ultra_restricted": false, "is_bot": true,
                "is_app_user": false, "updated": created,
            }));
            people.push(Person {
                id,
                human: false,
                deleted: false,
                bot_id: Some(bot_id),
            });
            continue;
        }
        let first = g.pick(FIRST).to_string();
        let last = g.pick(LAST).to_string();
        let mut name = format!("{first}.{last}");
        let mut k = 2;
        while !names.insert(name.clone()) {
            name = format!("{first}.{last}{k}");
            k += 1;
        }
        let company = if guest {
            g.pick(COMPANIES).to_string()
        } else {
            "bitsafe".into()
        };
        let cap = |s: &str| {
            let mut c = s.to_string();
            if let Some(f) = c.get_mut(0..1) {
                f.make_ascii_uppercase();
            }
            c
        };
        let real = format!("{} {}", cap(&first), cap(&last));
        let tz = if g.chance(0.1) {
            Value::Null
        } else {
            json!(g.pick(TZ))
        };
        users.push(json!({
            "id": id, "team_id": team.id, "name": name, "deleted": deleted, "color": "9f69e7",
            "real_name": real, "tz": tz, "tz_label": "Central European Time", "tz_offset": 3600,
            "profile": { "real_name": real, "real_name_normalized": real,
                         "display_name": if g.chance(0.6) { first.clone() } else { String::new() },
                         "first_name": cap(&first), "last_name": cap(&last),
                         "email": format!("{name}@{company}.com"), "title": "", "phone": "",
                         "team": team.id },
            "is_admin": i == 0, "is_owner": i == 0, "is_primary_owner": i == 0,
            "is_restricted": guest, "is_ultra_restricted": false, "is_bot": false,
            "is_app_user": false, "updated": created, "is_email_confirmed": true,
        }));
        people.push(Person {
            id,
            human: true,
            deleted,
            bot_id: None,
        });
    }
    // Interleave kinds in users.list as Slack does (sorted by nothing in particular).
    let mut order: Vec<usize> = (1..n_users).collect();
    g.rng.shuffle(&mut order);
    order.insert(0, 0);
    let users: Vec<Value> = order.iter().map(|&i| users[i].clone()).collect();
    let people: Vec<Person> = order
        .iter()
        .map(|&i| Person {
            id: people[i].id.clone(),
            human: people[i].human,
            deleted: people[i].deleted,
            bot_id: people[i].bot_id.clone(),
        })
        .collect();
    let me = people[0].id.clone();
    let active: Vec<String> = people
        .iter()
        .filter(|p| p.human && !p.deleted)
        .map(|p| p.id.clone())
        .collect();
    let bots: Vec<&Person> = people.iter().filter(|p| !p.human).collect();

    let mut channels = Vec::new();
    let used_names: &mut HashSet<String> = &mut HashSet::new();
    for i in 0..spec.channels {
        let (name, private, customer) = channel_name(&mut g, i, used_names);
        let archived = i >= 2 && g.chance(0.1);
        let ext = customer && g.chance(0.5);
        let cap = spec.max_members.unwrap_or(usize::MAX).max(1);
        let mut members: Vec<String> = if i == 0 {
            active.clone()
        } else {
            let want = g
                .rng
                .usize(2..=active.len().max(2))
                .min(cap)
                .min(active.len());
            let mut pool = active.clone();
            g.rng.shuffle(&mut pool);
            pool.truncate(want);
            pool
        };
        // The token user is in every private channel it can list and most public ones; the rest
        // give invites a not_in_channel case.
        let me_in = private || i == 0 || g.chance(0.85);
        members.retain(|m| *m != me);
        if me_in {
            members.insert(0, me.clone());
        }
        if i > 0 && !bots.is_empty() && g.chance(0.3) {
            members.push(g.pick(&bots).id.clone());
        }
        if members.is_empty() {
            members.push(me.clone());
        }
        let creator = members[g.rng.usize(0..members.len())].clone();
        let created = start - DAY * g.rng.i64(10..400);
        let purpose = if customer {
            format!(
                "Shared workspace with {}",
                name.trim_start_matches("bitsafe-")
            )
        } else {
            format!("Everything about {name}")
        };
        channels.push(Channel {
            id: g.id('C'),
            name,
            is_private: private,
            is_archived: archived,
            is_general: i == 0,
            is_ext_shared: ext,
            is_shared: ext,
            created,
            creator: creator.clone(),
            topic: TopicField {
                value: String::new(),
                creator: String::new(),
                last_set: 0,
            },
            purpose: TopicField {
                value: purpose,
                creator,
                last_set: created,
            },
            members,
            ..Channel::default()
        });
    }
    // Private channels the token user is not in: they must stay invisible to it.
    if active.len() >= 3 {
        for k in 0..2 {
            let mut members: Vec<String> = active
                .iter()
                .filter(|u| **u != me)
                .take(3 + k)
                .cloned()
                .collect();
            members.dedup();
            channels.push(Channel {
                id: g.id('C'),
                name: format!("secret-project-{}", k + 1),
                is_private: true,
                created: start - DAY * 20,
                creator: members[0].clone(),
                members,
                ..Channel::default()
            });
        }
    }
    // Ims with a few people, and an mpim.
    for other in active.iter().filter(|u| **u != me).take(4) {
        channels.push(Channel {
            id: g.id('D'),
            name: other.clone(),
            is_im: true,
            is_private: true,
            created: start - DAY * 40,
            user: Some(other.clone()),
            members: vec![me.clone(), other.clone()],
            ..Channel::default()
        });
    }
    if active.len() >= 3 {
        let members: Vec<String> = active.iter().take(3).cloned().collect();
        let names: Vec<String> = members
            .iter()
            .filter_map(|id| users.iter().find(|u| u["id"] == json!(id)))
            .filter_map(|u| u["name"].as_str().map(str::to_string))
            .collect();
        channels.push(Channel {
            id: g.id('C'),
            name: format!("mpdm-{}-1", names.join("--")),
            is_mpim: true,
            is_private: true,
            created: start - DAY * 15,
            creator: me.clone(),
            members,
            ..Channel::default()
        });
    }

    let mut file_no = 0u32;
    for c in &mut channels {
        fill_messages(&mut g, c, &team.id, &bots, start, end, &mut file_no);
        c.sort_messages();
    }
    Workspace {
        team,
        token_user: me,
        users,
        channels,
    }
}

fn channel_name(g: &mut Gen, i: usize, used: &mut HashSet<String>) -> (String, bool, bool) {
    let (base, private, customer) = match i {
        0 => ("general".to_string(), false, false),
        1 => ("random".to_string(), false, false),
        _ => {
            let r = g.rng.f64();
            if r < 0.45 {
                (
                    format!("bitsafe-{}", g.pick(COMPANIES)),
                    g.chance(0.3),
                    true,
                )
            } else if r < 0.6 {
                (g.pick(PRIVATE).to_string(), true, false)
            } else {
                (g.pick(INTERNAL).to_string(), false, false)
            }
        }
    };
    let mut name = base.clone();
    let mut k = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}-{k}");
        k += 1;
    }
    (name, private, customer)
}

/// Unique ts within a channel: seconds plus a random microsecond part, bumped on collision.
fn unique_ts(g: &mut Gen, seen: &mut HashSet<u128>, secs: i64) -> String {
    let mut key = secs.max(0) as u128 * 1_000_000 + g.rng.u32(0..1_000_000) as u128;
    while !seen.insert(key) {
        key += 1;
    }
    format_ts(key)
}

#[allow(clippy::too_many_arguments)]
fn fill_messages(
    g: &mut Gen,
    c: &mut Channel,
    team: &str,
    bots: &[&Person],
    start: i64,
    end: i64,
    file_no: &mut u32,
) {
    let humans: Vec<String> = c
        .members
        .iter()
        .filter(|m| !bots.iter().any(|b| b.id == **m))
        .cloned()
        .collect();
    if humans.is_empty() {
        return;
    }
    // Activity per day: active, moderate or quiet channels; ims and mpims are light.
    let per_day = if c.is_im || c.is_mpim {
        0.5
    } else {
        match g.rng.u8(0..10) {
            0..=3 => 12.0,
            4..=6 => 3.0,
            _ => 0.25,
        }
    };
    // Archived channels went quiet halfway through.
    let stop = if c.is_archived {
        start + (end - start) / 2
    } else {
        end
    };
    let mut seen = HashSet::new();
    let mut msgs = Vec::new();

    // Some members joined during the window.
    if !c.is_im && !c.is_mpim {
        for m in c.members.clone() {
            if g.chance(0.3) {
                let t = g.rng.i64(start..stop.max(start + 1));
                let ts = unique_ts(g, &mut seen, t);
                msgs.push(json!({
                    "type": "message", "subtype": "channel_join", "ts": ts, "user": m,
                    "text": format!("<@{m}> has joined the channel"), "team": team,
                }));
            }
        }
    }

    let days = ((stop - start) / DAY).max(1);
    for day in 0..days {
        let mean = per_day;
        let count = if mean < 1.0 {
            usize::from(g.chance(mean))
        } else {
            g.rng.usize(0..=(2.0 * mean) as usize)
        };
        for _ in 0..count {
            // Working hours, roughly.
            let t = start + day * DAY + g.rng.i64(7 * 3600..19 * 3600);
            let ts = unique_ts(g, &mut seen, t);
            if !bots.is_empty() && g.chance(0.05) && !c.is_im {
                let b = g.pick(bots);
                msgs.push(json!({
                    "type": "message", "subtype": "bot_message", "ts": ts,
                    "bot_id": b.bot_id, "username": "deploybot",
                    "text": format!("Deployed build {} to production", g.rng.u32(1000..9999)),
                }));
                continue;
            }
            let user = g.pick(&humans).clone();
            let mut m = json!({
                "type": "message", "user": user, "text": g.sentence(&humans),
                "ts": ts, "team": team, "client_msg_id": format!("{:08x}-0000-4000-8000-{:012x}", g.rng.u32(..), g.rng.u64(..) & 0xffff_ffff_ffff),
            });
            decorate_extras(g, &mut m, &user, &humans, t, file_no);
            if g.extra.f64() < 0.02 {
                m["pinned_to"] = json!([c.id]);
            }
            // Threads: a share of messages in busier channels get replies.
            if per_day >= 1.0 && g.chance(0.15) {
                let n = if g.chance(0.1) {
                    g.rng.usize(15..40)
                } else {
                    g.rng.usize(1..8)
                };
                let mut rt = t;
                for _ in 0..n {
                    rt += g.rng.i64(30..4 * 3600);
                    if rt >= end {
                        break;
                    }
                    let ruser = g.pick(&humans).clone();
                    let rts = unique_ts(g, &mut seen, rt);
                    let mut r = json!({
                        "type": "message", "user": ruser, "text": g.sentence(&humans),
                        "ts": rts, "thread_ts": ts, "team": team,
                    });
                    if g.chance(0.08) {
                        r["subtype"] = json!("thread_broadcast");
                    }
                    decorate_extras(g, &mut r, &ruser, &humans, rt, file_no);
                    msgs.push(r);
                }
            }
            msgs.push(m);
        }
    }
    c.messages = msgs;
}

/// Reactions, edits and files on a human message.
fn decorate_extras(
    g: &mut Gen,
    m: &mut Value,
    user: &str,
    humans: &[String],
    t: i64,
    file_no: &mut u32,
) {
    if g.chance(0.15) {
        let n = g.rng.usize(1..4);
        let mut reactions = Vec::new();
        let mut used = HashSet::new();
        for _ in 0..n {
            let name = g.pick(EMOJI).to_string();
            if !used.insert(name.clone()) {
                continue;
            }
            let k = g.rng.usize(1..=humans.len().min(5));
            let mut who: Vec<String> = humans.to_vec();
            g.rng.shuffle(&mut who);
            who.truncate(k);
            // Slack lists only some reactors on busy messages: count can exceed users.len().
            let count = if g.chance(0.1) {
                k + g.rng.usize(1..20)
            } else {
                k
            };
            reactions.push(json!({ "name": name, "users": who, "count": count }));
        }
        m["reactions"] = json!(reactions);
    }
    if g.chance(0.05) {
        m["edited"] = json!({ "user": user, "ts": format!("{}.000000", t + g.rng.i64(10..600)) });
    }
    if g.chance(0.03) {
        *file_no += 1;
        let ext = g.pick(&["pdf", "png", "csv", "xlsx"]).to_string();
        let id = format!("F0{:09}", file_no);
        let name = format!("file-{file_no}.{ext}");
        let mime = match ext.as_str() {
            "pdf" => "application/pdf",
            "png" => "image/png",
            "csv" => "text/csv",
            _ => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        };
        // The sim serves these URLs on its own address (see `files.rs`).
        let url = format!("https://files.slack.com/files-pri/T0-{id}/{name}");
        let download = format!("https://files.slack.com/files-pri/T0-{id}/download/{name}");
        let size = g.rng.u32(1000..5_000_000);
        m["files"] = match g.extra.u8(0..100) {
            // Deleted since (Slack leaves a tombstone), or beyond a free plan's visible history.
            0..=7 => json!([{ "id": id, "mode": "tombstone" }]),
            8..=11 => json!([{ "id": id, "mode": "hidden_by_limit" }]),
            _ => json!([{
                "id": id, "created": t, "timestamp": t,
                "name": name, "title": name,
                "filetype": ext, "mimetype": mime, "user": user,
                "size": size, "mode": "hosted", "is_external": false,
                "url_private": url, "url_private_download": download,
            }]),
        };
        m["upload"] = json!(true);
    }
}

/// Adds `n` people of another organisation (team `T0EXTERN…`) to the workspace's Slack Connect
/// channels (`is_ext_shared`): members of those channels and authors of about a quarter of their
/// messages. They are in `users` with their own `team_id`, so users.list (this team's members)
/// leaves them out and only users.info knows them, as in Slack. Deterministic for `seed`.
pub fn add_external_users(ws: &mut Workspace, n: usize, seed: u64) {
    if n == 0 {
        return;
    }
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xc0_bec7);
    let team = "T0EXTERN01".to_string();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("U0EXT{i:05}");
        let first = FIRST[rng.usize(0..FIRST.len())];
        let last = LAST[rng.usize(0..LAST.len())];
        let mut cap = first.to_string();
        if let Some(f) = cap.get_mut(0..1) {
            f.make_ascii_uppercase();
        }
        let real = format!("{cap} {last}");
        ws.users.push(json!({
            "id": id, "team_id": team, "name": format!("{first}.{last}.ext{i}"), "deleted": false,
            "color": "4bbe2e", "real_name": real, "tz": "Europe/London", "tz_label": "Greenwich Mean Time",
            "tz_offset": 0, "is_stranger": false,
            "profile": { "real_name": real, "real_name_normalized": real, "display_name": "",
                         "first_name": cap, "last_name": last, "team": team },
            "is_admin": false, "is_owner": false, "is_primary_owner": false,
            "is_restricted": false, "is_ultra_restricted": false, "is_bot": false,
            "is_app_user": false, "updated": 1_700_000_000,
        }));
        ids.push(id);
    }
    for c in ws.channels.iter_mut().filter(|c| c.is_ext_shared) {
        c.members.extend(ids.iter().cloned());
        for m in c.messages.iter_mut() {
            let human = m.get("user").is_some() && m.get("subtype").is_none();
            if human && rng.u8(0..4) == 0 {
                let who = &ids[rng.usize(0..ids.len())];
                m["user"] = json!(who);
                m["team"] = json!(team);
                m["user_team"] = json!(team);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_workspace_other_seed_differs() {
        let spec = GenSpec {
            users: 30,
            channels: 8,
            days: 10,
            seed: 5,
            ..GenSpec::default()
        };
        assert_eq!(generate(&spec), generate(&spec));
        let other = GenSpec {
            seed: 6,
            ..spec.clone()
        };
        assert_ne!(generate(&spec), generate(&other));
    }

    #[test]
    fn replies_point_at_existing_parents_and_ts_are_unique() {
        let ws = generate(&GenSpec {
            users: 25,
            channels: 10,
            days: 20,
            seed: 3,
            ..GenSpec::default()
        });
        let mut replies = 0;
        for c in &ws.channels {
            let mut seen = HashSet::new();
            for m in &c.messages {
                let ts = m["ts"].as_str().expect("ts");
                assert!(
                    seen.insert(ts.to_string()),
                    "duplicate ts {ts} in {}",
                    c.name
                );
                if let Some(t) = m["thread_ts"].as_str() {
                    replies += 1;
                    assert!(c.message(t).is_some(), "reply {ts} without parent {t}");
                }
            }
        }
        assert!(replies > 0, "generator made no threads");
    }
}
