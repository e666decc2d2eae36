//! team.json and categories.json: the types, strict parsing, and the checks that catch config
//! mistakes before any data is fetched (see docs/configuration.md for the user-facing description).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::identity::Resolution;
use crate::text::{contains_ci, replace_ci};

/// File name of the team roster inside the config directory.
pub const TEAM_FILE: &str = "team.json";
/// File name of the scope/categories file inside the config directory.
pub const CATEGORIES_FILE: &str = "categories.json";
/// Name of the default category added when categories.json declares none (a category without
/// `match`). Coverage rate is computed over the default category's groups.
pub const DEFAULT_CATEGORY_NAME: &str = "BD Customer";

const DOCS_HINT: &str = "see docs/configuration.md and the examples in config/";

/// Both config files, validated against each other, and the directory they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditConfig {
    pub team: Team,
    pub categories: Categories,
    pub dir: PathBuf,
}

impl AuditConfig {
    /// Parses config from text (the embedded demo config and tests use this); `dir` is only used
    /// to name the files in errors.
    pub fn from_texts(
        team_json: &str,
        categories_json: &str,
        dir: &Path,
    ) -> Result<Self, ConfigError> {
        let team = parse_team(team_json, &dir.join(TEAM_FILE))?;
        let categories = parse_categories(categories_json, &dir.join(CATEGORIES_FILE), &team)?;
        Ok(Self {
            team,
            categories,
            dir: dir.to_path_buf(),
        })
    }
}

/// Reads and validates `dir/team.json` and `dir/categories.json`.
pub fn load(dir: &Path) -> Result<AuditConfig, ConfigError> {
    if !dir.is_dir() {
        return Err(ConfigError::new(dir, None, "config directory not found").with_hint(format!(
            "pass --config DIR pointing at a directory with {TEAM_FILE} and {CATEGORIES_FILE}; {DOCS_HINT}"
        )));
    }
    let team_path = dir.join(TEAM_FILE);
    let team = parse_team(&read(&team_path)?, &team_path)?;
    let categories_path = dir.join(CATEGORIES_FILE);
    let categories = parse_categories(&read(&categories_path)?, &categories_path, &team)?;
    Ok(AuditConfig {
        team,
        categories,
        dir: dir.to_path_buf(),
    })
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(path, None, format!("cannot read the file: {e}"))
            .with_hint(format!("create it (or fix its permissions); {DOCS_HINT}"))
    })
}

// ---------------------------------------------------------------------------------------------
// team.json

/// The roster: who should be in customer groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    pub members: Vec<TeamMember>,
}

/// One person of the team and how to find them on each platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamMember {
    /// Short unique name used everywhere else in the config and in reports.
    pub handle: String,
    /// Full name, for people reading reports.
    pub name: String,
    pub role: Role,
    /// Slack user IDs, usernames, display names, real names or emails of this person.
    #[serde(default)]
    pub slack: Vec<String>,
    /// Telegram user IDs, usernames or names of this person.
    #[serde(default)]
    pub telegram: Vec<String>,
    /// Inactive members (on leave, gone) are expected nowhere: the audit does not count them
    /// missing and add-members does not invite them.
    #[serde(default, skip_serializing_if = "MemberStatus::is_active")]
    pub status: MemberStatus,
    /// Free text such as "Sales"; insight's department when `departments.source` is team.json.
    /// Trimmed when parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

impl TeamMember {
    /// Whether the member is expected in groups (`status` is not `inactive`).
    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }
}

/// Whether a member currently counts anywhere; absent in team.json means active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    #[default]
    Active,
    Inactive,
}

impl MemberStatus {
    pub fn is_active(&self) -> bool {
        *self == MemberStatus::Active
    }
}

/// Whether a member must be in every customer group (unless a category says otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Required,
    Optional,
}

impl Team {
    /// The member with exactly this handle.
    pub fn member(&self, handle: &str) -> Option<&TeamMember> {
        self.members.iter().find(|m| m.handle == handle)
    }

    /// The member a person typed on a command line means: the handle compared ignoring case,
    /// surrounding whitespace and leading `@`s (people paste `@Frank` from Slack).
    pub fn member_named(&self, name: &str) -> Option<&TeamMember> {
        let wanted = name.trim().trim_start_matches('@').to_lowercase();
        self.members
            .iter()
            .find(|m| m.handle.to_lowercase() == wanted)
    }

    /// Whether `handle` names an active member (unknown handles are not active).
    pub fn is_active(&self, handle: &str) -> bool {
        self.member(handle).is_some_and(TeamMember::is_active)
    }

    /// Slack/Telegram user ID -> department, for the members `resolution` found that have a
    /// `department`; `fallback` for resolved members without one.
    pub fn departments_by_user_id<'a>(
        &'a self,
        resolution: &'a Resolution,
        fallback: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a str, &'a str)> {
        resolution.by_handle.iter().filter_map(move |(handle, id)| {
            let department = self.member(handle)?.department.as_deref().or(fallback)?;
            Some((id.as_str(), department))
        })
    }

    /// Handles of members with the given role, in team.json order.
    pub fn handles_with_role(&self, role: Role) -> impl Iterator<Item = &str> {
        self.members
            .iter()
            .filter(move |m| m.role == role)
            .map(|m| m.handle.as_str())
    }
}

