//! The Web API methods the sim implements, with Slack's checks, error codes, cursors, limits and
//! response shapes. Each method reads its params as strings and answers a JSON body without `ok`
//! (added by the server) or an [`ApiError`]. History and replies pages come back as [`Reply::Page`]:
//! their messages are the index's cached JSON text, so serving a page is concatenation rather than
//! a clone and re-serialisation of every message.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::index::{ChannelIndex, IndexCache};
use crate::model::{
    Channel, ChannelKind, Workspace, format_ts, is_reply, json_text, str_field, ts_key,
};

/// A Slack `ok:false` answer: the `error` code plus any extra fields (`needed`, `errors`, ...).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub code: String,
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub(crate) fn new(code: &str) -> Self {
        ApiError {
            code: code.to_string(),
            extra: Map::new(),
        }
    }

    pub(crate) fn into_body(self) -> Value {
        let mut m = Map::new();
        m.insert("ok".into(), Value::Bool(false));
        m.insert("error".into(), Value::String(self.code));
        m.extend(self.extra);
        Value::Object(m)
    }
}

/// What a method needs besides the workspace.
pub(crate) struct Ctx<'a> {
    /// Granted scopes; `None` = all.
    pub scopes: Option<&'a [String]>,
    /// Last `ts` handed out (microseconds).
    pub clock: &'a mut u128,
    /// Per-channel message indexes; the server clears it after every write.
    pub index: &'a mut IndexCache,
}

type Params = BTreeMap<String, String>;
type Answer = Result<Value, ApiError>;

/// A method's successful answer, without `ok` (the server adds it first).
#[derive(Debug)]
pub(crate) enum Reply {
    /// Any JSON object.
    Json(Value),
    /// A history or replies page: `messages` is the page's messages as JSON texts joined by `,`,
    /// `rest` the fields that follow `messages`, in order.
    Page {
        messages: String,
        rest: Map<String, Value>,
    },
}

impl Reply {
    /// The body as sent: exactly what serialising `{"ok":true, ...the answer}` as one JSON
    /// object gives.
    pub(crate) fn into_text(self) -> String {
        match self {
            Reply::Json(mut v) => {
                if let Value::Object(m) = &mut v {
                    m.shift_insert(0, "ok".into(), Value::Bool(true));
                }
                json_text(&v)
            }
            Reply::Page { messages, rest } => {
                let mut out = String::with_capacity(messages.len() + 160);
                out.push_str(r#"{"ok":true,"messages":["#);
                out.push_str(&messages);
                out.push(']');
                for (k, v) in &rest {
                    out.push(',');
                    // A string key and a Value serialise infallibly.
                    out.push_str(&json_text(&Value::String(k.clone())));
                    out.push(':');
                    out.push_str(&json_text(v));
                }
                out.push('}');
                out
            }
        }
    }
}

/// The messages at `positions` of `c`, as cached JSON texts joined by `,`.
fn page_text(idx: &ChannelIndex, c: &Channel, positions: impl Iterator<Item = usize>) -> String {
    let mut out = String::new();
    for (n, i) in positions.enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(idx.decorated_text(c, i));
    }
    out
}

/// `messages` (comma-joined message objects) with every message's `metadata` removed.
fn without_metadata(messages: &str) -> String {
    let Ok(Value::Array(mut list)) = serde_json::from_str::<Value>(&format!("[{messages}]")) else {
        return messages.to_string();
    };
    for m in &mut list {
        if let Some(o) = m.as_object_mut() {
            o.remove("metadata");
        }
    }
    let text = Value::Array(list).to_string();
    text[1..text.len() - 1].to_string()
}

