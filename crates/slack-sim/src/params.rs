//! Request parameter decoding: Slack accepts arguments in the query string, a form body or a JSON
//! body (slack_sdk sends forms, except for chat.postMessage which it sends as JSON).

use std::collections::BTreeMap;

use serde_json::Value;

/// Decodes `application/x-www-form-urlencoded` text (also used for query strings).
pub fn parse_form(text: &str, out: &mut BTreeMap<String, String>) {
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(percent_decode(k), percent_decode(v));
    }
}

/// Decodes a JSON object body; non-string values become their text form, arrays become comma
/// lists (so `users: ["U1","U2"]` reads like `users=U1,U2`).
pub fn parse_json(body: &[u8], out: &mut BTreeMap<String, String>) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    for (k, v) in map {
        let s = match v {
            Value::String(s) => s,
            Value::Null => continue,
            Value::Array(items) if items.iter().all(|i| i.is_string() || i.is_number()) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        out.insert(k, s);
    }
    true
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_handles_plus_percent_and_equals_in_cursor() {
        let mut m = BTreeMap::new();
        parse_form(
            "cursor=dXNlcjpVMDE%3D&text=a+b%21&users=U1%2CU2&flag&bad=%zz%4",
            &mut m,
        );
        assert_eq!(m["cursor"], "dXNlcjpVMDE=");
        assert_eq!(m["text"], "a b!");
        assert_eq!(m["users"], "U1,U2");
        assert_eq!(m["flag"], "");
        assert_eq!(m["bad"], "%zz%4");
    }

    #[test]
    fn json_body_flattens_scalars_and_lists() {
        let mut m = BTreeMap::new();
        assert!(parse_json(
            br#"{"channel":"C1","limit":5,"force":true,"users":["U1","U2"],"x":null}"#,
            &mut m
        ));
        assert_eq!(m["channel"], "C1");
        assert_eq!(m["limit"], "5");
        assert_eq!(m["force"], "true");
        assert_eq!(m["users"], "U1,U2");
        assert!(!m.contains_key("x"));
        assert!(!parse_json(b"[1]", &mut m));
    }
}
