//! The Slack side of the audit: users listed once, channels listed once (live, public and
//! private), then one `conversations.members` call per in-scope channel, many in flight at once
//! and paced by the client's per-method budget.

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use roster::{AuditConfig, Platform};
use slack_client::{Conversation, ListConversations, SlackClient, User};
use tracing::{debug, warn};

use crate::progress::RunProgress;
use crate::source::{GroupSource, PlatformScan, ScannedGroup, SourceError};

/// Member lists requested at once. The client bounds real HTTP concurrency and paces each method
/// under its tier, so this only has to be large enough to keep the budget busy.
const MEMBER_FETCHES_IN_FLIGHT: usize = 16;

/// Reads the audit's input from a Slack workspace.
pub struct SlackSource {
    client: SlackClient,
}

impl SlackSource {
    pub fn new(client: SlackClient) -> Self {
        SlackSource { client }
    }

    pub fn client(&self) -> &SlackClient {
        &self.client
    }

    async fn scan_inner(
        &self,
        config: &AuditConfig,
        progress: &dyn RunProgress,
    ) -> Result<PlatformScan, SourceError> {
        // Different methods have separate budgets, so both listings run side by side.
        let (users, channels) = futures::try_join!(
            self.client.all_users(),
            // Archived channels are filtered here rather than by Slack: `include_archived` decides.
            self.client.all_conversations(ListConversations::channels()),
        )?;
        let listed = channels.len();
        let categories = &config.categories;
        let in_scope: Vec<Conversation> = channels
            .into_iter()
            .filter(|c| categories.in_slack_scope(&c.name, c.is_archived))
            .collect();
        debug!(listed, in_scope = in_scope.len(), "channels listed");
        progress.groups_total(Platform::Slack, in_scope.len() as u64);

        let client = &self.client;
        let mut groups: Vec<ScannedGroup> = futures::stream::iter(in_scope)
            .map(|c| async move {
                let result = client.all_members(&c.id).await;
                (c, result)
            })
            .buffer_unordered(MEMBER_FETCHES_IN_FLIGHT)
            .map(|(c, result)| {
                progress.group_done(Platform::Slack);
                let (members, error) = match result {
                    Ok(mut members) => {
                        members.sort_unstable();
                        members.dedup();
                        (members, None)
                    }
                    // A bad token or a missing scope fails every channel the same way: stop now.
                    Err(e) if e.is_fatal() => return Err(SourceError::from(e)),
                    Err(e) => {
                        warn!(channel = %c.name, "cannot read the members of #{}: {e}", c.name);
                        (Vec::new(), Some(e.to_string()))
                    }
                };
                Ok(ScannedGroup {
                    id: c.id,
                    name: c.name,
                    is_private: c.is_private,
                    is_archived: c.is_archived,
                    ext_shared: c.is_ext_shared,
                    members,
                    error,
                })
            })
            .try_collect()
            .await?;
        groups.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(PlatformScan {
            platform: Platform::Slack,
            users: users.iter().map(User::platform_user).collect(),
            groups,
            listed,
        })
    }
}

impl GroupSource for SlackSource {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    fn scan<'a>(
        &'a self,
        config: &'a AuditConfig,
        progress: &'a dyn RunProgress,
    ) -> BoxFuture<'a, Result<PlatformScan, SourceError>> {
        self.scan_inner(config, progress).boxed()
    }
}
