//! Identity matching: finds which platform user a team member's identifier means, and resolves a
//! whole team to stable user IDs on one platform (Slack or Telegram alike).
//!
//! Identifiers are compared case-insensitively with a leading `@` ignored, in tiers from most to
//! least reliable: user ID, then email, then username, then names (display name and real name
//! together). The first tier with any hit decides, because IDs, emails and usernames are unique
//! per workspace while names are not; a username hit is not made ambiguous by someone whose
//! display name happens to be the same word. Within a tier, several hits are ambiguous, except
//! that when exactly one of them is an active (not deleted) user, that user wins: a deactivated
//! old account should not block matching its replacement.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::Team;

/// The platform a group or user lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Slack,
    Telegram,
}

impl Platform {
    /// Lower-case name as used in reports and config keys: `slack`, `telegram`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Slack => "slack",
            Platform::Telegram => "telegram",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person on some platform, as the matcher sees them (Slack and Telegram users both map here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformUser {
    pub id: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub real_name: Option<String>,
    pub email: Option<String>,
    pub deleted: bool,
}

/// What one identifier matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Exactly one user (its ID).
    One(String),
    /// Nobody; `suggestions` are close matches such as `aki.b (U0AKI124)`, best first.
    None { suggestions: Vec<String> },
    /// Several users (their IDs, sorted).
    Many(Vec<String>),
}

/// Lookup tables over one platform's users: lower-cased key -> user positions, one table per tier,
/// so resolving a team against thousands of users costs a few hash lookups per identifier.
#[derive(Debug, Clone)]
pub struct UserIndex {
    users: Vec<PlatformUser>,
    by_id: HashMap<String, usize>,
    /// Tiers after the ID: email, username, names.
    tiers: [HashMap<String, Vec<usize>>; 3],
}

/// Lower-cased, trimmed, one leading `@` removed; `None` when nothing is left.
fn normalize(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_prefix('@').unwrap_or(s).trim();
    (!s.is_empty()).then(|| s.to_lowercase())
}

impl UserIndex {
    pub fn new(users: &[PlatformUser]) -> Self {
        let mut by_id = HashMap::with_capacity(users.len());
        let mut tiers: [HashMap<String, Vec<usize>>; 3] = Default::default();
        for (i, u) in users.iter().enumerate() {
            if let Some(id) = normalize(&u.id) {
                by_id.entry(id).or_insert(i);
            }
            let keys: [(usize, &Option<String>); 4] = [
                (0, &u.email),
                (1, &u.username),
                (2, &u.display_name),
                (2, &u.real_name),
            ];
            for (tier, key) in keys {
                if let Some(key) = key.as_deref().and_then(normalize) {
                    let slot = tiers[tier].entry(key).or_default();
                    // Display name and real name are often equal: count the user once.
                    if slot.last() != Some(&i) {
                        slot.push(i);
                    }
                }
            }
        }
        Self {
            users: users.to_vec(),
            by_id,
            tiers,
        }
    }

    /// The user with this ID (case-insensitive).
    pub fn user(&self, id: &str) -> Option<&PlatformUser> {
        normalize(id)
            .and_then(|id| self.by_id.get(&id))
            .map(|&i| &self.users[i])
    }

    /// Number of users indexed.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Matches one identifier (user ID, email, username, display name or real name).
    pub fn lookup(&self, ident: &str) -> Identity {
        let Some(key) = normalize(ident) else {
            return Identity::None {
                suggestions: Vec::new(),
            };
        };
        if let Some(&i) = self.by_id.get(&key) {
            return Identity::One(self.users[i].id.clone());
        }
        for tier in &self.tiers {
            if let Some(hits) = tier.get(&key) {
                return self.decide(hits);
            }
        }
        Identity::None {
            suggestions: self.suggestions(&key),
        }
    }

    fn decide(&self, hits: &[usize]) -> Identity {
        if let [only] = hits {
            return Identity::One(self.users[*only].id.clone());
        }
        let active: Vec<usize> = hits
            .iter()
            .copied()
            .filter(|&i| !self.users[i].deleted)
            .collect();
        match active.as_slice() {
            [only] => Identity::One(self.users[*only].id.clone()),
            [] => Identity::Many(self.ids(hits)),
            several => Identity::Many(self.ids(several)),
        }
    }

