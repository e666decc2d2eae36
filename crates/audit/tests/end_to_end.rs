//! A whole audit run through the public API, as slack-audit drives it: config from a directory,
//! users matched to the roster, groups audited, summarized, stored as JSON and compared.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use audit::{
    AuditInput, AuditResult, GroupSnapshot, Platform, audit_group, audit_unreadable_group, diff,
    summarize,
};
use roster::{PlatformUser, UserIndex, load, resolve_team};

const TEAM: &str = r#"{"members": [
  {"handle": "akibalogh", "name": "Aki Balogh", "role": "required", "slack": ["@aki", "U0AKI123"], "telegram": ["akibalogh"]},
  {"handle": "alice", "name": "Alice Ames", "role": "required", "slack": ["alice@example.com"], "telegram": ["alice_a"]},
  {"handle": "carol", "name": "Carol Chen", "role": "required", "slack": ["Carol Chen"]},
  {"handle": "frank", "name": "Frank Fox", "role": "optional", "slack": ["frank"]}
]}"#;

const CATEGORIES: &str = r#"{"slack_scope": {"name_contains": ["bitsafe"]},
  "telegram_scope": {"shared_with": "@mojo_onchain"},
  "categories": [{"name": "Internal", "match": ["internal"], "required": []}, {"name": "BD Customer"}],
  "rename": [{"find": "ibtc", "replace": "cbtc"}],
  "exclusions": [{"group": "-1002", "members": ["alice"], "reason": "customer asked"}]}"#;

fn slack_users() -> Vec<PlatformUser> {
    let u = |id: &str, name: &str, real: &str, email: &str| PlatformUser {
        id: id.into(),
        username: Some(name.into()),
        display_name: None,
        real_name: Some(real.into()),
        email: Some(email.into()),
        deleted: false,
    };
    vec![
        u("U0AKI123", "aki", "Aki Balogh", "aki@example.com"),
        u("U0ALICE", "alice", "Alice Ames", "alice@example.com"),
        u("U0CAROL", "carol", "Carol Chen", "carol@example.com"),
        // frank is not in the workspace: optional and unmatched.
    ]
}

fn telegram_users() -> Vec<PlatformUser> {
    vec![
        PlatformUser {
            id: "6".into(),
            username: Some("AkiBalogh".into()),
            ..Default::default()
        },
        PlatformUser {
            id: "7".into(),
            username: Some("alice_a".into()),
            ..Default::default()
        },
    ]
}

fn group(platform: Platform, id: &str, name: &str, members: &[&str]) -> GroupSnapshot {
    GroupSnapshot {
        platform,
        id: id.into(),
        name: name.into(),
        is_private: true,
        is_ext_shared: platform == Platform::Slack,
        is_archived: false,
        member_ids: members
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>(),
        member_count: members.len() as u64,
    }
}

