//! The plan: for each target channel, who to invite and who is skipped (present members come from
//! conversations.members). Plans are produced by a background task into a channel, so a `--yes`
//! run can invite into the first channels while the membership of later ones is still being read.

use std::collections::HashSet;

use futures::StreamExt;
use slack_client::{Error, SlackClient};
use tokio::sync::mpsc;

use crate::resolve::Invitee;
use crate::targets::{SkipReason, Skipped, Target};

/// One channel's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelPlan {
    pub channel_id: String,
    pub channel_name: String,
    /// Who to invite, in one call.
    pub to_add: Vec<Invitee>,
    pub skipped: Vec<Skipped>,
    /// The membership could not be read (a per-channel error): nothing is invited here and the
    /// wanted users count as failed with this error code.
    pub problem: Option<String>,
}

/// Membership reads in flight at once. conversations.members is Tier 4 (twice Tier 3), so a few
/// concurrent reads keep ahead of the invites without bunching into the rate limiter.
const MEMBER_READS: usize = 4;

/// How many finished plans may wait for the invite loop.
const PLAN_QUEUE: usize = 16;

/// Compares one target's wanted users with its current members.
pub async fn plan_channel(client: &SlackClient, target: Target) -> Result<ChannelPlan, Error> {
    let Target {
        id,
        name,
        wanted,
        mut skipped,
    } = target;
    let mut plan = ChannelPlan {
        channel_id: id,
        channel_name: name,
        to_add: Vec::new(),
        skipped: Vec::new(),
        problem: None,
    };
    if wanted.is_empty() {
        plan.skipped = skipped;
        return Ok(plan);
    }
    match client.all_members(&plan.channel_id).await {
        Ok(members) => {
            let members: HashSet<String> = members.into_iter().collect();
            for inv in wanted {
                if members.contains(&inv.user_id) {
                    skipped.push(Skipped {
                        label: inv.label,
                        reason: SkipReason::Present,
                    });
                } else {
                    plan.to_add.push(inv);
                }
            }
        }
        Err(e) if e.is_fatal() => return Err(e),
        Err(e) => {
            tracing::warn!(channel = %plan.channel_name, "cannot read the members: {e}");
            plan.problem = Some(e.code().unwrap_or("members_unreadable").to_string());
            plan.to_add = wanted;
        }
    }
    plan.skipped = skipped;
    Ok(plan)
}

/// Plans every target in the background, in target order. The receiver yields each plan, or a
/// fatal error (missing scope, bad token) after which nothing more comes.
pub fn spawn_planner(
    client: SlackClient,
    targets: Vec<Target>,
) -> mpsc::Receiver<Result<ChannelPlan, Error>> {
    let (tx, rx) = mpsc::channel(PLAN_QUEUE);
    tokio::spawn(async move {
        let mut plans = futures::stream::iter(targets)
            .map(|t| {
                let client = client.clone();
                async move { plan_channel(&client, t).await }
            })
            .buffered(MEMBER_READS);
        while let Some(plan) = plans.next().await {
            let fatal = plan.is_err();
            // A closed receiver means the run stopped: stop reading too.
            if tx.send(plan).await.is_err() || fatal {
                break;
            }
        }
    });
    rx
}