/// Message `metadata` as chat.postMessage takes it: a JSON object with a string `event_type` and
/// an object `event_payload`.
fn parse_metadata(raw: &str) -> Result<Value, ApiError> {
    let v: Value =
        serde_json::from_str(raw).map_err(|_| ApiError::new("invalid_metadata_format"))?;
    let ok = v
        .get("event_type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
        && v.get("event_payload").is_some_and(Value::is_object);
    if !ok {
        return Err(ApiError::new("invalid_metadata_schema"));
    }
    Ok(json!({"event_type": v["event_type"], "event_payload": v["event_payload"]}))
}

/// Methods that change the workspace (the fault injector must not half-apply them).
pub(crate) fn is_write(method: &str) -> bool {
    matches!(method, "conversations.invite" | "chat.postMessage")
}

/// Runs one method.
pub(crate) fn call(
    ws: &mut Workspace,
    ctx: &mut Ctx<'_>,
    method: &str,
    p: &Params,
) -> Result<Reply, ApiError> {
    let answer = match method {
        "auth.test" => auth_test(ws),
        "team.info" => team_info(ws, ctx),
        "users.list" => users_list(ws, ctx, p),
        "users.info" => users_info(ws, ctx, p),
        "conversations.list" => conversations_list(ws, ctx, p),
        "conversations.info" => conversations_info(ws, ctx, p),
        "conversations.members" => conversations_members(ws, ctx, p),
        "conversations.history" => return conversations_history(ws, ctx, p),
        "conversations.replies" => return conversations_replies(ws, ctx, p),
        "conversations.invite" => conversations_invite(ws, ctx, p),
        "chat.postMessage" => chat_post_message(ws, ctx, p),
        "pins.list" => pins_list(ws, ctx, p),
        other => {
            let mut e = ApiError::new("unknown_method");
            e.extra.insert("req_method".into(), json!(other));
            Err(e)
        }
    };
    answer.map(Reply::Json)
}

// ---------------------------------------------------------------------------------------------
// Shared checks and helpers

fn need(ctx: &Ctx<'_>, scopes: &[String]) -> Result<(), ApiError> {
    let Some(granted) = ctx.scopes else {
        return Ok(());
    };
    let missing: Vec<&str> = scopes
        .iter()
        .filter(|s| !granted.iter().any(|g| g == *s))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut e = ApiError::new("missing_scope");
    e.extra.insert("needed".into(), json!(missing.join(",")));
    e.extra.insert("provided".into(), json!(granted.join(",")));
    Err(e)
}

fn need1(ctx: &Ctx<'_>, scope: &str) -> Result<(), ApiError> {
    need(ctx, &[scope.to_string()])
}

fn kind_scope(kind: ChannelKind, action: &str) -> String {
    format!("{}:{action}", kind.scope_prefix())
}

fn flag(p: &Params, key: &str) -> bool {
    matches!(p.get(key).map(String::as_str), Some("true" | "1"))
}

/// `limit`: absent or 0 means the method's default; larger than the maximum is clamped.
fn limit(p: &Params, default: usize, max: usize) -> Result<usize, ApiError> {
    match p.get("limit").map(|s| s.trim()) {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n <= 0 => Ok(default),
            Ok(n) => Ok((n as usize).min(max)),
            Err(_) => Err(ApiError::new("invalid_limit")),
        },
    }
}

/// Slack's cursors are base64 of `<kind>:<position>`; opaque to clients.
fn encode_cursor(kind: &str, value: &str) -> String {
    B64.encode(format!("{kind}:{value}"))
}

/// The position a cursor names; `None` when no cursor was given.
fn decode_cursor(p: &Params, kind: &str) -> Result<Option<String>, ApiError> {
    let Some(raw) = p.get("cursor").filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bytes = B64
        .decode(raw.trim())
        .map_err(|_| ApiError::new("invalid_cursor"))?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::new("invalid_cursor"))?;
    match text.split_once(':') {
        Some((k, v)) if k == kind && !v.is_empty() => Ok(Some(v.to_string())),
        _ => Err(ApiError::new("invalid_cursor")),
    }
}

fn ts_cursor(micros: u128) -> String {
    encode_cursor("next_ts", &format!("{micros}"))
}

fn decode_ts_cursor(p: &Params) -> Result<Option<u128>, ApiError> {
    match decode_cursor(p, "next_ts")? {
        None => Ok(None),
        Some(v) => v
            .parse::<u128>()
            .map(Some)
            .map_err(|_| ApiError::new("invalid_cursor")),
    }
}

fn metadata(next: Option<String>) -> Value {
    json!({ "next_cursor": next.unwrap_or_default() })
}

fn is_deleted(user: &Value) -> bool {
    user.get("deleted")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A conversation the token user may see, or `channel_not_found` as Slack answers for both
/// unknown ids and private conversations the user is not in.
fn visible_index(ws: &Workspace, id: Option<&String>) -> Result<usize, ApiError> {
    let id = id.map(|s| s.trim().trim_start_matches('#')).unwrap_or("");
    let user = ws.token_user.as_str();
    ws.channels
        .iter()
        .position(|c| c.id == id)
        // chat.postMessage also takes a channel name.
        .or_else(|| {
            ws.channels
                .iter()
                .position(|c| !c.is_im && !c.name.is_empty() && c.name == id && c.visible_to(user))
        })
        .filter(|&i| ws.channels[i].visible_to(user))
        .ok_or_else(|| ApiError::new("channel_not_found"))
}

/// Timestamp bound param (`oldest`/`latest`); error code names the param as Slack does.
fn ts_param(p: &Params, key: &str, error: &str) -> Result<Option<u128>, ApiError> {
    match p.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => ts_key(s).map(Some).ok_or_else(|| ApiError::new(error)),
    }
}

