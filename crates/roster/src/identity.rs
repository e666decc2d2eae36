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
                .filter_map(|k| normalize(k).map(|n| (strsim::jaro_winkler(key, &n), k)))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((score, text)) = best {
                if score >= 0.85 {
                    scored.push((score, format!("{text} ({})", u.id)));
                }
            }
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        scored.into_iter().take(3).map(|(_, s)| s).collect()
    }
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
                    "team member `{handle}` has no {platform} identifiers in team.json; counted as missing on {platform}"
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
        let resolved: Result<String, Vec<String>> = if ones.len() > 1 {
            Err(ones.into_iter().collect())
        } else if let Some(id) = ones.pop_first() {
            match manys.iter().find(|m| !m.contains(&id)) {
                None => Ok(id),
                Some(other) => Err(other
                    .iter()
                    .cloned()
                    .chain(std::iter::once(id))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()),
            }
        } else if let Some(first) = manys.first() {
            let common: BTreeSet<String> = first
                .iter()
                .filter(|id| manys.iter().all(|m| m.contains(*id)))
                .cloned()
                .collect();
            if common.len() == 1 {
                Ok(common.into_iter().next().unwrap_or_default())
            } else {
                Err(manys
                    .iter()
                    .flatten()
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect())
            }
        } else {
            suggestions.truncate(3);
            out.warnings.push(ResolutionWarning::Unmatched {
                platform,
                handle,
                identifiers: identifiers.clone(),
                suggestions,
            });
            continue;
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
