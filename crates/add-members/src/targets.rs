//! Which channels a run touches: the audit scope from categories.json, narrowed by `--channels`
//! (names, IDs or globs), and who is wanted in each (HANDLEs plus, with `--from-audit`, the gaps
//! the last audit found), with exclusions and archived channels set aside as skipped.

use std::collections::BTreeMap;

use cli_support::UsageError;
use roster::Categories;
use slack_client::Conversation;

use crate::resolve::Invitee;

/// Why someone is not invited to a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// Already a member (conversations.members).
    Present,
    /// categories.json excludes them from this channel.
    Excluded(Option<String>),
    /// The channel is archived (only in scope with `include_archived`): an invite cannot work.
    Archived,
    /// The audit named a team member whose Slack account is deactivated or not found.
    Unresolvable(&'static str),
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Present => f.write_str("present"),
            SkipReason::Excluded(None) => f.write_str("excluded"),
            SkipReason::Excluded(Some(why)) => write!(f, "excluded: {why}"),
            SkipReason::Archived => f.write_str("archived"),
            SkipReason::Unresolvable(why) => f.write_str(why),
        }
    }
}

impl SkipReason {
    /// A short stable name for summaries and logs.
    pub fn key(&self) -> &'static str {
        match self {
            SkipReason::Present => "present",
            SkipReason::Excluded(_) => "excluded",
            SkipReason::Archived => "archived",
            SkipReason::Unresolvable(why) => why,
        }
    }
}

/// Someone set aside in a channel, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub label: String,
    pub reason: SkipReason,
}

/// A channel in the run with the people wanted in it, before membership is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub id: String,
    pub name: String,
    /// Candidates still to check against the current membership.
    pub wanted: Vec<Invitee>,
    pub skipped: Vec<Skipped>,
}

/// Gaps from the stored audit: channel ID -> team handles missing there.
pub type AuditGaps = BTreeMap<String, Vec<String>>;

/// A `--channels` pattern: an exact ID, or a name glob (a plain name is a glob without wildcards).
struct ChannelPattern {
    raw: String,
    glob: glob::Pattern,
}

impl ChannelPattern {
    fn parse(raw: &str) -> Result<Self, UsageError> {
        let text = raw.trim().trim_start_matches('#');
        let glob = glob::Pattern::new(text).map_err(|e| {
            UsageError::new(format!("--channels {raw:?} is not a valid pattern: {e}"))
                .with_hint("use a channel name, a channel ID, or a glob such as 'bitsafe-a*'")
        })?;
        Ok(ChannelPattern {
            raw: raw.to_string(),
            glob,
        })
    }

    fn matches(&self, c: &Conversation) -> bool {
        c.id.eq_ignore_ascii_case(self.glob.as_str()) || self.glob.matches(&c.name)
    }
}