/// Whether `key` is inside the `oldest`/`latest` window (exclusive unless `inclusive`).
fn in_window(key: u128, oldest: Option<u128>, latest: Option<u128>, inclusive: bool) -> bool {
    let above = oldest.is_none_or(|o| if inclusive { key >= o } else { key > o });
    let below = latest.is_none_or(|l| if inclusive { key <= l } else { key < l });
    above && below
}

fn msg_key(m: &Value) -> u128 {
    str_field(m, "ts").and_then(ts_key).unwrap_or(0)
}

/// A channel object as conversations.list / .info / .invite return it.
fn channel_json(ws: &Workspace, c: &Channel, with_num_members: bool) -> Value {
    if c.is_im {
        let other = c.user.clone().unwrap_or_default();
        let deleted = ws.user(&other).is_some_and(is_deleted);
        return json!({
            "id": c.id,
            "created": c.created,
            "is_archived": c.is_archived,
            "is_im": true,
            "is_org_shared": false,
            "context_team_id": ws.team.id,
            "updated": c.created * 1000,
            "user": other,
            "is_user_deleted": deleted,
            "priority": 0,
        });
    }
    let private = c.is_private || c.is_mpim;
    let mut v = json!({
        "id": c.id,
        "name": c.name,
        "is_channel": !private,
        "is_group": c.is_private && !c.is_mpim,
        "is_im": false,
        "is_mpim": c.is_mpim,
        "is_private": private,
        "created": c.created,
        "is_archived": c.is_archived,
        "is_general": c.is_general,
        "unlinked": 0,
        "name_normalized": c.name,
        "is_shared": c.is_shared,
        "is_org_shared": false,
        "is_ext_shared": c.is_ext_shared,
        "is_pending_ext_shared": false,
        "pending_shared": [],
        "context_team_id": ws.team.id,
        "updated": c.created * 1000,
        "parent_conversation": null,
        "creator": c.creator,
        "is_member": c.is_member(&ws.token_user),
        "topic": c.topic,
        "purpose": c.purpose,
        "previous_names": [],
    });
    if with_num_members && let Value::Object(m) = &mut v {
        m.insert("num_members".into(), json!(c.members.len()));
    }
    v
}

/// A fresh message timestamp: after every ts handed out and after the channel's newest message,
/// and never behind the wall clock, so ts are unique and increasing.
fn new_ts(ctx: &mut Ctx<'_>, c: &Channel) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let newest = c.messages.iter().map(msg_key).max().unwrap_or(0);
    let next = (*ctx.clock + 1).max(now).max(newest + 1);
    *ctx.clock = next;
    format_ts(next)
}

// ---------------------------------------------------------------------------------------------
// Methods

fn auth_test(ws: &Workspace) -> Answer {
    let name = ws
        .user(&ws.token_user)
        .and_then(|u| str_field(u, "name"))
        .unwrap_or("")
        .to_string();
    Ok(json!({
        "url": format!("https://{}.slack.com/", ws.team.domain),
        "team": ws.team.name,
        "user": name,
        "team_id": ws.team.id,
        "user_id": ws.token_user,
        "is_enterprise_install": false,
    }))
}

fn team_info(ws: &Workspace, ctx: &Ctx<'_>) -> Answer {
    need1(ctx, "team:read")?;
    Ok(json!({
        "team": {
            "id": ws.team.id,
            "name": ws.team.name,
            "url": format!("https://{}.slack.com/", ws.team.domain),
            "domain": ws.team.domain,
            "email_domain": "",
            "icon": { "image_default": true },
            "avatar_base_url": "https://ca.slack-edge.com/",
            "is_verified": false,
        }
    }))
}

/// A member object as the token may see it: without `profile.email` unless `users:read.email`.
fn user_view(ctx: &Ctx<'_>, u: &Value) -> Value {
    let mut u = u.clone();
    let hide_email = ctx
        .scopes
        .is_some_and(|s| !s.iter().any(|x| x == "users:read.email"));
    if hide_email && let Some(Value::Object(profile)) = u.get_mut("profile") {
        profile.remove("email");
    }
    u
}

/// Whether `u` belongs to the workspace's own team: people of another organisation in a Slack
/// Connect channel carry their own `team_id` and only `users.info` knows them.
fn is_local_user(ws: &Workspace, u: &Value) -> bool {
    str_field(u, "team_id").is_none_or(|t| t == ws.team.id)
}

