//! Templates to messages: `{variable}` substitution with the values escaped for Slack's mrkdwn,
//! and the Block Kit layout with its plain `text` fallback.

use serde_json::{Value, json};

use crate::config::{NotificationsConfig, Priority};
use crate::event::{Context, Event};

/// A message ready to post.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The plain-text fallback Slack shows in notifications and screen readers.
    pub text: String,
    /// The Block Kit array.
    pub blocks: Value,
    /// Which text it was made from: `template`, `fallback` or `builtin`.
    pub source: &'static str,
    pub priority: Priority,
}

/// Slack mrkdwn control characters in user data (channel names, handles): a value holding
/// `<!channel>` must not ping a whole channel.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Block text limits are in characters; cut with an ellipsis rather than have the post refused.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The variable names `template` uses, in order; `{{` and `}}` are literal braces. Err: what is
/// malformed.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    parse(template, |piece| {
        if let Piece::Var(n) = piece {
            names.push(n.to_string());
        }
    })?;
    Ok(names)
}

enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn parse<'a>(template: &'a str, mut f: impl FnMut(Piece<'a>)) -> Result<(), String> {
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("{{") {
            f(Piece::Text("{"));
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            f(Piece::Text("}"));
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in {template:?}"))?;
            let name = &r[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("`{{{name}}}` is not a variable name"));
            }
            f(Piece::Var(name));
            rest = &r[end + 1..];
        } else if rest.starts_with('}') {
            return Err(format!("unmatched `}}` in {template:?}"));
        } else {
            let next = rest.find(['{', '}']).unwrap_or(rest.len());
            f(Piece::Text(&rest[..next]));
            rest = &rest[next..];
        }
    }
    Ok(())
}

/// `template` with each `{name}` replaced by the escaped value; Err(name) for the first variable
/// `ctx` lacks (or a malformed template, as its message).
pub fn fill(template: &str, ctx: &Context) -> Result<String, String> {
    let mut out = String::new();
    let mut missing = None;
    parse(template, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Var(n) => match ctx.get(n) {
            Some(v) => out.push_str(&escape(v)),
            None => {
                missing.get_or_insert_with(|| n.to_string());
            }
        },
    })?;
    match missing {
        Some(n) => Err(n),
        None => Ok(out),
    }
}

/// The message for one occurrence of `event` under `config`: its template, else its fallback
/// when the template names a variable `ctx` lacks, else the built-in text.
pub fn render(config: &NotificationsConfig, event: Event, ctx: &Context) -> Message {
    let rule = config.rule(event);
    let priority = rule.map(|r| r.priority).unwrap_or_default();
    let mut chosen = None;
    if let Some(t) = rule.and_then(|r| r.template.as_deref()) {
        match fill(t, ctx) {
            Ok(body) => chosen = Some((body, "template")),
            Err(missing) => {
                tracing::warn!(
                    "{event}: template names {missing:?}, which this occurrence lacks; sending the fallback"
                );
                if let Some(f) = rule.and_then(|r| r.fallback.as_deref())
                    && let Ok(body) = fill(f, ctx)
                {
                    chosen = Some((body, "fallback"));
                }
            }
        }
    }
    let (body, source) = chosen.unwrap_or_else(|| {
        // Every documented variable is given by the tools; one left out still renders.
        let builtin = event.builtin_template();
        let lines: Vec<String> = builtin.lines().filter_map(|l| fill(l, ctx).ok()).collect();
        (lines.join("\n"), "builtin")
    });
    layout(event.title(), &body, priority, source)
}

/// Header, body section and a context line with the event's priority; `text` repeats title and
/// body (already escaped).
pub fn layout(title: &str, body: &str, priority: Priority, source: &'static str) -> Message {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(body, 3000)}}),
    ];
    if priority != Priority::Normal {
        blocks.push(json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("priority: {}", priority.as_str())}]}));
    }
    Message {
        text: format!("{}\n{}", escape(title), body),
        blocks: Value::Array(blocks),
        source,
        priority,
    }
}

/// The audit summary as `slack-audit --notify` has always posted it: title, summary lines and
/// the worst gaps.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyMessage {
    pub title: String,
    /// Lines of the summary (coverage, counts, changes).
    pub lines: Vec<String>,
    /// The worst gaps, one line each.
    pub gaps: Vec<String>,
}

impl NotifyMessage {
    /// The plain-text fallback (`text`); escaped like the blocks, since Slack parses `text` as
    /// mrkdwn too.
    pub fn text(&self) -> String {
        let mut out = escape(&self.title);
        for l in &self.lines {
            out.push('\n');
            out.push_str(&escape(l));
        }
        if !self.gaps.is_empty() {
            out.push_str("\nWorst gaps:");
            for g in &self.gaps {
                out.push_str("\n• ");
                out.push_str(&escape(g));
            }
        }
        out
    }

    /// A header, the summary as a section, the gaps as a second section.
    pub fn blocks(&self) -> Value {
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&self.title, 150)}}),
            json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&escape(&self.lines.join("\n")), 3000)}}),
        ];
        if !self.gaps.is_empty() {
            let list: Vec<String> = self
                .gaps
                .iter()
                .map(|g| format!("• {}", escape(g)))
                .collect();
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
                "text": truncate(&format!("*Worst gaps*\n{}", list.join("\n")), 3000)}}));
        }
        Value::Array(blocks)
    }

    /// As a [`Message`] from the built-in layout.
    pub fn message(&self, priority: Priority) -> Message {
        Message {
            text: self.text(),
            blocks: self.blocks(),
            source: "builtin",
            priority,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> Context {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_are_escaped_and_braces_doubled_are_literal() {
        let out = fill(
            "{{x}} {name} & *bold*",
            &ctx(&[("name", "<!channel> & co")]),
        )
        .expect("fills");
        assert_eq!(out, "{x} &lt;!channel&gt; &amp; co & *bold*");
    }

    #[test]
    fn a_missing_variable_sends_the_fallback() {
        let config = crate::config::parse(
            r#"{"default_channel": "ops", "events": {"sync_failed": {"template": "{nope}", "fallback": "Sync failed: {error}"}}}"#,
            std::path::Path::new("n.json"),
        )
        .expect("valid");
        let m = render(
            &config,
            Event::SyncFailed,
            &ctx(&[("error", "HTTP 500"), ("tool", "x")]),
        );
        assert_eq!(m.source, "fallback");
        assert!(m.text.ends_with("Sync failed: HTTP 500"), "{}", m.text);
    }

    #[test]
    fn legacy_summary_text_holds_every_line() {
        let m = NotifyMessage {
            title: "Coverage audit: 80.0%".into(),
            lines: vec!["4 of 5 customer channels complete".into()],
            gaps: vec!["bitsafe-<acme> missing aki".into()],
        };
        assert_eq!(
            m.text(),
            "Coverage audit: 80.0%\n4 of 5 customer channels complete\nWorst gaps:\n• bitsafe-&lt;acme&gt; missing aki"
        );
        let cut = truncate(&"x".repeat(5000), 3000);
        assert_eq!(cut.chars().count(), 3000);
    }
}