    fn ids(&self, positions: &[usize]) -> Vec<String> {
        let set: BTreeSet<&str> = positions
            .iter()
            .map(|&i| self.users[i].id.as_str())
            .collect();
        set.into_iter().map(str::to_string).collect()
    }

    /// Up to three active users with a key close to `key`; only computed on a miss, so a linear
    /// scan is fine.
    fn suggestions(&self, key: &str) -> Vec<String> {
        let mut scored: Vec<(f64, String)> = Vec::new();
        for u in self.users.iter().filter(|u| !u.deleted) {
            let best = [&u.username, &u.display_name, &u.real_name, &u.email]
                .into_iter()
                .filter_map(|k| k.as_deref())
                .filter_map(|k| {
                    normalize(k)
                        .and_then(|n| closeness(key, &n))
                        .map(|score| (score, k))
                })
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((score, text)) = best {
                // Show the username when there is one: it is what people paste into team.json.
                let shown = u.username.as_deref().unwrap_or(text);
                scored.push((score, format!("{shown} ({})", u.id)));
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        scored.into_iter().take(3).map(|(_, s)| s).collect()
    }
}

/// How alike two normalized keys are (higher is closer), or `None` when too different to suggest.
/// Jaro-Winkler ranks, but it is harsh on short names ("akk" vs "aki"), so one or two typos
/// (Damerau-Levenshtein) also count as close.
fn closeness(a: &str, b: &str) -> Option<f64> {
    let score = strsim::jaro_winkler(a, b);
    let typos = strsim::damerau_levenshtein(a, b);
    let len = a.chars().count().min(b.chars().count());
    let few_typos = (len >= 3 && typos <= 1) || (len >= 6 && typos <= 2);
    (score >= 0.88 || few_typos).then_some(score)
}

/// Matches one identifier against the users. For many lookups build a [`UserIndex`] once instead.
pub fn match_identifier(ident: &str, users: &[PlatformUser]) -> Identity {
    UserIndex::new(users).lookup(ident)
}

/// Why a team member could not be (cleanly) resolved on a platform. The run goes on; an
/// unresolved required member counts as missing everywhere on that platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolutionWarning {
    /// team.json lists no identifiers for this platform.
    NoIdentifiers { platform: Platform, handle: String },
    /// No identifier matched anybody.
    Unmatched {
        platform: Platform,
        handle: String,
        identifiers: Vec<String>,
        suggestions: Vec<String>,
    },
    /// The identifiers point at more than one person.
    Ambiguous {
        platform: Platform,
        handle: String,
        candidates: Vec<String>,
    },
    /// Resolved, but the account is deactivated, so it can't be in any group.
    Deactivated {
        platform: Platform,
        handle: String,
        user_id: String,
    },
}

impl ResolutionWarning {
    /// The team member this is about.
    pub fn handle(&self) -> &str {
        match self {
            Self::NoIdentifiers { handle, .. }
            | Self::Unmatched { handle, .. }
            | Self::Ambiguous { handle, .. }
            | Self::Deactivated { handle, .. } => handle,
        }
    }

    pub fn platform(&self) -> Platform {
        match self {
            Self::NoIdentifiers { platform, .. }
            | Self::Unmatched { platform, .. }
            | Self::Ambiguous { platform, .. }
            | Self::Deactivated { platform, .. } => *platform,
        }
    }
}

impl fmt::Display for ResolutionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoIdentifiers { platform, handle } => {
                write!(
                    f,
                    "team member `{handle}` has no {platform} identifiers in team.json, so they are never found in {platform} groups (add \"{platform}\": [...] to their entry)"
                )
            }
            Self::Unmatched {
                platform,
                handle,
                identifiers,
                suggestions,
            } => {
                write!(
                    f,
                    "team member `{handle}` matches no {platform} user (tried {})",
                    identifiers.join(", ")
                )?;
                if !suggestions.is_empty() {
                    write!(f, "; close matches: {}", suggestions.join(", "))?;
                }
                Ok(())
            }
            Self::Ambiguous {
                platform,
                handle,
                candidates,
            } => write!(
                f,
                "team member `{handle}` matches more than one {platform} user ({}); add the user ID to team.json",
                candidates.join(", ")
            ),
            Self::Deactivated {
                platform,
                handle,
                user_id,
            } => {
                write!(
                    f,
                    "team member `{handle}` is {platform} user {user_id}, which is deactivated"
                )
            }
        }
    }
}