fn users_list(ws: &Workspace, ctx: &Ctx<'_>, p: &Params) -> Answer {
    need1(ctx, "users:read")?;
    let local: Vec<&Value> = ws.users.iter().filter(|u| is_local_user(ws, u)).collect();
    // Without a limit Slack answers everything at once on small teams, and refuses large ones.
    if p.get("limit")
        .is_none_or(|l| l.trim().is_empty() || l.trim() == "0")
        && local.len() > 1000
    {
        return Err(ApiError::new("limit_required"));
    }
    let lim = limit(p, 1000, 1000)?;
    let start = match decode_cursor(p, "user")? {
        None => 0,
        Some(id) => local
            .iter()
            .position(|u| str_field(u, "id") == Some(id.as_str()))
            .ok_or_else(|| ApiError::new("invalid_cursor"))?,
    };
    let end = (start + lim).min(local.len());
    let members: Vec<Value> = local[start..end]
        .iter()
        .map(|u| user_view(ctx, u))
        .collect();
    let next = local
        .get(end)
        .and_then(|u| str_field(u, "id"))
        .map(|id| encode_cursor("user", id));
    Ok(json!({
        "members": members,
        "cache_ts": *ctx.clock / 1_000_000,
        "response_metadata": metadata(next),
    }))
}

fn users_info(ws: &Workspace, ctx: &Ctx<'_>, p: &Params) -> Answer {
    need1(ctx, "users:read")?;
    let id = p.get("user").map(|s| s.trim()).unwrap_or("");
    let u = ws.user(id).ok_or_else(|| ApiError::new("user_not_found"))?;
    Ok(json!({ "user": user_view(ctx, u) }))
}

fn conversations_list(ws: &Workspace, ctx: &Ctx<'_>, p: &Params) -> Answer {
    let types_param = p
        .get("types")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .unwrap_or("public_channel");
    let mut kinds = Vec::new();
    for t in types_param
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let k = ChannelKind::from_type_name(t).ok_or_else(|| ApiError::new("invalid_types"))?;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    let needed: Vec<String> = kinds.iter().map(|k| kind_scope(*k, "read")).collect();
    need(ctx, &needed)?;
    let lim = limit(p, 100, 1000)?;
    let exclude_archived = flag(p, "exclude_archived");
    let user = ws.token_user.as_str();
    let candidates: Vec<&Channel> = ws
        .channels
        .iter()
        .filter(|c| kinds.contains(&c.kind()) && c.visible_to(user))
        .collect();
    let start = match decode_cursor(p, "team")? {
        None => 0,
        Some(id) => candidates
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| ApiError::new("invalid_cursor"))?,
    };
    let end = (start + lim).min(candidates.len());
    // As on Slack, exclude_archived filters the page after it is cut: pages can come back short
    // (even empty) while more remain.
    let channels: Vec<Value> = candidates[start..end]
        .iter()
        .filter(|c| !(exclude_archived && c.is_archived))
        .map(|c| channel_json(ws, c, true))
        .collect();
    let next = candidates.get(end).map(|c| encode_cursor("team", &c.id));
    Ok(json!({ "channels": channels, "response_metadata": metadata(next) }))
}

fn conversations_info(ws: &Workspace, ctx: &Ctx<'_>, p: &Params) -> Answer {
    let c = &ws.channels[visible_index(ws, p.get("channel"))?];
    need1(ctx, &kind_scope(c.kind(), "read"))?;
    Ok(json!({ "channel": channel_json(ws, c, flag(p, "include_num_members")) }))
}

/// `pins.list`: the channel's pinned messages (stored messages whose `pinned_to` names the
/// channel), newest pin first, as `{type: "message", created, created_by, channel, message}`.
/// Pinned at the message's time plus a minute, by its author: the sim keeps no pin events.
fn pins_list(ws: &Workspace, ctx: &mut Ctx<'_>, p: &Params) -> Answer {
    let c = &ws.channels[visible_index(ws, p.get("channel"))?];
    need1(ctx, "pins:read")?;
    let idx = ctx.index.get(c);
    let mut items: Vec<Value> = c
        .messages
        .iter()
        .filter(|m| {
            m.get("pinned_to")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(c.id.as_str())))
        })
        .map(|m| {
            let created = (msg_key(m) / 1_000_000) as i64 + 60;
            json!({
                "type": "message",
                "created": created,
                "created_by": str_field(m, "user").unwrap_or(&c.creator),
                "channel": c.id,
                "message": idx.decorate(c, m),
            })
        })
        .collect();
    items.reverse();
    Ok(json!({ "items": items }))
}

fn conversations_members(ws: &Workspace, ctx: &Ctx<'_>, p: &Params) -> Answer {
    let c = &ws.channels[visible_index(ws, p.get("channel"))?];
    need1(ctx, &kind_scope(c.kind(), "read"))?;
    let lim = limit(p, 100, 1000)?;
    let start = match decode_cursor(p, "user")? {
        None => 0,
        Some(id) => c
            .members
            .iter()
            .position(|m| *m == id)
            .ok_or_else(|| ApiError::new("invalid_cursor"))?,
    };
    let end = (start + lim).min(c.members.len());
    let next = c.members.get(end).map(|id| encode_cursor("user", id));
    Ok(json!({
        "members": c.members[start..end],
        "response_metadata": metadata(next),
    }))
}

