//! The Slack workspace connected through the admin panel's OAuth install (`slack_connection`, one
//! row at most): who and what was granted, the default notification channel, and the user token
//! as sealed bytes only. Sealing and opening are `token-vault`'s job; this module never sees the
//! token in clear.

use jiff::Timestamp;

use crate::db::{OptionalExt, params};
use crate::{Store, StoreError, format_time, parse_time};

/// The connection as stored. `Debug` shows the sealed token's length only.
#[derive(Clone, PartialEq)]
pub struct SlackConnection {
    pub team_id: String,
    pub team_name: String,
    pub app_id: Option<String>,
    pub authed_user_id: String,
    /// Granted user scopes, as Slack listed them.
    pub scopes: Vec<String>,
    pub token_nonce: Vec<u8>,
    pub token_sealed: Vec<u8>,
    pub connected_by: String,
    pub connected_at: Timestamp,
    pub default_channel: Option<String>,
}

impl std::fmt::Debug for SlackConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackConnection")
            .field("team_id", &self.team_id)
            .field("team_name", &self.team_name)
            .field("authed_user_id", &self.authed_user_id)
            .field("scopes", &self.scopes)
            .field(
                "token_sealed",
                &format_args!("<{} bytes>", self.token_sealed.len()),
            )
            .field("connected_by", &self.connected_by)
            .field("connected_at", &self.connected_at)
            .field("default_channel", &self.default_channel)
            .finish()
    }
}

impl Store {
    /// The connected workspace, if any.
    pub fn slack_connection(&self) -> Result<Option<SlackConnection>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT team_id, team_name, app_id, authed_user_id, scopes, token_nonce,
                        token_sealed, connected_by, connected_at, default_channel
                 FROM slack_connection WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<String>(1)?,
                        r.get::<Option<String>>(2)?,
                        r.get::<String>(3)?,
                        r.get::<String>(4)?,
                        r.get::<Vec<u8>>(5)?,
                        r.get::<Vec<u8>>(6)?,
                        r.get::<String>(7)?,
                        r.get::<String>(8)?,
                        r.get::<Option<String>>(9)?,
                    ))
                },
            )
            .optional()?;
        let Some((team_id, team_name, app_id, authed_user_id, scopes, nonce, sealed, by, at, ch)) =
            row
        else {
            return Ok(None);
        };
        Ok(Some(SlackConnection {
            team_id,
            team_name,
            app_id,
            authed_user_id,
            scopes: scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            token_nonce: nonce,
            token_sealed: sealed,
            connected_by: by,
            connected_at: parse_time(&at)?,
            default_channel: ch,
        }))
    }

    /// Stores `c` as the connection, replacing an earlier one (a reconnect keeps nothing of it
    /// but the default channel when `c` has none).
    pub fn slack_connection_put(&self, c: &SlackConnection) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO slack_connection (id, team_id, team_name, app_id, authed_user_id, scopes,
                 token_nonce, token_sealed, connected_by, connected_at, default_channel)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (id) DO UPDATE SET team_id = excluded.team_id,
                 team_name = excluded.team_name, app_id = excluded.app_id,
                 authed_user_id = excluded.authed_user_id, scopes = excluded.scopes,
                 token_nonce = excluded.token_nonce, token_sealed = excluded.token_sealed,
                 connected_by = excluded.connected_by, connected_at = excluded.connected_at,
                 default_channel = COALESCE(excluded.default_channel, slack_connection.default_channel)",
            params![
                c.team_id,
                c.team_name,
                c.app_id,
                c.authed_user_id,
                c.scopes.join(","),
                c.token_nonce,
                c.token_sealed,
                c.connected_by,
                format_time(c.connected_at),
                c.default_channel,
            ],
        )?;
        Ok(())
    }

    /// Sets (or clears, with `None`) the default notification channel. False when no workspace
    /// is connected.
    pub fn slack_set_default_channel(&self, channel: Option<&str>) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE slack_connection SET default_channel = ?1 WHERE id = 1",
            [channel],
        )?;
        Ok(n > 0)
    }

    /// Deletes the connection and its sealed token (`secure_delete` overwrites the freed pages).
    /// False when there was none.
    pub fn slack_connection_delete(&self) -> Result<bool, StoreError> {
        let n = self.conn.execute("DELETE FROM slack_connection", [])?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SlackConnection {
        SlackConnection {
            team_id: "T1".into(),
            team_name: "Acme".into(),
            app_id: Some("A1".into()),
            authed_user_id: "U1".into(),
            scopes: vec!["users:read".into(), "channels:read".into()],
            token_nonce: vec![1; 12],
            token_sealed: vec![2; 40],
            connected_by: "admin".into(),
            connected_at: Timestamp::from_second(1_700_000_000).expect("ts"),
            default_channel: None,
        }
    }

    #[test]
    fn put_read_channel_and_delete() {
        crate::test_db::on_both(|store| {
            assert_eq!(store.slack_connection().expect("read"), None);
            assert!(!store.slack_set_default_channel(Some("#x")).expect("set"));
            store.slack_connection_put(&sample()).expect("put");
            assert_eq!(store.slack_connection().expect("read"), Some(sample()));
            assert!(
                store
                    .slack_set_default_channel(Some("#alerts"))
                    .expect("set")
            );
            // A reconnect keeps the channel an admin chose.
            let mut again = sample();
            again.team_name = "Acme 2".into();
            store.slack_connection_put(&again).expect("put");
            let read = store.slack_connection().expect("read").expect("row");
            assert_eq!(read.team_name, "Acme 2");
            assert_eq!(read.default_channel.as_deref(), Some("#alerts"));
            assert!(!format!("{read:?}").contains("[2, 2"));
            assert!(store.slack_connection_delete().expect("delete"));
            assert_eq!(store.slack_connection().expect("read"), None);
        });
    }
}
