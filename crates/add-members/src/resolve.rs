//! Turns the HANDLEs on the command line (team handles, or Slack usernames, user IDs, emails) into
//! Slack user IDs, refusing the whole run when any of them is unknown, ambiguous or deactivated.

use std::collections::BTreeMap;

use cli_support::UsageError;
use roster::{Identity, Platform, Resolution, Team, UserIndex, resolve_person, resolve_team};
use slack_client::User;

/// Someone to invite: their Slack user ID and how reports name them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Invitee {
    pub user_id: String,
    /// The team handle when the user is in team.json, else the Slack username.
    pub label: String,
    /// The team handle, which exclusions in categories.json refer to.
    pub handle: Option<String>,
}

/// The workspace's users and the team resolved against them.
pub struct Directory {
    index: UserIndex,
    team: Team,
    resolution: Resolution,
    /// user ID -> team handle, for naming people found by username or email.
    handle_of: BTreeMap<String, String>,
    /// user ID -> Slack username.
    username_of: BTreeMap<String, String>,
}

/// Maps Slack's user records to what the roster matcher reads.
pub fn platform_users(users: &[User]) -> Vec<roster::PlatformUser> {
    users.iter().map(User::platform_user).collect()
}

impl Directory {
    pub fn new(team: &Team, users: &[User]) -> Self {
        let index = UserIndex::new(&platform_users(users));
        let resolution = resolve_team(team, Platform::Slack, &index);
        let handle_of = resolution
            .by_handle
            .iter()
            .map(|(h, id)| (id.clone(), h.clone()))
            .collect();
        let username_of = users
            .iter()
            .map(|u| (u.id.clone(), u.name.clone()))
            .collect();
        Directory {
            index,
            team: team.clone(),
            resolution,
            handle_of,
            username_of,
        }
    }

    fn invitee(&self, user_id: &str) -> Invitee {
        let handle = self.handle_of.get(user_id).cloned();
        let label = handle
            .clone()
            .or_else(|| {
                self.username_of
                    .get(user_id)
                    .filter(|n| !n.is_empty())
                    .cloned()
            })
            .unwrap_or_else(|| user_id.to_string());
        Invitee {
            user_id: user_id.to_string(),
            label,
            handle,
        }
    }

    /// Whether the user with this ID is deactivated.
    fn deleted(&self, user_id: &str) -> bool {
        self.index.user(user_id).is_some_and(|u| u.deleted)
    }