fn conversations_history(ws: &Workspace, ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let c = &ws.channels[visible_index(ws, p.get("channel"))?];
    need1(ctx, &kind_scope(c.kind(), "history"))?;
    let lim = limit(p, 100, 999)?;
    let oldest = ts_param(p, "oldest", "invalid_ts_oldest")?;
    let latest = ts_param(p, "latest", "invalid_ts_latest")?;
    let inclusive = flag(p, "inclusive");
    let cursor = decode_ts_cursor(p)?;
    let idx = ctx.index.get(c);
    // Top-level messages and broadcast replies, newest first: walk the listing backwards from the
    // newest key the window and the cursor allow.
    let key = |i: &usize| idx.keys[*i];
    let upper = idx.listed.partition_point(|i| {
        let k = key(i);
        latest.is_none_or(|l| if inclusive { k <= l } else { k < l })
            && cursor.is_none_or(|cur| k <= cur)
    });
    let lower = idx.listed.partition_point(|i| {
        oldest.is_some_and(|o| if inclusive { key(i) < o } else { key(i) <= o })
    });
    // Walked in place: collecting the rest of the listing would cost O(channel) per page.
    let listed = &idx.listed[lower..upper.max(lower)];
    let newest_first = || listed.iter().rev().copied();
    let mut messages = page_text(&idx, c, newest_first().take(lim));
    // Slack returns a message's `metadata` only when asked with include_all_metadata.
    if !flag(p, "include_all_metadata")
        && newest_first()
            .take(lim)
            .any(|i| c.messages[i].get("metadata").is_some())
    {
        messages = without_metadata(&messages);
    }
    let has_more = listed.len() > lim;
    let next = newest_first().nth(lim).map(|i| ts_cursor(idx.keys[i]));
    let mut rest = Map::new();
    rest.insert("has_more".into(), json!(has_more));
    rest.insert("pin_count".into(), json!(0));
    rest.insert("channel_actions_ts".into(), Value::Null);
    rest.insert("channel_actions_count".into(), json!(0));
    rest.insert("response_metadata".into(), metadata(next));
    Ok(Reply::Page { messages, rest })
}

fn conversations_replies(ws: &Workspace, ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let c = &ws.channels[visible_index(ws, p.get("channel"))?];
    need1(ctx, &kind_scope(c.kind(), "history"))?;
    let ts = p
        .get("ts")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::new("invalid_arguments"))?;
    let idx = ctx.index.get(c);
    let not_found = || ApiError::new("thread_not_found");
    let pos = *idx.by_ts.get(ts).ok_or_else(not_found)?;
    let msg = &c.messages[pos];
    // A reply's ts names its whole thread.
    let parent_pos = if is_reply(msg) {
        *idx.by_ts
            .get(str_field(msg, "thread_ts").unwrap_or(""))
            .ok_or_else(not_found)?
    } else {
        pos
    };
    let parent_ts = str_field(&c.messages[parent_pos], "ts").unwrap_or("");
    let lim = limit(p, 1000, 1000)?;
    let oldest = ts_param(p, "oldest", "invalid_ts_oldest")?;
    let latest = ts_param(p, "latest", "invalid_ts_latest")?;
    let inclusive = flag(p, "inclusive");
    let cursor = decode_ts_cursor(p)?;
    let replies: Vec<usize> = idx
        .threads
        .get(parent_ts)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .copied()
        .filter(|&i| in_window(idx.keys[i], oldest, latest, inclusive))
        .filter(|&i| cursor.is_none_or(|cur| idx.keys[i] >= cur))
        .collect();
    // Every page starts with the parent (as Slack does in practice; clients de-duplicate by
    // ts). On the first page it counts toward the limit; later pages carry at least one reply.
    let take = if cursor.is_none() {
        lim.saturating_sub(1)
    } else {
        lim.saturating_sub(1).max(1)
    };
    let messages = page_text(
        &idx,
        c,
        std::iter::once(parent_pos).chain(replies.iter().take(take).copied()),
    );
    let has_more = replies.len() > take;
    let next = replies.get(take).map(|&i| ts_cursor(idx.keys[i]));
    let mut rest = Map::new();
    rest.insert("has_more".into(), json!(has_more));
    rest.insert("response_metadata".into(), metadata(next));
    Ok(Reply::Page { messages, rest })
}

/// The most users one conversations.invite call takes (current Slack docs).
const MAX_INVITE_USERS: usize = 100;