/// Parses and validates team.json. `file` names the file in errors.
pub fn parse_team(text: &str, file: &Path) -> Result<Team, ConfigError> {
    let mut team: Team = parse_json(text, file)?;
    validate_team(&team, file)?;
    for m in &mut team.members {
        if let Some(d) = &mut m.department {
            *d = d.trim().to_string();
        }
    }
    Ok(team)
}

fn validate_team(team: &Team, file: &Path) -> Result<(), ConfigError> {
    if team.members.is_empty() {
        return Err(ConfigError::at(file, "members", "the team has no members")
            .with_hint(r#"add at least one member: {"handle": "aki", "name": "Aki B", "role": "required", "slack": ["aki"]}"#));
    }
    // Handles are compared case-insensitively for duplicates so `Aki` and `aki` can't both exist
    // and confuse people reading reports.
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, m) in team.members.iter().enumerate() {
        let at = format!("members[{i}].handle");
        if m.handle.trim().is_empty() {
            return Err(ConfigError::at(file, at, "the handle is empty")
                .with_hint("give every member a short unique handle such as their username"));
        }
        if m.handle.chars().any(char::is_whitespace) || m.handle.starts_with('@') {
            return Err(ConfigError::at(file, at, format!("handle `{}` contains spaces or starts with `@`", m.handle))
                .with_hint("handles are plain words such as `aki` or `frank.fox`; put Slack/Telegram names in `slack`/`telegram`"));
        }
        if let Some(first) = seen.insert(m.handle.to_lowercase(), i) {
            return Err(ConfigError::at(
                file,
                at,
                format!(
                    "duplicate handle `{}` (also used by members[{first}])",
                    m.handle
                ),
            )
            .with_hint("every member needs a different handle (compared ignoring case)"));
        }
        for (list, key) in [(&m.slack, "slack"), (&m.telegram, "telegram")] {
            for (k, ident) in list.iter().enumerate() {
                if ident.trim().trim_start_matches('@').trim().is_empty() {
                    return Err(ConfigError::at(file, format!("members[{i}].{key}[{k}]"), "empty identifier")
                        .with_hint("use a user ID, username, display name, real name or email, or remove the entry"));
                }
            }
        }
        if m.department.as_deref().is_some_and(|d| d.trim().is_empty()) {
            return Err(ConfigError::at(
                file,
                format!("members[{i}].department"),
                "the department is empty",
            )
            .with_hint(
                r#"write the department's name, e.g. "department": "Sales", or remove the key"#,
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// categories.json

/// Which groups are audited, how they are categorised, and the exceptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Categories {
    pub slack_scope: SlackScope,
    #[serde(default)]
    pub telegram_scope: TelegramScope,
    /// In file order, with exactly one default (no `match`) after loading.
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub rename: Vec<RenameRule>,
    #[serde(default)]
    pub exclusions: Vec<Exclusion>,
}

/// Which Slack channels are customer channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackScope {
    /// A channel is in scope when its name contains any of these (case-insensitive).
    pub name_contains: Vec<String>,
    #[serde(default)]
    pub include_archived: bool,
}

/// Which Telegram groups are customer groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramScope {
    /// Only groups this Telegram user is also in; all groups when absent. A leading `@` is allowed.
    #[serde(default)]
    pub shared_with: Option<String>,
}

impl TelegramScope {
    /// `shared_with` without a leading `@`.
    pub fn shared_with_username(&self) -> Option<&str> {
        self.shared_with
            .as_deref()
            .map(|s| s.trim().trim_start_matches('@'))
    }
}

/// A kind of group, recognised by its name, with its own required members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub name: String,
    /// Substrings (case-insensitive) of group names in this category; empty = the default category.
    #[serde(rename = "match", default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<String>,
    /// Handles required in this category; absent = every `role: required` member; empty = nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
}

impl Category {
    /// The category without `match`, which takes every group no other category matches.
    pub fn is_default(&self) -> bool {
        self.r#match.is_empty()
    }

    /// Handles required in groups of this category, in order.
    pub fn required_handles<'a>(&'a self, team: &'a Team) -> Vec<&'a str> {
        match &self.required {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => team.handles_with_role(Role::Required).collect(),
        }
    }
}

/// Flags groups whose name contains `find` and suggests the name with `replace` instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameRule {
    pub find: String,
    pub replace: String,
}

/// Members not expected in one group (by group ID or exact name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub group: String,
    pub members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Stands in for the default category if a hand-built `Categories` lacks one; files loaded through
/// this crate always have their own.
static FALLBACK_DEFAULT: LazyLock<Category> = LazyLock::new(|| Category {
    name: DEFAULT_CATEGORY_NAME.to_string(),
    r#match: Vec::new(),
    required: None,
});

impl Categories {
    /// Whether a Slack channel is audited: its name contains a `name_contains` string (ignoring
    /// case) and it is not archived, unless `include_archived`.
    pub fn in_slack_scope(&self, name: &str, is_archived: bool) -> bool {
        (!is_archived || self.slack_scope.include_archived)
            && self
                .slack_scope
                .name_contains
                .iter()
                .any(|s| contains_ci(name, s))
    }

    /// The first category with a `match` substring in `group_name`, else the default category.
    pub fn category_for(&self, group_name: &str) -> &Category {
        self.categories
            .iter()
            .find(|c| c.r#match.iter().any(|m| contains_ci(group_name, m)))
            .unwrap_or_else(|| self.default_category())
    }

    /// The category without `match`.
    pub fn default_category(&self) -> &Category {
        self.categories
            .iter()
            .find(|c| c.is_default())
            .unwrap_or(&FALLBACK_DEFAULT)
    }

    /// The suggested new name when any rename rule's `find` occurs in `name` (ignoring case):
    /// every matching rule is applied in file order, and the rest of the name is kept as is.
    /// `None` when no rule applies or the result equals the current name.
    pub fn rename_for(&self, name: &str) -> Option<String> {
        let mut suggested = name.to_string();
        for rule in &self.rename {
            if contains_ci(&suggested, &rule.find) {
                suggested = replace_ci(&suggested, &rule.find, &rule.replace);
            }
        }
        (suggested != name).then_some(suggested)
    }

    /// Handles excluded from the group with this ID or exact name, in file order, each once.
    pub fn excluded_for(&self, group_id: &str, group_name: &str) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for ex in self
            .exclusions
            .iter()
            .filter(|e| e.group == group_id || e.group == group_name)
        {
            for handle in &ex.members {
                if !out.contains(&handle.as_str()) {
                    out.push(handle);
                }
            }
        }
        out
    }
}

/// Parses and validates categories.json against the team (handles it names must exist).
/// Adds the default category [`DEFAULT_CATEGORY_NAME`] at the end when the file declares none.
pub fn parse_categories(text: &str, file: &Path, team: &Team) -> Result<Categories, ConfigError> {
    let mut categories: Categories = parse_json(text, file)?;
    validate_categories(&categories, file, team)?;
    if !categories.categories.iter().any(Category::is_default) {
        categories.categories.push(FALLBACK_DEFAULT.clone());
    }
    Ok(categories)
}

fn validate_categories(c: &Categories, file: &Path, team: &Team) -> Result<(), ConfigError> {
    let scope = &c.slack_scope.name_contains;
    if scope.is_empty() {
        return Err(ConfigError::at(file, "slack_scope.name_contains", "the Slack scope is empty")
            .with_hint(r#"list text that every customer channel name contains, e.g. "name_contains": ["bitsafe"]"#));
    }
    for (i, s) in scope.iter().enumerate() {
        if s.trim().is_empty() {
            return Err(ConfigError::at(
                file,
                format!("slack_scope.name_contains[{i}]"),
                "empty text would match every channel",
            )
            .with_hint("remove the entry or write the text customer channel names contain"));
        }
    }
    if let Some(user) = &c.telegram_scope.shared_with
        && user.trim().trim_start_matches('@').is_empty()
    {
        return Err(ConfigError::at(file, "telegram_scope.shared_with", "empty Telegram username").with_hint(
            "write the username of the account the customer groups are shared with, or remove the key to audit every group",
        ));
    }

    let mut names: HashMap<String, usize> = HashMap::new();
    let mut default: Option<usize> = None;
    for (i, cat) in c.categories.iter().enumerate() {
        if cat.name.trim().is_empty() {
            return Err(ConfigError::at(
                file,
                format!("categories[{i}].name"),
                "the category name is empty",
            )
            .with_hint("name it as it should appear in reports, e.g. \"Marketing\""));
        }
        if let Some(first) = names.insert(cat.name.to_lowercase(), i) {
            return Err(ConfigError::at(
                file,
                format!("categories[{i}].name"),
                format!(
                    "duplicate category name `{}` (also categories[{first}])",
                    cat.name
                ),
            )
            .with_hint("give each category a different name, or merge their `match` lists"));
        }
        for (j, m) in cat.r#match.iter().enumerate() {
            if m.trim().is_empty() {
                return Err(ConfigError::at(
                    file,
                    format!("categories[{i}].match[{j}]"),
                    "empty text would match every group",
                )
                .with_hint("remove the entry; a category without `match` is already the default"));
            }
        }
        if cat.is_default() {
            if let Some(first) = default {
                return Err(ConfigError::at(
                    file,
                    format!("categories[{i}]"),
                    format!(
                        "more than one default category: `{}` and `{}` (categories[{first}]) both have no `match`",
                        cat.name, c.categories[first].name
                    ),
                )
                .with_hint("only one category may lack `match`; give the other one a `match` list"));
            }
            default = Some(i);
        }
        if let Some(required) = &cat.required {
            check_handles(required, &format!("categories[{i}].required"), file, team)?;
        }
    }
    for (i, rule) in c.rename.iter().enumerate() {
        if rule.find.trim().is_empty() {
            return Err(
                ConfigError::at(file, format!("rename[{i}].find"), "empty `find` text")
                    .with_hint("write the text to look for in group names, e.g. \"ibtc\""),
            );
        }
    }
    for (i, ex) in c.exclusions.iter().enumerate() {
        if ex.group.trim().is_empty() {
            return Err(
                ConfigError::at(file, format!("exclusions[{i}].group"), "empty group").with_hint(
                    "write the group's ID (e.g. C0123ABC or a Telegram chat id) or its exact name",
                ),
            );
        }
        if ex.members.is_empty() {
            return Err(ConfigError::at(file, format!("exclusions[{i}].members"), "no members listed")
                .with_hint("list the handles (from team.json) not expected in this group, or remove the exclusion"));
        }
        check_handles(&ex.members, &format!("exclusions[{i}].members"), file, team)?;
    }
    Ok(())
}

/// Every entry must be a team handle, each listed once.
fn check_handles(list: &[String], at: &str, file: &Path, team: &Team) -> Result<(), ConfigError> {
    for (k, handle) in list.iter().enumerate() {
        if team.member(handle).is_none() {
            return Err(ConfigError::at(
                file,
                format!("{at}[{k}]"),
                format!("`{handle}` is not a handle in {TEAM_FILE}"),
            )
            .with_hint(handle_hint(handle, team)));
        }
        if list[..k].contains(handle) {
            return Err(ConfigError::at(
                file,
                format!("{at}[{k}]"),
                format!("`{handle}` is listed twice"),
            )
            .with_hint("remove the repeated entry"));
        }
    }
    Ok(())
}

/// "did you mean" for an unknown handle: close handles, or a member whose name or platform
/// identifier was written instead of the handle; else the list of handles.
fn handle_hint(unknown: &str, team: &Team) -> String {
    let wanted = unknown.trim_start_matches('@').to_lowercase();
    let mut scored: Vec<(f64, &str)> = team
        .members
        .iter()
        .map(|m| {
            let exact = std::iter::once(&m.name)
                .chain(&m.slack)
                .chain(&m.telegram)
                .any(|s| s.trim_start_matches('@').to_lowercase() == wanted);
            let score = if exact {
                1.0
            } else {
                strsim::jaro_winkler(&wanted, &m.handle.to_lowercase())
            };
            (score, m.handle.as_str())
        })
        .filter(|(score, _)| *score >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let close: Vec<String> = scored
        .iter()
        .take(3)
        .map(|(_, h)| format!("`{h}`"))
        .collect();
    if close.is_empty() {
        let all: Vec<&str> = team
            .members
            .iter()
            .take(12)
            .map(|m| m.handle.as_str())
            .collect();
        let more = if team.members.len() > all.len() {
            ", ..."
        } else {
            ""
        };
        format!("use a `handle` from {TEAM_FILE}: {}{more}", all.join(", "))
    } else {
        format!(
            "did you mean {}? Use the `handle` values from {TEAM_FILE}",
            close.join(" or ")
        )
    }
}

// ---------------------------------------------------------------------------------------------
// JSON parsing with precise error locations

/// Parses one JSON config file into `T` with the error users get from every tool: the file, the
/// JSON path and line/column, serde's message without its position suffix, and a hint (syntax,
/// truncation, or the closest known key for an unknown one). Shared by every config file the
/// suite reads (team.json, categories.json, insight.json).
pub fn parse_json<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, ConfigError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // Unknown segments (`?`, where the parser gave up inside an object) say nothing useful.
        let path = e.path().to_string().replace(".?", "");
        json_error(
            file,
            (path != "." && path != "?").then_some(path),
            e.inner(),
        )
    })?;
    // Trailing garbage after the top-level value is malformed JSON too.
    de.end().map_err(|e| json_error(file, None, &e))?;
    Ok(value)
}

