//! slack-export's cache of people looked up with `users.info` (`slack_users_cache`): Slack Connect
//! members of another organisation that `users.list` never returns, kept across runs so each ID
//! costs one call ever, including the IDs Slack answered `user_not_found` for.

use crate::db::{OptionalExt, params};
use jiff::Timestamp;

use crate::{Store, StoreError, format_time};

/// What the cache knows about one ID.
#[derive(Debug, Clone, PartialEq)]
pub enum CachedUser {
    /// users.info's member object, as JSON text.
    Found(String),
    /// Slack answered `user_not_found`.
    NotFound,
}

impl Store {
    /// The cached answer for `user_id`, if it was looked up before.
    pub fn slack_user_cached(&self, user_id: &str) -> Result<Option<CachedUser>, StoreError> {
        let row: Option<(i64, Option<String>)> = self
            .conn
            .query_row(
                "SELECT found, user_json FROM slack_users_cache WHERE user_id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.map(|(found, json)| match (found, json) {
            (1, Some(j)) => CachedUser::Found(j),
            _ => CachedUser::NotFound,
        }))
    }

    /// Records users.info's answer for `user_id` (replacing an earlier one).
    pub fn slack_user_put(
        &self,
        user_id: &str,
        team_id: Option<&str>,
        answer: &CachedUser,
    ) -> Result<(), StoreError> {
        let (found, json) = match answer {
            CachedUser::Found(j) => (1, Some(j.as_str())),
            CachedUser::NotFound => (0, None),
        };
        self.conn.execute(
            "INSERT INTO slack_users_cache (user_id, team_id, found, user_json, fetched_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (user_id) DO UPDATE SET team_id = excluded.team_id,
                 found = excluded.found, user_json = excluded.user_json,
                 fetched_at = excluded.fetched_at",
            params![user_id, team_id, found, json, format_time(Timestamp::now())],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_kept_and_replaced() {
        crate::test_db::on_both(answers_are_kept_and_replaced_on);
    }

    fn answers_are_kept_and_replaced_on(store: &mut Store) {
        assert_eq!(store.slack_user_cached("U1").expect("read"), None);
        store
            .slack_user_put(
                "U1",
                Some("T2"),
                &CachedUser::Found(r#"{"id":"U1"}"#.into()),
            )
            .expect("put");
        store
            .slack_user_put("U9", None, &CachedUser::NotFound)
            .expect("put");
        assert_eq!(
            store.slack_user_cached("U1").expect("read"),
            Some(CachedUser::Found(r#"{"id":"U1"}"#.into()))
        );
        assert_eq!(
            store.slack_user_cached("U9").expect("read"),
            Some(CachedUser::NotFound)
        );
        store
            .slack_user_put("U9", Some("T2"), &CachedUser::Found("{}".into()))
            .expect("replace");
        assert_eq!(
            store.slack_user_cached("U9").expect("read"),
            Some(CachedUser::Found("{}".into()))
        );
    }
}
