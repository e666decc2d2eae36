//! One spelling for spooled JSON: serde_json's compact output. A message whose text is already in
//! that form (the usual case: Slack and slack-sim send compact JSON) is stored exactly as received,
//! without parsing it into a tree and printing it again; anything else (spaces or newlines between
//! tokens, `\/`, `\u` escapes of printable characters, fractions or exponents) is re-serialised. The
//! files are then the same whichever way a message arrived, and a message is always one line.
//!
//! Not detected: an object repeating a key (serde_json would keep one copy); Slack never sends that.

use serde_json::Value;

/// `json` in serde_json's compact form: itself when it already is, else parsed and re-printed.
pub fn normalized(json: String) -> Result<String, serde_json::Error> {
    if is_compact(json.as_bytes()) {
        Ok(json)
    } else {
        serde_json::to_string(&serde_json::from_str::<Value>(&json)?)
    }
}

/// Whether valid JSON `b` is exactly what serde_json prints for its value. Errs on the side of
/// `false` (which only costs a re-serialisation).
fn is_compact(b: &[u8]) -> bool {
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => match string_end(b, i + 1) {
                Some(end) => i = end + 1,
                None => return false,
            },
            b'-' | b'0'..=b'9' => {
                let start = i;
                i += 1;
                while i < b.len() && matches!(b[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
                let number = &b[start..i];
                let digits = number.strip_prefix(b"-").unwrap_or(number);
                // Plain integers that fit i64/u64 print back the same; `-0` becomes `-0.0`, and
                // fractions and exponents are printed in serde_json's own way.
                if digits.is_empty()
                    || digits.len() > 18
                    || !digits.iter().all(u8::is_ascii_digit)
                    || number == b"-0"
                {
                    return false;
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' => return false,
            _ => i += 1,
        }
    }
    true
}

/// The index of the closing quote of the string whose contents start at `i`, if every escape in
/// it is one serde_json writes.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        // Ordinary bytes: find the next quote or backslash (memchr scans a word or vector at a
        // time; string contents are most of a message's bytes).
        let at = memchr::memchr2(b'"', b'\\', &b[i..])?;
        i += at;
        if b[i] == b'"' {
            return Some(i);
        }
        match b.get(i + 1)? {
            b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
            b'u' => {
                // serde_json writes `\u00xx` (lowercase hex) only for control characters that
                // have no short escape.
                let hex = b.get(i + 2..i + 6)?;
                let control = matches!(hex, [b'0', b'0', b'0' | b'1', d] if d.is_ascii_digit() || (b'a'..=b'f').contains(d));
                if !control || matches!(hex, [_, _, b'0', b'8' | b'9' | b'a' | b'c' | b'd']) {
                    return None;
                }
                i += 6;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reprinted(s: &str) -> String {
        serde_json::to_string(&serde_json::from_str::<Value>(s).expect("valid")).expect("prints")
    }

    #[test]
    fn compact_text_is_kept_and_anything_else_becomes_what_serde_json_prints() {
        let cases = [
            r#"{"ts":"1.000100","text":"caf\u00e9 http:\/\/x","n":-12,"ok":true,"x":null,"a":[1,false]}"#,
            r#"{"a": 1}"#,
            "{\"a\":\n[1 ,2]}",
            r#"{"f":1.5}"#,
            r#"{"f":1e3}"#,
            r#"{"f":-0}"#,
            r#"{"big":123456789012345678901234}"#,
            r#"{"t":"tab\tquote\"back\\slash\u0001\u001f\u0008"}"#,
            r#"{"t":"\u001F upper hex"}"#,
            r#"{"t":"é ünïcödé 😀 \u2028"}"#,
            r#"{"t":"emoji \ud83d\ude00"}"#,
            r#"{"ts":"1.2","reply_count":0,"n":18446744073709551615}"#,
            r#"{"text":"plain","blocks":[{"type":"rich_text","elements":[]}],"edited":{"user":"U1","ts":"2.0"}}"#,
            r#"{"t":"\u007f"}"#,
        ];
        for case in cases {
            let want = reprinted(case);
            assert_eq!(
                normalized(case.to_string()).expect("normalizes"),
                want,
                "{case}"
            );
            if is_compact(case.as_bytes()) {
                assert_eq!(case, want, "judged compact but prints differently");
            }
        }
        for compact in [
            r#"{"text":"plain","blocks":[{"type":"rich_text","elements":[]}],"edited":{"user":"U1","ts":"2.0"}}"#,
            r#"{"t":"tab\tquote\"back\\slash\u0001\u001f"}"#,
            r#"{"n":-12,"m":0,"ok":false,"x":null}"#,
        ] {
            assert!(is_compact(compact.as_bytes()), "{compact}");
        }
        for loose in [
            r#"{"a": 1}"#,
            r#"{"u":"\/"}"#,
            r#"{"u":"\u00e9"}"#,
            r#"{"u":"\u0008"}"#,
        ] {
            assert!(!is_compact(loose.as_bytes()), "{loose}");
        }
    }
}