/// Every team member's user ID on one platform, and what could not be resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// handle -> user ID, for members resolved to exactly one user.
    pub by_handle: BTreeMap<String, String>,
    /// In team.json order.
    pub warnings: Vec<ResolutionWarning>,
}

/// Resolves every team member with their `slack` or `telegram` identifiers.
///
/// Identifiers that match nobody are ignored when others match (an old username next to a
/// working user ID is fine). The member resolves when the identifiers that matched point at one
/// user: directly (every `One` is the same user and every ambiguous identifier includes them), or
/// because the ambiguous identifiers have exactly one user in common. Otherwise it is ambiguous.
pub fn resolve_team(team: &Team, platform: Platform, index: &UserIndex) -> Resolution {
    let mut out = Resolution::default();
    for member in &team.members {
        let identifiers = match platform {
            Platform::Slack => &member.slack,
            Platform::Telegram => &member.telegram,
        };
        let handle = member.handle.clone();
        if identifiers.is_empty() {
            out.warnings
                .push(ResolutionWarning::NoIdentifiers { platform, handle });
            continue;
        }
        let resolved = match resolve_identifiers(identifiers, index) {
            Identity::One(id) => Ok(id),
            Identity::Many(candidates) => Err(candidates),
            Identity::None { suggestions } => {
                out.warnings.push(ResolutionWarning::Unmatched {
                    platform,
                    handle,
                    identifiers: identifiers.clone(),
                    suggestions,
                });
                continue;
            }
        };
        match resolved {
            Ok(id) => {
                if index.user(&id).is_some_and(|u| u.deleted) {
                    out.warnings.push(ResolutionWarning::Deactivated {
                        platform,
                        handle: handle.clone(),
                        user_id: id.clone(),
                    });
                }
                out.by_handle.insert(handle, id);
            }
            Err(candidates) => out.warnings.push(ResolutionWarning::Ambiguous {
                platform,
                handle,
                candidates,
            }),
        }
    }
    out
}

/// Combines what a member's identifiers match into one answer (the rules of [`resolve_team`]).
fn resolve_identifiers(identifiers: &[String], index: &UserIndex) -> Identity {
    let mut ones: BTreeSet<String> = BTreeSet::new();
    let mut manys: Vec<BTreeSet<String>> = Vec::new();
    let mut suggestions: Vec<String> = Vec::new();
    for ident in identifiers {
        match index.lookup(ident) {
            Identity::One(id) => {
                ones.insert(id);
            }
            Identity::Many(ids) => manys.push(ids.into_iter().collect()),
            Identity::None { suggestions: s } => {
                for s in s {
                    if !suggestions.contains(&s) {
                        suggestions.push(s);
                    }
                }
            }
        }
    }
    if ones.len() > 1 {
        return Identity::Many(ones.into_iter().collect());
    }
    if let Some(id) = ones.pop_first() {
        return match manys.iter().find(|m| !m.contains(&id)) {
            None => Identity::One(id),
            Some(other) => Identity::Many(
                other
                    .iter()
                    .cloned()
                    .chain([id])
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            ),
        };
    }
    if let Some(first) = manys.first() {
        let mut common = first
            .iter()
            .filter(|id| manys.iter().all(|m| m.contains(*id)));
        return match (common.next(), common.next()) {
            (Some(only), None) => Identity::One(only.clone()),
            _ => Identity::Many(
                manys
                    .iter()
                    .flatten()
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            ),
        };
    }
    suggestions.truncate(3);
    Identity::None { suggestions }
}