/// The channels of the run, in name order.
///
/// `--channels` patterns narrow the audit scope; a pattern that matches no channel in scope is a
/// usage error naming what it did match (a channel outside the scope, an archived one) or close
/// names. `resolve_gap` turns a team handle from the audit into an invitee or a skip reason.
pub fn select(
    channels: &[Conversation],
    categories: &Categories,
    patterns: &[String],
    invitees: &[Invitee],
    gaps: Option<&AuditGaps>,
    resolve_gap: &dyn Fn(&str) -> Result<Invitee, &'static str>,
) -> Result<Vec<Target>, UsageError> {
    let patterns: Vec<ChannelPattern> = patterns
        .iter()
        .map(|p| ChannelPattern::parse(p))
        .collect::<Result<_, _>>()?;
    let in_scope = |c: &Conversation| {
        !c.is_im && !c.is_mpim && categories.in_slack_scope(&c.name, c.is_archived)
    };

    let mut problems = Vec::new();
    for p in &patterns {
        if channels.iter().any(|c| in_scope(c) && p.matches(c)) {
            continue;
        }
        let outside: Vec<String> = channels
            .iter()
            .filter(|c| p.matches(c))
            .take(3)
            .map(|c| {
                if c.is_archived {
                    format!("{} (archived)", c.name)
                } else {
                    format!("{} (not in the audit scope)", c.name)
                }
            })
            .collect();
        if !outside.is_empty() {
            problems.push(format!(
                "--channels {:?} matches only channels outside the scope: {}",
                p.raw,
                outside.join(", ")
            ));
        } else {
            let close = close_names(p.glob.as_str(), channels.iter().filter(|c| in_scope(c)));
            problems.push(if close.is_empty() {
                format!("--channels {:?} matches no channel", p.raw)
            } else {
                format!(
                    "--channels {:?} matches no channel; close matches: {}",
                    p.raw,
                    close.join(", ")
                )
            });
        }
    }
    if !problems.is_empty() {
        return Err(UsageError::new(problems.join("\n")).with_hint(format!(
            "add-members only touches channels in the audit scope (names containing {}); \
             check the name, or widen slack_scope in categories.json",
            categories.slack_scope.name_contains.join(", ")
        )));
    }

    let mut targets: Vec<Target> = channels
        .iter()
        .filter(|c| in_scope(c) && (patterns.is_empty() || patterns.iter().any(|p| p.matches(c))))
        .filter_map(|c| {
            let mut wanted: Vec<Invitee> = invitees.to_vec();
            let mut skipped: Vec<Skipped> = Vec::new();
            if let Some(handles) = gaps.and_then(|g| g.get(&c.id)) {
                for handle in handles {
                    match resolve_gap(handle) {
                        Ok(inv) => {
                            if !wanted.iter().any(|w| w.user_id == inv.user_id) {
                                wanted.push(inv);
                            }
                        }
                        Err(why) => skipped.push(Skipped {
                            label: handle.clone(),
                            reason: SkipReason::Unresolvable(why),
                        }),
                    }
                }
            }
            // With --from-audit and no HANDLEs, channels without gaps have nothing to do.
            if wanted.is_empty() && skipped.is_empty() {
                return None;
            }
            let excluded = exclusions(categories, &c.id, &c.name);
            wanted.retain(|inv| {
                let reason = inv.handle.as_deref().and_then(|h| excluded.get(h));
                if let Some(reason) = reason {
                    skipped.push(Skipped {
                        label: inv.label.clone(),
                        reason: SkipReason::Excluded(reason.clone()),
                    });
                }
                reason.is_none()
            });
            if c.is_archived {
                skipped.extend(wanted.drain(..).map(|inv| Skipped {
                    label: inv.label,
                    reason: SkipReason::Archived,
                }));
            }
            Some(Target {
                id: c.id.clone(),
                name: c.name.clone(),
                wanted,
                skipped,
            })
        })
        .collect();
    targets.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Ok(targets)
}

/// Handles excluded from a channel (by ID or exact name) with the first reason given for each.
fn exclusions(categories: &Categories, id: &str, name: &str) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    for ex in categories
        .exclusions
        .iter()
        .filter(|e| e.group == id || e.group == name)
    {
        for handle in &ex.members {
            out.entry(handle.clone())
                .or_insert_with(|| ex.reason.clone());
        }
    }
    out
}