#[test]
fn audits_both_platforms_from_a_config_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("team.json"), TEAM).expect("write");
    fs::write(dir.path().join("categories.json"), CATEGORIES).expect("write");
    let config = load(dir.path()).expect("valid config");
    assert_eq!(
        config.categories.telegram_scope.shared_with_username(),
        Some("mojo_onchain")
    );

    let slack_index = UserIndex::new(&slack_users());
    let tg_index = UserIndex::new(&telegram_users());
    let resolutions = BTreeMap::from([
        (
            Platform::Slack,
            resolve_team(&config.team, Platform::Slack, &slack_index),
        ),
        (
            Platform::Telegram,
            resolve_team(&config.team, Platform::Telegram, &tg_index),
        ),
    ]);
    assert_eq!(resolutions[&Platform::Slack].by_handle.len(), 3);
    assert_eq!(
        resolutions[&Platform::Telegram]
            .by_handle
            .get("akibalogh")
            .map(String::as_str),
        Some("6")
    );
    let input = AuditInput {
        config: &config,
        resolutions,
    };

    // Scope filtering is the caller's job; check the channels it would pick.
    let channels = [
        ("C1", "bitsafe-acme", false),
        ("C2", "general", false),
        ("C3", "bitsafe-old", true),
    ];
    let in_scope: Vec<&str> = channels
        .iter()
        .filter(|(_, n, a)| config.categories.in_slack_scope(n, *a))
        .map(|(id, _, _)| *id)
        .collect();
    assert_eq!(in_scope, vec!["C1"]);

    let findings = vec![
        audit_group(
            &input,
            &group(
                Platform::Slack,
                "C1",
                "bitsafe-acme",
                &["U0AKI123", "U0ALICE", "U0CAROL", "U0X"],
            ),
        ),
        audit_group(
            &input,
            &group(Platform::Slack, "C4", "bitsafe-internal", &[]),
        ),
        audit_unreadable_group(
            &input,
            &group(Platform::Slack, "C5", "bitsafe-zeta", &[]),
            "not_in_channel",
        ),
        audit_group(
            &input,
            &group(Platform::Telegram, "-1001", "iBTC <> Acme", &["6"]),
        ),
        audit_group(
            &input,
            &group(Platform::Telegram, "-1002", "iBTC <> Beta", &["6", "99"]),
        ),
    ];
    let result = summarize(&input, findings, vec![]);

    let ids: Vec<&str> = result
        .findings
        .iter()
        .map(|f| f.group_id.as_str())
        .collect();
    assert_eq!(ids, vec!["C1", "C4", "C5", "-1001", "-1002"]);
    let tg_acme = &result.findings[3];
    // carol has no Telegram identifiers: missing there; alice is not in the group.
    assert_eq!(tg_acme.missing_required, vec!["alice", "carol"]);
    assert_eq!(tg_acme.suggested_name.as_deref(), Some("cbtc <> Acme"));
    let tg_beta = &result.findings[4];
    assert_eq!(tg_beta.excluded, vec!["alice"]);
    assert_eq!((tg_beta.required_present, tg_beta.required_total), (1, 2));

    let s = &result.summary;
    assert_eq!(s.platforms, vec![Platform::Slack, Platform::Telegram]);
    // BD Customer groups read: C1 (complete), -1001 and -1002 (gaps).
    assert_eq!(s.coverage_groups, 3);
    assert!((s.coverage_rate.unwrap_or_default() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(s.errors, 1);
    assert_eq!(s.rename_count, 2);
    assert_eq!(
        s.unmatched_members,
        vec!["frank (slack)", "carol (telegram)", "frank (telegram)"]
    );
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.contains("`frank` matches no slack user")),
        "{:?}",
        result.warnings
    );
    assert!(result.has_gaps());

    // History stores the result as JSON and diffs the next run against it.
    let stored = serde_json::to_string(&result).expect("serialize");
    let previous: AuditResult = serde_json::from_str(&stored).expect("deserialize");
    let next_findings = vec![
        audit_group(
            &input,
            &group(
                Platform::Slack,
                "C1",
                "bitsafe-acme",
                &["U0AKI123", "U0ALICE", "U0CAROL"],
            ),
        ),
        audit_group(
            &input,
            &group(Platform::Telegram, "-1001", "iBTC <> Acme", &["6", "7"]),
        ),
        audit_group(
            &input,
            &group(Platform::Telegram, "-1002", "iBTC <> Beta", &["6"]),
        ),
    ];
    let current = summarize(&input, next_findings, vec![]);
    let changes = diff(&previous, &current);
    let removed: Vec<&str> = changes
        .removed_groups
        .iter()
        .map(|g| g.group_id.as_str())
        .collect();
    assert_eq!(removed, vec!["C4", "C5"]);
    let closed: Vec<(&str, &str)> = changes
        .gaps_closed
        .iter()
        .map(|g| (g.group_id.as_str(), g.handle.as_str()))
        .collect();
    assert_eq!(closed, vec![("-1001", "alice")]);
    assert!(changes.gaps_opened.is_empty());
    assert_eq!(changes.coverage_delta, Some(0.0));
}