    /// Resolves every HANDLE or fails naming each one that could not be resolved (exit 2).
    /// Handles naming the same person are merged.
    pub fn resolve_args(&self, args: &[String]) -> Result<Vec<Invitee>, UsageError> {
        let mut out: Vec<Invitee> = Vec::new();
        let mut problems: Vec<String> = Vec::new();
        for arg in args {
            match self.resolve_one(arg) {
                Ok(inv) => {
                    if !out.iter().any(|o| o.user_id == inv.user_id) {
                        out.push(inv);
                    }
                }
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() {
            return Ok(out);
        }
        Err(UsageError::new(format!(
            "cannot resolve {} of the handles; nothing was invited:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
        .with_hint(
            "use a team handle from team.json, or a Slack user ID, username or email; \
             for an ambiguous name use the user ID",
        ))
    }

    /// One HANDLE, resolved by roster (team handle first, then Slack identifier); this only
    /// refuses deactivated users and words the failures.
    fn resolve_one(&self, arg: &str) -> Result<Invitee, String> {
        let identity = resolve_person(arg, &self.team, Platform::Slack, &self.index);
        if let Some(member) = self.team.member_named(arg) {
            // Inactive members are expected nowhere; inviting one by handle is most likely a
            // stale command line, so it is refused like an unknown handle rather than done.
            if !member.is_active() {
                return Err(format!(
                    "`{arg}`: team member `{}` is inactive (\"status\": \"inactive\" in team.json); \
                     set the status to active to invite them",
                    member.handle
                ));
            }
            return match identity {
                Identity::One(id) if self.deleted(&id) => Err(format!(
                    "`{arg}`: team member `{}` is Slack user {id}, which is deactivated",
                    member.handle
                )),
                Identity::One(id) => Ok(self.invitee(&id)),
                // resolve_team applied the same rules to this member and said why it failed.
                _ => Err(self
                    .resolution
                    .warnings
                    .iter()
                    .find(|w| w.handle() == member.handle)
                    .map(|w| format!("`{arg}`: {w}"))
                    .unwrap_or_else(|| format!("`{arg}`: team member has no Slack user"))),
            };
        }
        match identity {
            Identity::One(id) if self.deleted(&id) => {
                Err(format!("`{arg}` is Slack user {id}, which is deactivated"))
            }
            Identity::One(id) => Ok(self.invitee(&id)),
            Identity::Many(ids) => Err(format!(
                "`{arg}` is ambiguous: it matches {}",
                ids.iter()
                    .map(|id| self.describe(id))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Identity::None { suggestions } if suggestions.is_empty() => {
                Err(format!("`{arg}` is neither a team handle nor a Slack user"))
            }
            Identity::None { suggestions } => Err(format!(
                "`{arg}` is neither a team handle nor a Slack user; close matches: {}",
                suggestions.join(", ")
            )),
        }
    }

    fn describe(&self, user_id: &str) -> String {
        match self.username_of.get(user_id) {
            Some(name) if !name.is_empty() => format!("{name} ({user_id})"),
            _ => user_id.to_string(),
        }
    }

    /// A team handle named by a stored audit: the invitee, or why it cannot be invited.
    pub fn resolve_team_handle(&self, handle: &str) -> Result<Invitee, &'static str> {
        if self.team.member(handle).is_some_and(|m| !m.is_active()) {
            return Err("inactive");
        }
        match self.resolution.by_handle.get(handle) {
            Some(id) if self.deleted(id) => Err("deactivated"),
            Some(id) => Ok(self.invitee(id)),
            None => Err("no Slack user"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster::{Role, TeamMember};

    fn user(id: &str, name: &str, real: &str, email: &str, deleted: bool) -> User {
        let mut u = User {
            id: id.into(),
            name: name.into(),
            deleted,
            ..User::default()
        };
        u.profile.real_name = real.into();
        u.profile.email = Some(email.into());
        u
    }

    fn directory() -> Directory {
        let team = Team {
            members: vec![
                TeamMember {
                    handle: "frank".into(),
                    name: "Frank Fox".into(),
                    role: Role::Optional,
                    slack: vec!["frank@example.com".into()],
                    telegram: vec![],
                    status: Default::default(),
                    department: None,
                },
                TeamMember {
                    handle: "gina".into(),
                    name: "Gina".into(),
                    role: Role::Required,
                    slack: vec!["gina@example.com".into()],
                    telegram: vec![],
                    status: Default::default(),
                    department: None,
                },
            ],
        };
        let users = vec![
            user("U1", "ffox", "Frank Fox", "frank@example.com", false),
            user("U2", "john.a", "John Smith", "ja@example.com", false),
            user("U3", "john.b", "John Smith", "jb@example.com", false),
            user("U4", "gina", "Gina Howe", "gina@example.com", true),
        ];
        Directory::new(&team, &users)
    }

    #[test]
    fn handles_usernames_ids_and_emails_resolve_and_merge() {
        let d = directory();
        let got = d
            .resolve_args(&[
                "frank".into(),
                "@ffox".into(),
                "U2".into(),
                "jb@example.com".into(),
            ])
            .expect("resolves");
        let ids: Vec<&str> = got.iter().map(|i| i.user_id.as_str()).collect();
        assert_eq!(ids, ["U1", "U2", "U3"]);
        assert_eq!(got[0].label, "frank");
        assert_eq!(got[0].handle.as_deref(), Some("frank"));
        assert_eq!(got[1].label, "john.a");
        assert_eq!(got[1].handle, None);
    }

    #[test]
    fn unknown_ambiguous_and_deactivated_are_all_named() {
        let d = directory();
        let err = d
            .resolve_args(&[
                "frnk".into(),
                "John Smith".into(),
                "gina".into(),
                "frank".into(),
            ])
            .expect_err("must refuse");
        let text = err.to_string();
        assert!(text.contains("cannot resolve 3"), "{text}");
        assert!(
            text.contains("`frnk`") && text.contains("frank (team handle)"),
            "{text}"
        );
        assert!(
            text.contains("ambiguous") && text.contains("john.a (U2)"),
            "{text}"
        );
        assert!(text.contains("deactivated"), "{text}");
        assert!(err.hint.is_some());
    }

    #[test]
    fn team_handles_that_do_not_resolve_say_why() {
        let team = Team {
            members: vec![
                TeamMember {
                    handle: "john".into(),
                    name: "John".into(),
                    role: Role::Optional,
                    slack: vec!["John Smith".into()],
                    telegram: vec![],
                    status: Default::default(),
                    department: None,
                },
                TeamMember {
                    handle: "tg-only".into(),
                    name: "Telegram Only".into(),
                    role: Role::Optional,
                    slack: vec![],
                    telegram: vec!["tgonly".into()],
                    status: Default::default(),
                    department: None,
                },
            ],
        };
        let users = vec![
            user("U2", "john.a", "John Smith", "ja@example.com", false),
            user("U3", "john.b", "John Smith", "jb@example.com", false),
        ];
        let d = Directory::new(&team, &users);
        let text = d
            .resolve_args(&["@John".into(), "TG-only".into()])
            .expect_err("must refuse")
            .to_string();
        assert!(text.contains("cannot resolve 2"), "{text}");
        assert!(
            text.contains("`@John`: team member `john` matches more than one slack user (U2, U3)"),
            "{text}"
        );
        assert!(
            text.contains("`TG-only`: team member `tg-only` has no slack identifiers"),
            "{text}"
        );
    }

    #[test]
    fn an_inactive_team_member_is_refused_by_handle_and_skipped_from_an_audit() {
        let mut d = directory();
        d.team.members[0].status = roster::MemberStatus::Inactive;
        let err = d
            .resolve_args(&["Frank".into(), "U2".into()])
            .expect_err("must refuse");
        let text = err.to_string();
        assert!(text.contains("cannot resolve 1"), "{text}");
        assert!(
            text.contains("`Frank`: team member `frank` is inactive"),
            "{text}"
        );
        assert_eq!(d.resolve_team_handle("frank"), Err("inactive"));
        // Their Slack user can still be named directly: that is a deliberate choice.
        assert_eq!(
            d.resolve_args(&["U1".into()]).expect("resolves")[0].user_id,
            "U1"
        );
    }
}