fn close_names<'a>(wanted: &str, channels: impl Iterator<Item = &'a Conversation>) -> Vec<String> {
    let wanted = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = channels
        .map(|c| {
            (
                strsim::jaro_winkler(&wanted, &c.name.to_lowercase()),
                c.name.as_str(),
            )
        })
        .filter(|(s, _)| *s >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster::{Exclusion, SlackScope};

    fn conv(id: &str, name: &str, archived: bool) -> Conversation {
        Conversation {
            id: id.into(),
            name: name.into(),
            is_archived: archived,
            ..Conversation::default()
        }
    }

    fn categories(include_archived: bool) -> Categories {
        Categories {
            slack_scope: SlackScope {
                name_contains: vec!["bitsafe".into()],
                include_archived,
            },
            telegram_scope: Default::default(),
            categories: vec![],
            rename: vec![],
            exclusions: vec![Exclusion {
                group: "bitsafe-stark".into(),
                members: vec!["maria".into()],
                reason: Some("smaller channel".into()),
            }],
        }
    }

    fn inv(id: &str, handle: &str) -> Invitee {
        Invitee {
            user_id: id.into(),
            label: handle.into(),
            handle: Some(handle.into()),
        }
    }

    fn channels() -> Vec<Conversation> {
        vec![
            conv("C1", "bitsafe-acme", false),
            conv("C2", "bitsafe-stark", false),
            conv("C3", "general", false),
            conv("C4", "bitsafe-old", true),
            conv("C5", "bitsafe-globex", false),
        ]
    }

    fn no_gap(_: &str) -> Result<Invitee, &'static str> {
        Err("no Slack user")
    }

    #[test]
    fn scope_exclusions_and_archive() {
        let people = [inv("U1", "frank"), inv("U2", "maria")];
        let t = select(&channels(), &categories(true), &[], &people, None, &no_gap).expect("ok");
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "bitsafe-acme",
                "bitsafe-globex",
                "bitsafe-old",
                "bitsafe-stark"
            ]
        );
        let stark = &t[3];
        assert_eq!(stark.wanted, vec![inv("U1", "frank")]);
        assert_eq!(
            stark.skipped[0].reason,
            SkipReason::Excluded(Some("smaller channel".into()))
        );
        assert!(t[2].wanted.is_empty());
        assert!(
            t[2].skipped
                .iter()
                .all(|s| s.reason == SkipReason::Archived)
        );
        // Without include_archived the archived channel is out of scope altogether.
        let t = select(&channels(), &categories(false), &[], &people, None, &no_gap).expect("ok");
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn patterns_narrow_by_name_id_and_glob() {
        let people = [inv("U1", "frank")];
        let pick = |pats: &[&str]| {
            let pats: Vec<String> = pats.iter().map(|s| s.to_string()).collect();
            select(
                &channels(),
                &categories(false),
                &pats,
                &people,
                None,
                &no_gap,
            )
            .map(|t| t.into_iter().map(|t| t.id).collect::<Vec<_>>())
        };
        assert_eq!(pick(&["#bitsafe-acme"]).expect("ok"), ["C1"]);
        assert_eq!(pick(&["c5"]).expect("ok"), ["C5"]);
        assert_eq!(pick(&["bitsafe-[as]*"]).expect("ok"), ["C1", "C2"]);
        let err = pick(&["general"]).expect_err("outside scope");
        assert!(err.to_string().contains("not in the audit scope"), "{err}");
        let err = pick(&["bitsafe-acne"]).expect_err("typo");
        assert!(
            err.to_string().contains("close matches: bitsafe-acme"),
            "{err}"
        );
        let err = pick(&["[bad"]).expect_err("bad glob");
        assert!(err.to_string().contains("not a valid pattern"), "{err}");
    }

    #[test]
    fn audit_gaps_add_per_channel_and_unresolvable_are_skipped() {
        let mut gaps = AuditGaps::new();
        gaps.insert("C1".into(), vec!["aki".into(), "gina".into()]);
        let resolve = |h: &str| {
            if h == "aki" {
                Ok(inv("U9", "aki"))
            } else {
                Err("deactivated")
            }
        };
        let t = select(
            &channels(),
            &categories(false),
            &[],
            &[],
            Some(&gaps),
            &resolve,
        )
        .expect("ok");
        assert_eq!(t.len(), 1, "only channels with gaps");
        assert_eq!(t[0].wanted, vec![inv("U9", "aki")]);
        assert_eq!(t[0].skipped[0].label, "gina");
        assert_eq!(t[0].skipped[0].reason.to_string(), "deactivated");
    }
}