fn conversations_invite(ws: &mut Workspace, ctx: &mut Ctx<'_>, p: &Params) -> Answer {
    let idx = visible_index(ws, p.get("channel"))?;
    let kind = ws.channels[idx].kind();
    if kind == ChannelKind::Im {
        return Err(ApiError::new("method_not_supported_for_channel_type"));
    }
    need1(ctx, &kind_scope(kind, "write"))?;
    let me = ws.token_user.clone();
    {
        let c = &ws.channels[idx];
        if c.is_archived {
            return Err(ApiError::new("is_archived"));
        }
        if !c.is_member(&me) {
            return Err(ApiError::new("not_in_channel"));
        }
    }
    let requested: Vec<String> = p
        .get("users")
        .map(|s| {
            s.split(',')
                .map(|u| u.trim().to_string())
                .filter(|u| !u.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if requested.is_empty() {
        return Err(ApiError::new("no_user"));
    }
    if requested.len() > MAX_INVITE_USERS {
        return Err(ApiError::new("too_many_users"));
    }
    let mut valid: Vec<String> = Vec::new();
    let mut errors: Vec<Value> = Vec::new();
    for u in &requested {
        if valid.contains(u) {
            continue;
        }
        let code = if *u == me {
            Some("cant_invite_self")
        } else {
            match ws.user(u) {
                None => Some("user_not_found"),
                Some(obj) if is_deleted(obj) => Some("cant_invite"),
                Some(_) if ws.channels[idx].is_member(u) => Some("already_in_channel"),
                Some(_) => None,
            }
        };
        match code {
            Some(code) => errors.push(json!({ "user": u, "ok": false, "error": code })),
            None => valid.push(u.clone()),
        }
    }
    let force = flag(p, "force");
    if !errors.is_empty() && (!force || valid.is_empty()) {
        let first = errors[0]["error"]
            .as_str()
            .unwrap_or("cant_invite")
            .to_string();
        let mut e = ApiError::new(&first);
        e.extra.insert("errors".into(), Value::Array(errors));
        return Err(e);
    }
    let team = ws.team.id.clone();
    for u in &valid {
        let ts = new_ts(ctx, &ws.channels[idx]);
        let c = &mut ws.channels[idx];
        c.members.push(u.clone());
        c.messages.push(json!({
            "type": "message",
            "subtype": "channel_join",
            "ts": ts,
            "user": u,
            "text": format!("<@{u}> has joined the channel"),
            "inviter": me,
            "team": team,
        }));
    }
    // New join messages: the channel's cached index is stale.
    ctx.index.clear();
    let mut out = json!({ "channel": channel_json(ws, &ws.channels[idx], false) });
    if !errors.is_empty()
        && let Value::Object(m) = &mut out
    {
        m.insert("errors".into(), Value::Array(errors));
    }
    Ok(out)
}

fn chat_post_message(ws: &mut Workspace, ctx: &mut Ctx<'_>, p: &Params) -> Answer {
    let idx = visible_index(ws, p.get("channel"))?;
    need1(ctx, "chat:write")?;
    let me = ws.token_user.clone();
    let c = &ws.channels[idx];
    if c.is_archived {
        return Err(ApiError::new("is_archived"));
    }
    if !c.is_member(&me) {
        return Err(ApiError::new("not_in_channel"));
    }
    let text = p.get("text").cloned().unwrap_or_default();
    let blocks = p.get("blocks").filter(|b| !b.trim().is_empty());
    let attachments = p.get("attachments").filter(|b| !b.trim().is_empty());
    if text.trim().is_empty() && blocks.is_none() && attachments.is_none() {
        return Err(ApiError::new("no_text"));
    }
    let metadata = match p.get("metadata").filter(|m| !m.trim().is_empty()) {
        Some(m) => Some(parse_metadata(m)?),
        None => None,
    };
    let thread_ts = match p
        .get("thread_ts")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(t) => {
            let m = c
                .message(t)
                .ok_or_else(|| ApiError::new("thread_not_found"))?;
            // Replying to a reply continues its thread.
            let root = if is_reply(m) {
                str_field(m, "thread_ts").unwrap_or(t)
            } else {
                t
            };
            Some(root.to_string())
        }
    };
    let ts = new_ts(ctx, c);
    let mut msg = Map::new();
    msg.insert("user".into(), json!(me));
    msg.insert("type".into(), json!("message"));
    msg.insert("ts".into(), json!(ts));
    msg.insert("text".into(), json!(text));
    msg.insert("team".into(), json!(ws.team.id));
    if let Some(b) = blocks {
        let parsed: Value = serde_json::from_str(b).map_err(|_| ApiError::new("invalid_blocks"))?;
        msg.insert("blocks".into(), parsed);
    }
    if let Some(m) = metadata {
        msg.insert("metadata".into(), m);
    }
    if let Some(t) = &thread_ts {
        msg.insert("thread_ts".into(), json!(t));
        if flag(p, "reply_broadcast") {
            msg.insert("subtype".into(), json!("thread_broadcast"));
        }
    }
    let msg = Value::Object(msg);
    let channel_id = ws.channels[idx].id.clone();
    ws.channels[idx].messages.push(msg.clone());
    // The channel changed: its cached index is stale.
    ctx.index.clear();
    let c = &ws.channels[idx];
    let shown = ctx.index.get(c).decorate(c, &msg);
    Ok(json!({ "channel": channel_id, "ts": ts, "message": shown }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One channel with every thread shape the decoration handles: a parent (stored with stale
    /// derived fields) with plain, broadcast and stale-field replies, a parent whose replies were
    /// removed, a reply whose parent has no `user`, text that needs escaping, and stored fields
    /// equal to the derived ones. Some take the appending path of the text cache, the rest the
    /// `decorate` fallback; both must give the same bytes.
    fn workspace() -> Workspace {
        let ws = json!({
            "team": {"id": "T1", "name": "Team", "domain": "team"},
            "token_user": "U1",
            "users": [{"id": "U1", "name": "one"}, {"id": "U2", "name": "two"}],
            "channels": [{
                "id": "C1", "name": "general", "created": 1, "creator": "U1",
                "members": ["U1", "U2"],
                "messages": [
                    {"type": "message", "ts": "100.000100", "user": "U1", "text": "parent",
                     "thread_ts": "100.000100", "reply_count": 9, "latest_reply": "1.0",
                     "reply_users": ["U9"], "reply_users_count": 1, "edited": {"ts": "101.0"}},
                    {"type": "message", "ts": "100.000200", "user": "U2",
                     "thread_ts": "100.000100", "text": "reply \"quoted\" \u{1F600}\nline"},
                    {"type": "message", "subtype": "thread_broadcast", "ts": "100.000300",
                     "user": "U3", "thread_ts": "100.000100", "text": "broadcast"},
                    {"type": "message", "ts": "100.000400", "user": "U1", "reply_count": 3,
                     "thread_ts": "100.000100", "text": "reply with stale fields",
                     "latest_reply": "5.0"},
                    {"type": "message", "ts": "200.000100", "user": "U2", "text": "orphaned",
                     "thread_ts": "200.000100", "reply_count": 2, "reply_users": ["U1"],
                     "reply_users_count": 1, "latest_reply": "201.0", "is_locked": false,
                     "subscribed": true, "blocks": [{"type": "rich_text"}]},
                    {"type": "message", "subtype": "bot_message", "ts": "300.000100",
                     "bot_id": "B1", "text": "bot parent"},
                    {"type": "message", "ts": "300.000200", "user": "U2",
                     "thread_ts": "300.000100", "text": "reply to a bot"},
                    {"type": "message", "ts": "400.000100", "user": "U1", "text": "<&> \\ \t"},
                    {"type": "message", "ts": "500.000100", "user": "U2", "text": "kept",
                     "thread_ts": "500.000100"},
                    {"type": "message", "ts": "500.000200", "user": "U1", "text": "r",
                     "thread_ts": "500.000100", "parent_user_id": "U2"},
                    {"ts": "600.000100", "thread_ts": "500.000100"},
                ]
            }]
        });
        let mut ws: Workspace = serde_json::from_value(ws).expect("workspace fixture");
        for c in &mut ws.channels {
            c.sort_messages();
        }
        ws
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Runs `method` and checks its body byte for byte against the pre-cache way of building
    /// it: each listed message decorated as a `Value`, the whole object serialised at once.
    /// Returns the parsed body.
    fn check_page(ws: &mut Workspace, index: &mut IndexCache, method: &str, p: &Params) -> Value {
        let mut clock = 0;
        let mut ctx = Ctx {
            scopes: None,
            clock: &mut clock,
            index,
        };
        let reply = call(ws, &mut ctx, method, p).expect("page");
        let Reply::Page { rest, .. } = &reply else {
            panic!("{method} should answer a page");
        };
        let rest = rest.clone();
        let text = reply.into_text();
        let parsed: Value = serde_json::from_str(&text).expect("body is JSON");

        let c = &ws.channels[0];
        let idx = index.get(c);
        let old_messages: Vec<Value> = parsed["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                let ts = m["ts"].as_str().expect("ts");
                idx.decorate(c, c.message(ts).expect("listed message is stored"))
            })
            .collect();
        let mut old = Map::new();
        old.insert("ok".into(), Value::Bool(true));
        old.insert("messages".into(), Value::Array(old_messages));
        old.extend(rest);
        assert_eq!(text, Value::Object(old).to_string(), "{method} {p:?}");
        parsed
    }

    /// Pages through `method` with `base` params and `limit`, checking every page; returns the
    /// `ts` of every message served, in order.
    fn check_all_pages(
        ws: &mut Workspace,
        index: &mut IndexCache,
        method: &str,
        base: &[(&str, &str)],
        limit: &str,
    ) -> Vec<String> {
        let mut seen = Vec::new();
        let mut cursor = String::new();
        for _ in 0..50 {
            let mut p = params(base);
            p.insert("limit".into(), limit.into());
            p.insert("cursor".into(), cursor.clone());
            let body = check_page(ws, index, method, &p);
            for m in body["messages"].as_array().expect("messages") {
                seen.push(m["ts"].as_str().expect("ts").to_string());
            }
            cursor = body["response_metadata"]["next_cursor"]
                .as_str()
                .expect("next_cursor")
                .to_string();
            if cursor.is_empty() {
                return seen;
            }
        }
        panic!("{method} never ran out of pages");
    }

    #[test]
    fn cached_pages_match_value_serialisation() {
        let mut ws = workspace();
        let mut index = IndexCache::default();
        let history = [("channel", "C1")];
        for limit in ["1", "2", "3", "100"] {
            // Twice: the first pass fills the text cache, the second is served from it.
            for _ in 0..2 {
                let listed = check_all_pages(
                    &mut ws,
                    &mut index,
                    "conversations.history",
                    &history,
                    limit,
                );
                assert_eq!(
                    listed,
                    [
                        "500.000100",
                        "400.000100",
                        "300.000100",
                        "200.000100",
                        "100.000300",
                        "100.000100"
                    ]
                );
            }
        }
        for ts in [
            "100.000100",
            "100.000300",
            "200.000100",
            "300.000100",
            "300.000200",
            "500.000200",
        ] {
            for limit in ["1", "2", "1000"] {
                let served = check_all_pages(
                    &mut ws,
                    &mut index,
                    "conversations.replies",
                    &[("channel", "C1"), ("ts", ts)],
                    limit,
                );
                assert!(!served.is_empty());
            }
        }
        let window = params(&[
            ("channel", "C1"),
            ("oldest", "100.000100"),
            ("latest", "300.000100"),
            ("inclusive", "true"),
        ]);
        check_page(&mut ws, &mut index, "conversations.history", &window);
    }

    #[test]
    fn both_text_paths_are_exercised() {
        let ws = workspace();
        let mut index = IndexCache::default();
        let c = &ws.channels[0];
        let idx = index.get(c);
        let appends = |ts: &str| {
            idx.decorated_by_appending(c, c.message(ts).expect("fixture message"))
                .is_some()
        };
        // Plain, appended-to, and stored-equal-to-derived messages take the cheap path ...
        for ts in [
            "100.000200",
            "300.000100",
            "300.000200",
            "400.000100",
            "500.000100",
        ] {
            assert!(appends(ts), "{ts} should be appended to");
        }
        assert!(appends("500.000200"));
        // ... stale or removed derived fields fall back to decorate.
        for ts in ["100.000100", "100.000400", "200.000100"] {
            assert!(!appends(ts), "{ts} should fall back");
        }
    }

    #[test]
    fn cached_text_follows_workspace_changes() {
        let mut ws = workspace();
        let mut index = IndexCache::default();
        let p = params(&[("channel", "C1"), ("ts", "200.000100")]);
        let before = check_page(&mut ws, &mut index, "conversations.replies", &p);
        assert_eq!(before["messages"][0].get("reply_count"), None);

        // What SimHandle::with_workspace does: change, re-sort, clear the index.
        ws.channels[0].messages.push(json!({
            "type": "message", "ts": "200.000200", "user": "U1",
            "thread_ts": "200.000100", "text": "late reply"
        }));
        ws.channels[0].sort_messages();
        index.clear();
        let after = check_page(&mut ws, &mut index, "conversations.replies", &p);
        assert_eq!(after["messages"][0]["reply_count"], json!(1));
        assert_eq!(after["messages"][0]["latest_reply"], json!("200.000200"));
        assert_eq!(after["messages"][1]["parent_user_id"], json!("U2"));
    }

    #[test]
    fn other_methods_put_ok_first() {
        let mut ws = workspace();
        let mut index = IndexCache::default();
        let mut clock = 0;
        let mut ctx = Ctx {
            scopes: None,
            clock: &mut clock,
            index: &mut index,
        };
        let text = call(&mut ws, &mut ctx, "auth.test", &Params::new())
            .expect("auth.test")
            .into_text();
        assert!(text.starts_with(r#"{"ok":true,"url":"#), "{text}");
    }
}
