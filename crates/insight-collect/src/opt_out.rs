//! Who the current `opt_out_users` hides before the next sync has erased them: shared by
//! insight-report (which purges them in a rolled-back transaction) and the admin panel (which
//! cannot write, so passes them to `insight::compute` as `Cohort::hidden_users`).

use insight::InsightConfig;
use store::Store;

use crate::OPT_OUT_APPLIED_KEY;

/// Why the opted-out people could not be told apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptOutError {
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// The list changed since the last sync and an entry matches nobody stored: it may be someone
    /// no reader can recognise (an email), so the caller must refuse rather than show them.
    #[error(
        "opt_out_users changed since the last insight-sync, and its entry {entry:?} matches no \
         stored user by ID, username or display name (the store keeps no emails), so they cannot \
         be left out"
    )]
    Unrecognised { entry: String },
}

impl OptOutError {
    /// What to do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Self::Unrecognised { .. } => Some(
                "run insight-sync first (it applies the list and erases them); \
                 or name the person by Slack user ID (U...) in opt_out_users",
            ),
            _ => None,
        }
    }
}

/// The stored people the current `opt_out_users` names (by ID, username or display name): opted
/// out since the last sync, so still in the store. An entry that matches nobody stored is fine when
/// the last sync applied this same list (it erased them, or never collected them); otherwise it
/// may be someone no reader can recognise (an email: the store keeps none; a typo of a stored
/// person's ID), so this is an error. Sorted, deduplicated user IDs.
pub fn opted_out_since_sync(
    store: &Store,
    cfg: &InsightConfig,
) -> Result<Vec<String>, OptOutError> {
    if cfg.opt_out_users.is_empty() {
        return Ok(Vec::new());
    }
    let users: Vec<roster::PlatformUser> = store
        .db()
        .query_all(
            "SELECT user_id, name, display_name, deleted FROM insight_users",
            [],
            |r| {
                let text = |i| -> store::db::Result<Option<String>> {
                    Ok(r.get::<Option<String>>(i)?.filter(|s| !s.trim().is_empty()))
                };
                Ok(roster::PlatformUser {
                    id: r.get(0)?,
                    username: text(1)?,
                    display_name: text(2)?,
                    deleted: r.get(3)?,
                    ..roster::PlatformUser::default()
                })
            },
        )
        .map_err(store::StoreError::from)?;
    let index = roster::UserIndex::new(&users);
    let mut ids = Vec::new();
    let mut unmatched = Vec::new();
    for entry in &cfg.opt_out_users {
        match index.lookup(entry) {
            roster::Identity::One(id) => ids.push(id),
            roster::Identity::Many(many) => ids.extend(many),
            roster::Identity::None { .. } => {
                let id = entry.trim();
                if store.insight_user_stored(id)? {
                    // Not in the user table but in events or membership (a guest from another
                    // workspace): still theirs to hide.
                    ids.push(id.to_string());
                } else {
                    // An email, or a typo of someone who is stored: only a sync can tell.
                    unmatched.push(entry);
                }
            }
        }
    }
    let applied = store.meta_get(OPT_OUT_APPLIED_KEY)?;
    if let Some(entry) = unmatched.first()
        && applied.as_deref() != Some(cfg.opt_out_fingerprint().as_str())
    {
        return Err(OptOutError::Unrecognised {
            entry: (*entry).clone(),
        });
    }
    ids.sort();
    ids.dedup();
    Ok(ids)
}