/// Resolves a person named on the command line (add-members): a team handle (ignoring case and a
/// leading `@`) resolves through that member's identifiers for the platform; anything else is
/// looked up as a platform identifier. Misses suggest close team handles before close users.
pub fn resolve_person(arg: &str, team: &Team, platform: Platform, index: &UserIndex) -> Identity {
    if let Some(member) = team.member_named(arg) {
        let identifiers = match platform {
            Platform::Slack => &member.slack,
            Platform::Telegram => &member.telegram,
        };
        return resolve_identifiers(identifiers, index);
    }
    match index.lookup(arg) {
        Identity::None { suggestions } => {
            let wanted = arg.trim().trim_start_matches('@').to_lowercase();
            let mut scored: Vec<(f64, &str)> = team
                .members
                .iter()
                .filter_map(|m| {
                    closeness(&wanted, &m.handle.to_lowercase()).map(|s| (s, m.handle.as_str()))
                })
                .collect();
            // Best first; the sort is stable, so equally close handles keep team.json order.
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut close: Vec<String> = scored
                .into_iter()
                .map(|(_, h)| format!("{h} (team handle)"))
                .collect();
            close.extend(suggestions);
            close.truncate(3);
            Identity::None { suggestions: close }
        }
        found => found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Role, TeamMember};

    fn user(id: &str, username: &str, display: &str, real: &str, email: &str) -> PlatformUser {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        PlatformUser {
            id: id.into(),
            username: opt(username),
            display_name: opt(display),
            real_name: opt(real),
            email: opt(email),
            deleted: false,
        }
    }

    fn users() -> Vec<PlatformUser> {
        vec![
            user("U0AKI123", "aki", "Aki", "Aki Balogh", "aki@example.com"),
            user("U0BOB", "bob", "", "Bob Brown", "bob@example.com"),
            user(
                "U0JOHN1",
                "john.a",
                "John",
                "John Smith",
                "john.a@example.com",
            ),
            user(
                "U0JOHN2",
                "john.b",
                "John",
                "John Smith",
                "john.b@example.com",
            ),
            // Someone whose display name is another person's username.
            user("U0OTHER", "other", "bob", "Other Person", ""),
            PlatformUser {
                deleted: true,
                ..user(
                    "U0OLDFR",
                    "frank.old",
                    "Frank",
                    "Frank Fox",
                    "frank@example.com",
                )
            },
            user(
                "U0FRANK",
                "frank",
                "Frank",
                "Frank Fox",
                "frank.fox@example.com",
            ),
        ]
    }

    fn member(handle: &str, role: Role, slack: &[&str]) -> TeamMember {
        TeamMember {
            handle: handle.into(),
            name: handle.into(),
            role,
            slack: slack.iter().map(|s| s.to_string()).collect(),
            telegram: Vec::new(),
            status: Default::default(),
            department: None,
        }
    }

    #[test]
    fn matches_each_identifier_kind() {
        let index = UserIndex::new(&users());
        let one = |id: &str| Identity::One(id.to_string());
        assert_eq!(index.lookup("U0AKI123"), one("U0AKI123"), "user ID");
        assert_eq!(index.lookup("aki"), one("U0AKI123"), "username");
        assert_eq!(index.lookup("Aki Balogh"), one("U0AKI123"), "real name");
        assert_eq!(index.lookup("aki@example.com"), one("U0AKI123"), "email");
        assert_eq!(index.lookup("Bob Brown"), one("U0BOB"));
        assert_eq!(index.lookup("Other Person"), one("U0OTHER"));
        assert_eq!(index.lookup("frank.fox@example.com"), one("U0FRANK"));
    }

    #[test]
    fn display_name_matches_when_nothing_stronger_does() {
        let users = vec![user("U1", "zed", "Zee", "Zed Z", "")];
        assert_eq!(match_identifier("zee", &users), Identity::One("U1".into()));
    }

    #[test]
    fn case_whitespace_and_at_prefix_are_ignored() {
        let index = UserIndex::new(&users());
        for ident in [
            "@aki",
            "AKI",
            " @Aki ",
            "u0aki123",
            "AKI@EXAMPLE.COM",
            "aki balogh",
        ] {
            assert_eq!(
                index.lookup(ident),
                Identity::One("U0AKI123".into()),
                "{ident}"
            );
        }
        assert_eq!(
            index.lookup("@"),
            Identity::None {
                suggestions: vec![]
            }
        );
    }

    #[test]
    fn unique_keys_win_over_names() {
        // "bob" is U0BOB's username and U0OTHER's display name: the username decides.
        let index = UserIndex::new(&users());
        assert_eq!(index.lookup("bob"), Identity::One("U0BOB".into()));
    }

    #[test]
    fn shared_names_are_ambiguous() {
        let index = UserIndex::new(&users());
        let both = Identity::Many(vec!["U0JOHN1".into(), "U0JOHN2".into()]);
        assert_eq!(index.lookup("John Smith"), both);
        assert_eq!(index.lookup("john"), both);
    }

    #[test]
    fn deleted_users_lose_ties_to_active_ones() {
        let index = UserIndex::new(&users());
        // "Frank Fox" is a deactivated old account and the active one: the active one wins.
        assert_eq!(index.lookup("Frank Fox"), Identity::One("U0FRANK".into()));
        // An identifier that only a deleted user has still resolves to it.
        assert_eq!(
            index.lookup("frank@example.com"),
            Identity::One("U0OLDFR".into())
        );
        // Two deleted users tie: ambiguous.
        let gone = vec![
            PlatformUser {
                deleted: true,
                ..user("U1", "", "", "Sam", "")
            },
            PlatformUser {
                deleted: true,
                ..user("U2", "", "", "Sam", "")
            },
        ];
        assert_eq!(
            match_identifier("sam", &gone),
            Identity::Many(vec!["U1".into(), "U2".into()])
        );
    }

    #[test]
    fn misses_suggest_close_active_users() {
        let index = UserIndex::new(&users());
        match index.lookup("akk") {
            Identity::None { suggestions } => assert_eq!(
                suggestions.first().map(String::as_str),
                Some("aki (U0AKI123)")
            ),
            other => panic!("expected no match, got {other:?}"),
        }
        match index.lookup("frank.olt") {
            // The deleted account is never suggested.
            Identity::None { suggestions } => assert!(
                suggestions.iter().all(|s| !s.contains("U0OLDFR")),
                "{suggestions:?}"
            ),
            other => panic!("expected no match, got {other:?}"),
        }
        match index.lookup("qqqqqqq") {
            Identity::None { suggestions } => assert!(suggestions.is_empty()),
            other => panic!("expected no match, got {other:?}"),
        }
    }

    #[test]
    fn resolves_team_members_and_warns_about_the_rest() {
        let team = Team {
            members: vec![
                member(
                    "akibalogh",
                    Role::Required,
                    &["aki", "U0AKI123", "@Aki Balogh"],
                ),
                member("bob", Role::Required, &["bob@example.com"]),
                member("john", Role::Required, &["John Smith"]),
                member("ghost", Role::Required, &["akk", "nobody"]),
                member("mixed", Role::Optional, &["aki", "bob"]),
                member("nohandle", Role::Optional, &[]),
                member("oldfrank", Role::Optional, &["frank@example.com"]),
            ],
        };
        let r = resolve_team(&team, Platform::Slack, &UserIndex::new(&users()));
        assert_eq!(
            r.by_handle.get("akibalogh").map(String::as_str),
            Some("U0AKI123")
        );
        assert_eq!(r.by_handle.get("bob").map(String::as_str), Some("U0BOB"));
        assert_eq!(
            r.by_handle.get("oldfrank").map(String::as_str),
            Some("U0OLDFR")
        );
        for h in ["john", "ghost", "mixed", "nohandle"] {
            assert!(!r.by_handle.contains_key(h), "{h} should not resolve");
        }
        let w = |h: &str| r.warnings.iter().find(|w| w.handle() == h).cloned();
        assert_eq!(
            w("john"),
            Some(ResolutionWarning::Ambiguous {
                platform: Platform::Slack,
                handle: "john".into(),
                candidates: vec!["U0JOHN1".into(), "U0JOHN2".into()]
            })
        );
        assert_eq!(
            w("mixed"),
            Some(ResolutionWarning::Ambiguous {
                platform: Platform::Slack,
                handle: "mixed".into(),
                candidates: vec!["U0AKI123".into(), "U0BOB".into()]
            })
        );
        match w("ghost") {
            Some(ResolutionWarning::Unmatched {
                suggestions,
                identifiers,
                ..
            }) => {
                assert_eq!(identifiers, vec!["akk", "nobody"]);
                assert!(
                    suggestions.contains(&"aki (U0AKI123)".to_string()),
                    "{suggestions:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            w("nohandle"),
            Some(ResolutionWarning::NoIdentifiers { .. })
        ));
        assert!(
            matches!(w("oldfrank"), Some(ResolutionWarning::Deactivated { ref user_id, .. }) if user_id == "U0OLDFR")
        );
        assert_eq!(r.warnings.len(), 5);
        // Messages name the member and the candidates.
        let text = w("john").map(|w| w.to_string()).unwrap_or_default();
        assert!(
            text.contains("`john`") && text.contains("U0JOHN1, U0JOHN2"),
            "{text}"
        );
    }

    #[test]
    fn identifiers_narrow_each_other() {
        let team = Team {
            members: vec![
                // Ambiguous name, made precise by the user ID next to it.
                member("john", Role::Required, &["John Smith", "U0JOHN2"]),
                // Two ambiguous identifiers whose only common user is U0JOHN1.
                member(
                    "johna",
                    Role::Required,
                    &["john", "John Smith", "nobody-stale"],
                ),
            ],
        };
        let mut users = users();
        users.push(user("U0JOHN3", "john.c", "John", "John Other", ""));
        let r = resolve_team(&team, Platform::Slack, &UserIndex::new(&users));
        assert_eq!(r.by_handle.get("john").map(String::as_str), Some("U0JOHN2"));
        // "john" -> 1,2,3 and "John Smith" -> 1,2: still two in common, so ambiguous.
        assert!(!r.by_handle.contains_key("johna"));
        assert!(
            matches!(&r.warnings[..], [ResolutionWarning::Ambiguous { candidates, .. }] if candidates.len() == 3)
        );
    }

    #[test]
    fn command_line_people_are_handles_or_identifiers() {
        let team = Team {
            members: vec![
                member("akibalogh", Role::Required, &["aki"]),
                member("john", Role::Required, &["John Smith"]),
                member("nobody", Role::Optional, &[]),
            ],
        };
        let index = UserIndex::new(&users());
        let one = |id: &str| Identity::One(id.to_string());
        assert_eq!(
            resolve_person("akibalogh", &team, Platform::Slack, &index),
            one("U0AKI123")
        );
        assert_eq!(
            resolve_person("@AkiBalogh", &team, Platform::Slack, &index),
            one("U0AKI123")
        );
        // Not a handle: a Slack identifier.
        assert_eq!(
            resolve_person("bob@example.com", &team, Platform::Slack, &index),
            one("U0BOB")
        );
        assert_eq!(
            resolve_person("U0FRANK", &team, Platform::Slack, &index),
            one("U0FRANK")
        );
        assert!(
            matches!(resolve_person("john", &team, Platform::Slack, &index), Identity::Many(c) if c.len() == 2)
        );
        assert_eq!(
            resolve_person("nobody", &team, Platform::Slack, &index),
            Identity::None {
                suggestions: vec![]
            }
        );
        match resolve_person("akibalog", &team, Platform::Slack, &index) {
            Identity::None { suggestions } => assert_eq!(
                suggestions.first().map(String::as_str),
                Some("akibalogh (team handle)")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn close_team_handles_are_suggested_best_first() {
        // Both handles are close to the typo, but team.json lists the weaker match first: the
        // suggestions must still lead with the closest.
        let team = Team {
            members: vec![
                member("johnsmithers", Role::Optional, &[]),
                member("johnsmith", Role::Optional, &[]),
            ],
        };
        let index = UserIndex::new(&users());
        match resolve_person("johnsmyth", &team, Platform::Slack, &index) {
            Identity::None { suggestions } => assert_eq!(
                suggestions.first().map(String::as_str),
                Some("johnsmith (team handle)"),
                "{suggestions:?}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn telegram_uses_telegram_identifiers() {
        let mut m = member("aki", Role::Required, &["nobody-on-slack"]);
        m.telegram = vec!["@AkiBalogh".into()];
        let team = Team { members: vec![m] };
        let tg = vec![PlatformUser {
            id: "6".into(),
            username: Some("akibalogh".into()),
            ..Default::default()
        }];
        let r = resolve_team(&team, Platform::Telegram, &UserIndex::new(&tg));
        assert_eq!(r.by_handle.get("aki").map(String::as_str), Some("6"));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn index_handles_thousands_of_users() {
        let users: Vec<PlatformUser> = (0..5000)
            .map(|i| {
                user(
                    &format!("U{i:05}"),
                    &format!("user{i}"),
                    &format!("User {i}"),
                    &format!("Real {i}"),
                    &format!("u{i}@x.io"),
                )
            })
            .collect();
        let index = UserIndex::new(&users);
        assert_eq!(index.len(), 5000);
        for i in (0..5000).step_by(97) {
            assert_eq!(
                index.lookup(&format!("@USER{i}")),
                Identity::One(format!("U{i:05}"))
            );
            assert_eq!(
                index.lookup(&format!("u{i}@x.io")),
                Identity::One(format!("U{i:05}"))
            );
        }
    }
}