fn json_error(file: &Path, path: Option<String>, e: &serde_json::Error) -> ConfigError {
    // serde_json appends " at line L column C" to its message; it goes into `location` instead.
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    let position = (e.line() > 0).then(|| format!("line {}, column {}", e.line(), e.column()));
    let location = match (path, position) {
        (Some(p), Some(pos)) => Some(format!("{p} ({pos})")),
        (Some(p), None) => Some(p),
        (None, pos) => pos,
    };
    let hint = match e.classify() {
        serde_json::error::Category::Syntax => {
            "check the JSON syntax just before this place: a missing comma, quote or bracket, or a trailing comma (JSON allows none, and no comments)".to_string()
        }
        serde_json::error::Category::Eof => "the file ends too early: is it empty or cut short? Check that every { and [ is closed".to_string(),
        serde_json::error::Category::Io => DOCS_HINT.to_string(),
        serde_json::error::Category::Data => data_hint(&message),
    };
    ConfigError {
        file: file.to_path_buf(),
        location,
        message,
        hint: Some(hint),
    }
}

/// A hint for a well-formed file with the wrong shape, based on serde's message.
fn data_hint(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // "unknown field `X`, expected one of `a`, `b`" (or "expected `a`"): suggest the closest.
        let unknown = rest.split('`').next().unwrap_or_default();
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let best = expected
            .iter()
            .map(|k| (strsim::jaro_winkler(&unknown.to_lowercase(), k), *k))
            .filter(|(score, _)| *score >= 0.75)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        return match best {
            Some((_, key)) => format!(
                "did you mean `{key}`? Unknown keys are rejected so typos don't go unnoticed"
            ),
            None => format!("remove the key; {DOCS_HINT} for the allowed keys"),
        };
    }
    if message.starts_with("unknown variant") && message.contains("`required`") {
        return "role is `required` or `optional`".to_string();
    }
    if message.starts_with("unknown variant") && message.contains("`inactive`") {
        return "status is `active` or `inactive` (absent means active)".to_string();
    }
    if message.starts_with("missing field") {
        return format!("add the field; {DOCS_HINT}");
    }
    format!("the value has the wrong type; {DOCS_HINT}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEAM: &str = r#"{"members": [
      {"handle": "akibalogh", "name": "Aki Balogh", "role": "required", "slack": ["aki", "U0AKI123"], "telegram": ["akibalogh"]},
      {"handle": "alice", "name": "Alice Ames", "role": "required", "slack": ["alice"]},
      {"handle": "bob", "name": "Bob Brown", "role": "required", "slack": ["bob@example.com"]},
      {"handle": "carol", "name": "Carol Chen", "role": "required", "slack": ["carol"]},
      {"handle": "frank", "name": "Frank Fox", "role": "optional", "slack": ["frank@example.com"]}
    ]}"#;

    const CATEGORIES: &str = r#"{"slack_scope": {"name_contains": ["bitsafe"], "include_archived": false},
     "telegram_scope": {"shared_with": "mojo_onchain"},
     "categories": [
       {"name": "Marketing", "match": ["mktg", "marketing"], "required": ["alice", "bob"]},
       {"name": "Internal", "match": ["internal"], "required": []},
       {"name": "Intro", "match": ["intro"]},
       {"name": "BD Customer"}],
     "rename": [{"find": "ibtc", "replace": "cbtc"}],
     "exclusions": [{"group": "C0123ABC", "members": ["carol"], "reason": "customer asked"}]}"#;

    fn team() -> Team {
        parse_team(TEAM, Path::new("cfg/team.json")).expect("valid team")
    }

    fn categories(text: &str) -> Result<Categories, ConfigError> {
        parse_categories(text, Path::new("cfg/categories.json"), &team())
    }

    fn team_err(text: &str) -> ConfigError {
        parse_team(text, Path::new("cfg/team.json")).expect_err("should be rejected")
    }

    fn cat_err(text: &str) -> ConfigError {
        categories(text).expect_err("should be rejected")
    }

    #[test]
    fn member_named_ignores_case_whitespace_and_at() {
        let t = team();
        for name in ["frank", "Frank", " @FRANK ", "@@frank"] {
            assert_eq!(
                t.member_named(name).map(|m| m.handle.as_str()),
                Some("frank"),
                "{name}"
            );
        }
        assert!(t.member_named("fran").is_none());
        assert!(t.member_named("@").is_none());
        // The exact lookup stays exact.
        assert!(t.member("Frank").is_none());
    }

    #[test]
    fn parses_the_issue_example() {
        let t = team();
        assert_eq!(t.members.len(), 5);
        assert_eq!(t.members[0].slack, vec!["aki", "U0AKI123"]);
        assert_eq!(t.members[4].role, Role::Optional);
        assert!(t.members[4].telegram.is_empty());
        let c = categories(CATEGORIES).expect("valid categories");
        assert_eq!(c.categories.len(), 4);
        assert_eq!(
            c.telegram_scope.shared_with_username(),
            Some("mojo_onchain")
        );
        assert_eq!(c.exclusions[0].reason.as_deref(), Some("customer asked"));
    }

    #[test]
    fn scope_matches_name_ignoring_case_and_skips_archived_unless_asked() {
        let mut c = categories(CATEGORIES).expect("valid");
        assert!(c.in_slack_scope("ext-BitSafe-acme", false));
        assert!(!c.in_slack_scope("ext-bitsafe-acme", true));
        assert!(!c.in_slack_scope("random", false));
        c.slack_scope.include_archived = true;
        assert!(c.in_slack_scope("ext-bitsafe-acme", true));
    }

    #[test]
    fn category_is_first_match_else_default() {
        let c = categories(CATEGORIES).expect("valid");
        assert_eq!(c.category_for("bitsafe-MKTG-acme").name, "Marketing");
        // Both "internal" and "intro" occur: the first category in file order wins.
        assert_eq!(c.category_for("bitsafe-intro-internal").name, "Internal");
        assert_eq!(c.category_for("bitsafe-intro-acme").name, "Intro");
        assert_eq!(c.category_for("bitsafe-acme").name, "BD Customer");
        assert!(c.category_for("bitsafe-acme").is_default());
    }

    #[test]
    fn required_handles_absent_means_role_required_and_empty_means_nobody() {
        let t = team();
        let c = categories(CATEGORIES).expect("valid");
        assert_eq!(
            c.category_for("x-mktg").required_handles(&t),
            vec!["alice", "bob"]
        );
        assert!(c.category_for("x-internal").required_handles(&t).is_empty());
        assert_eq!(
            c.category_for("x-intro").required_handles(&t),
            vec!["akibalogh", "alice", "bob", "carol"]
        );
    }

    #[test]
    fn default_category_is_added_when_none_declared() {
        let c = categories(r#"{"slack_scope": {"name_contains": ["bitsafe"]}, "categories": [{"name": "Intro", "match": ["intro"]}]}"#)
            .expect("valid");
        assert_eq!(c.category_for("bitsafe-acme").name, DEFAULT_CATEGORY_NAME);
        assert_eq!(c.categories.len(), 2);
        // A minimal file: scope only.
        let c = categories(r#"{"slack_scope": {"name_contains": ["bitsafe"]}}"#).expect("valid");
        assert_eq!(c.default_category().name, DEFAULT_CATEGORY_NAME);
        assert!(c.telegram_scope.shared_with.is_none());
    }

    #[test]
    fn rename_suggests_name_keeping_the_rest() {
        let c = categories(CATEGORIES).expect("valid");
        assert_eq!(
            c.rename_for("bitsafe-iBTC-acme").as_deref(),
            Some("bitsafe-cbtc-acme")
        );
        assert_eq!(
            c.rename_for("iBTC <> Acme").as_deref(),
            Some("cbtc <> Acme")
        );
        assert_eq!(c.rename_for("bitsafe-acme"), None);
    }

    #[test]
    fn exclusions_match_by_id_or_exact_name() {
        let mut c = categories(CATEGORIES).expect("valid");
        assert_eq!(c.excluded_for("C0123ABC", "whatever"), vec!["carol"]);
        assert!(c.excluded_for("C999", "whatever").is_empty());
        c.exclusions.push(Exclusion {
            group: "bitsafe-acme".into(),
            members: vec!["carol".into(), "bob".into()],
            reason: None,
        });
        assert_eq!(
            c.excluded_for("C0123ABC", "bitsafe-acme"),
            vec!["carol", "bob"]
        );
        // Exact name: no substring or case folding.
        assert!(c.excluded_for("C1", "bitsafe-acme-2").is_empty());
        assert!(c.excluded_for("C1", "BITSAFE-ACME").is_empty());
    }

    #[test]
    fn malformed_json_reports_line_and_column() {
        let e = team_err("{\"members\": [\n  {\"handle\": \"a\" \"name\": \"A\"}\n]}");
        assert_eq!(e.file, Path::new("cfg/team.json"));
        let location = e.location.clone().expect("location");
        assert_eq!(location, "members[0] (line 2, column 18)");
        assert!(e.message.contains("expected"), "{}", e.message);
        assert!(
            !e.message.contains("at line"),
            "position belongs in location: {}",
            e.message
        );
        assert!(e.hint.as_deref().unwrap_or_default().contains("comma"));
        let shown = e.to_string();
        assert!(shown.starts_with("cfg/team.json: "), "{shown}");
        assert!(shown.contains("\n  hint: "), "{shown}");
    }

    #[test]
    fn empty_file_and_trailing_garbage_are_errors() {
        let e = team_err("");
        assert!(e.message.contains("EOF"), "{}", e.message);
        assert!(
            e.hint
                .as_deref()
                .unwrap_or_default()
                .contains("ends too early")
        );
        let e = team_err(r#"{"members": [{"handle": "a", "name": "A", "role": "required"}]} x"#);
        assert!(e.message.contains("trailing"), "{}", e.message);
    }

    #[test]
    fn unknown_key_names_path_and_suggests_the_right_key() {
        let e = cat_err(
            r#"{"slack_scope": {"name_contains": ["b"]}, "categories": [{"name": "A", "match": ["a"]}, {"name": "B", "requird": []}]}"#,
        );
        assert_eq!(
            e.location
                .as_deref()
                .map(|l| l.starts_with("categories[1].requird")),
            Some(true),
            "{e}"
        );
        assert!(
            e.message.contains("unknown field `requird`"),
            "{}",
            e.message
        );
        assert!(
            e.hint
                .as_deref()
                .unwrap_or_default()
                .contains("did you mean `required`"),
            "{e}"
        );
        let e = team_err(
            r#"{"members": [{"handle": "a", "name": "A", "role": "required", "slak": []}]}"#,
        );
        assert!(
            e.location
                .as_deref()
                .unwrap_or_default()
                .starts_with("members[0].slak"),
            "{e}"
        );
        assert!(
            e.hint.as_deref().unwrap_or_default().contains("`slack`"),
            "{e}"
        );
        let e = team_err(r#"{"members": [], "extra": 1}"#);
        assert!(e.message.contains("unknown field `extra`"), "{e}");
    }

    #[test]
    fn unknown_role_is_rejected_with_the_allowed_values() {
        let e = team_err(r#"{"members": [{"handle": "a", "name": "A", "role": "admin"}]}"#);
        assert!(
            e.location
                .as_deref()
                .unwrap_or_default()
                .starts_with("members[0].role"),
            "{e}"
        );
        assert!(e.message.contains("unknown variant `admin`"), "{e}");
        assert_eq!(e.hint.as_deref(), Some("role is `required` or `optional`"));
    }

    #[test]
    fn status_and_department_parse_with_defaults_and_trimming() {
        let t = parse_team(
            r#"{"members": [
              {"handle": "a", "name": "A", "role": "required", "status": "inactive", "department": "  Sales "},
              {"handle": "b", "name": "B", "role": "optional", "status": "active"},
              {"handle": "c", "name": "C", "role": "required"}]}"#,
            Path::new("cfg/team.json"),
        )
        .expect("valid team");
        let [a, b, c] = &t.members[..] else {
            panic!("three members")
        };
        assert_eq!(a.status, MemberStatus::Inactive);
        assert!(!a.is_active() && !t.is_active("a"));
        assert_eq!(a.department.as_deref(), Some("Sales"));
        assert!(b.is_active() && c.is_active() && t.is_active("c"));
        assert_eq!(
            (b.department.as_deref(), c.department.as_deref()),
            (None, None)
        );
        assert!(!t.is_active("nobody"));
        // Defaults are left out when written back, so an old file round-trips unchanged.
        let json = serde_json::to_string(&t.members[2]).expect("serialize");
        assert!(
            !json.contains("status") && !json.contains("department"),
            "{json}"
        );
    }

    #[test]
    fn unknown_status_is_rejected_with_the_allowed_values() {
        let e = team_err(
            r#"{"members": [{"handle": "a", "name": "A", "role": "required"},
                            {"handle": "b", "name": "B", "role": "required", "status": "away"}]}"#,
        );
        assert!(
            e.location
                .as_deref()
                .unwrap_or_default()
                .starts_with("members[1].status"),
            "{e}"
        );
        assert!(
            e.message
                .contains("unknown variant `away`, expected `active` or `inactive`"),
            "{e}"
        );
        assert_eq!(
            e.hint.as_deref(),
            Some("status is `active` or `inactive` (absent means active)")
        );
        let e = team_err(
            r#"{"members": [{"handle": "a", "name": "A", "role": "required", "status": true}]}"#,
        );
        assert!(
            e.location
                .as_deref()
                .unwrap_or_default()
                .starts_with("members[0].status"),
            "{e}"
        );
    }

    #[test]
    fn empty_or_mistyped_department_is_rejected() {
        let e = team_err(
            r#"{"members": [{"handle": "a", "name": "A", "role": "required", "department": "  "}]}"#,
        );
        assert_eq!(e.location.as_deref(), Some("members[0].department"));
        assert_eq!(e.message, "the department is empty");
        assert!(
            e.hint
                .as_deref()
                .unwrap_or_default()
                .contains("remove the key"),
            "{e}"
        );
        let e = team_err(
            r#"{"members": [{"handle": "a", "name": "A", "role": "required", "department": ["Sales"]}]}"#,
        );
        assert!(
            e.location
                .as_deref()
                .unwrap_or_default()
                .starts_with("members[0].department"),
            "{e}"
        );
        let e = team_err(
            r#"{"members": [{"handle": "a", "name": "A", "role": "required", "departmnt": "Sales"}]}"#,
        );
        assert_eq!(
            e.hint.as_deref(),
            Some(
                "did you mean `department`? Unknown keys are rejected so typos don't go unnoticed"
            )
        );
    }

    #[test]
    fn departments_by_user_id_follow_the_resolution() {
        let t = parse_team(
            r#"{"members": [
              {"handle": "a", "name": "A", "role": "required", "department": "Sales"},
              {"handle": "b", "name": "B", "role": "required"},
              {"handle": "c", "name": "C", "role": "required", "department": "Ops"}]}"#,
            Path::new("cfg/team.json"),
        )
        .expect("valid team");
        let mut resolution = Resolution::default();
        resolution.by_handle.insert("a".into(), "U_A".into());
        resolution.by_handle.insert("b".into(), "U_B".into());
        // c is not resolved: no user ID to give a department to.
        let got: Vec<_> = t.departments_by_user_id(&resolution, None).collect();
        assert_eq!(got, vec![("U_A", "Sales")]);
        let got: Vec<_> = t
            .departments_by_user_id(&resolution, Some("team"))
            .collect();
        assert_eq!(got, vec![("U_A", "Sales"), ("U_B", "team")]);
    }

    #[test]
    fn missing_field_names_the_member() {
        let e = team_err(
            r#"{"members": [{"handle": "a", "name": "A", "role": "required"}, {"handle": "b", "role": "optional"}]}"#,
        );
        assert!(
            e.location
                .as_deref()
                .unwrap_or_default()
                .starts_with("members[1]"),
            "{e}"
        );
        assert!(e.message.contains("missing field `name`"), "{e}");
    }

    #[test]
    fn duplicate_and_malformed_handles_are_rejected() {
        let e = team_err(
            r#"{"members": [{"handle": "aki", "name": "A", "role": "required"}, {"handle": "Aki", "name": "B", "role": "optional"}]}"#,
        );
        assert_eq!(e.location.as_deref(), Some("members[1].handle"));
        assert!(
            e.message.contains("duplicate handle `Aki`") && e.message.contains("members[0]"),
            "{e}"
        );
        let e = team_err(r#"{"members": [{"handle": " ", "name": "A", "role": "required"}]}"#);
        assert_eq!(e.location.as_deref(), Some("members[0].handle"));
        let e = team_err(r#"{"members": [{"handle": "@aki", "name": "A", "role": "required"}]}"#);
        assert!(e.message.contains("starts with `@`"), "{e}");
        let e = team_err(
            r#"{"members": [{"handle": "aki", "name": "A", "role": "required", "slack": ["ok", "@"]}]}"#,
        );
        assert_eq!(e.location.as_deref(), Some("members[0].slack[1]"));
        let e = team_err(r#"{"members": []}"#);
        assert_eq!(e.location.as_deref(), Some("members"));
    }

    #[test]
    fn required_handle_not_in_team_names_path_and_close_match() {
        let e = cat_err(
            r#"{"slack_scope": {"name_contains": ["b"]}, "categories": [{"name": "A", "match": ["a"]}, {"name": "B", "match": ["b"]}, {"name": "C", "match": ["c"], "required": ["alcie"]}]}"#,
        );
        assert_eq!(e.file, Path::new("cfg/categories.json"));
        assert_eq!(e.location.as_deref(), Some("categories[2].required[0]"));
        assert_eq!(e.message, "`alcie` is not a handle in team.json");
        assert!(
            e.hint
                .as_deref()
                .unwrap_or_default()
                .contains("did you mean `alice`"),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "cfg/categories.json: categories[2].required[0]: `alcie` is not a handle in team.json\n  hint: did you mean `alice`? Use the `handle` values from team.json"
        );
    }

    #[test]
    fn handle_hint_recognises_names_and_platform_identifiers() {
        // A member's Slack identifier written instead of the handle.
        let e = cat_err(
            r#"{"slack_scope": {"name_contains": ["b"]}, "exclusions": [{"group": "C1", "members": ["aki"]}]}"#,
        );
        assert_eq!(e.location.as_deref(), Some("exclusions[0].members[0]"));
        assert!(
            e.hint
                .as_deref()
                .unwrap_or_default()
                .contains("`akibalogh`"),
            "{e}"
        );
        // Nothing close: list the handles.
        let e = cat_err(
            r#"{"slack_scope": {"name_contains": ["b"]}, "exclusions": [{"group": "C1", "members": ["zzzz"]}]}"#,
        );
        assert!(
            e.hint
                .as_deref()
                .unwrap_or_default()
                .contains("akibalogh, alice, bob, carol, frank"),
            "{e}"
        );
    }

    #[test]
    fn empty_slack_scope_is_rejected() {
        let e = cat_err(r#"{"slack_scope": {"name_contains": []}}"#);
        assert_eq!(e.location.as_deref(), Some("slack_scope.name_contains"));
        assert!(e.message.contains("Slack scope is empty"));
        assert!(
            e.hint
                .as_deref()
                .unwrap_or_default()
                .contains("name_contains")
        );
        let e = cat_err(r#"{"slack_scope": {"name_contains": ["x", ""]}}"#);
        assert_eq!(e.location.as_deref(), Some("slack_scope.name_contains[1]"));
        let e = cat_err(r#"{"categories": []}"#);
        assert!(e.message.contains("missing field `slack_scope`"), "{e}");
    }

    #[test]
    fn more_than_one_default_category_is_rejected() {
        let e = cat_err(
            r#"{"slack_scope": {"name_contains": ["b"]}, "categories": [{"name": "BD"}, {"name": "I", "match": ["i"]}, {"name": "Other"}]}"#,
        );
        assert_eq!(e.location.as_deref(), Some("categories[2]"));
        assert!(e.message.contains("more than one default category"), "{e}");
        assert!(
            e.message.contains("`Other`") && e.message.contains("`BD`"),
            "{e}"
        );
    }

    #[test]
    fn other_category_mistakes_are_rejected() {
        let base = r#"{"slack_scope": {"name_contains": ["b"]}, "#;
        let cases = [
            (
                r#""categories": [{"name": "A", "match": ["a"]}, {"name": "a", "match": ["b"]}]}"#,
                "categories[1].name",
                "duplicate category",
            ),
            (
                r#""categories": [{"name": "A", "match": [" "]}]}"#,
                "categories[0].match[0]",
                "empty text",
            ),
            (
                r#""categories": [{"name": "A", "match": ["a"], "required": ["bob", "bob"]}]}"#,
                "categories[0].required[1]",
                "listed twice",
            ),
            (
                r#""rename": [{"find": "", "replace": "x"}]}"#,
                "rename[0].find",
                "empty `find`",
            ),
            (
                r#""exclusions": [{"group": "", "members": ["bob"]}]}"#,
                "exclusions[0].group",
                "empty group",
            ),
            (
                r#""exclusions": [{"group": "C1", "members": []}]}"#,
                "exclusions[0].members",
                "no members",
            ),
            (
                r#""telegram_scope": {"shared_with": "@"}}"#,
                "telegram_scope.shared_with",
                "empty Telegram",
            ),
        ];
        for (tail, location, message) in cases {
            let e = cat_err(&format!("{base}{tail}"));
            assert_eq!(e.location.as_deref(), Some(location), "{e}");
            assert!(e.message.contains(message), "{e}");
            assert!(e.hint.is_some(), "{e}");
        }
    }
}
