//! Text helpers for platform-supplied strings: case-insensitive matching shared by scope,
//! category and rename matching, and making names safe to print on a terminal.
//!
//! Telegram titles are arbitrary Unicode, so matching folds case per character instead of
//! assuming ASCII, and replacement keeps the untouched parts of the name byte-for-byte.

use std::borrow::Cow;

/// True when `needle` occurs in `haystack`, ignoring case. An empty needle matches everything.
pub fn contains_ci(haystack: &str, needle: &str) -> bool {
    find_ci(haystack, needle).is_some()
}

/// Byte range of the first case-insensitive occurrence of `needle` in `haystack`.
pub fn find_ci(haystack: &str, needle: &str) -> Option<(usize, usize)> {
    let needle: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
    if needle.is_empty() {
        return Some((0, 0));
    }
    for (start, _) in haystack.char_indices() {
        if let Some(end) = match_at(haystack, start, &needle) {
            return Some((start, end));
        }
    }
    None
}

/// If the lower-cased needle matches at byte `start`, the byte index where the match ends.
/// A match must end on a character boundary of the haystack (no half of a case expansion).
fn match_at(haystack: &str, start: usize, needle: &[char]) -> Option<usize> {
    let mut want = needle.iter();
    let mut pending = want.next();
    for (offset, c) in haystack[start..].char_indices() {
        for lc in c.to_lowercase() {
            match pending {
                Some(&w) if w == lc => pending = want.next(),
                _ => return None,
            }
        }
        if pending.is_none() {
            return Some(start + offset + c.len_utf8());
        }
    }
    None
}

/// Replaces every case-insensitive occurrence of `find` with `replace`, keeping the rest as is.
pub fn replace_ci(haystack: &str, find: &str, replace: &str) -> String {
    if find.is_empty() {
        return haystack.to_string();
    }
    let mut out = String::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some((start, end)) = find_ci(rest, find) {
        out.push_str(&rest[..start]);
        out.push_str(replace);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A platform-supplied string (a Telegram title, a Slack name, a message) made safe to print on a
/// terminal or in a text export, on one line: every character that could move the cursor, change
/// colours, rewrite the line or reorder what is shown is replaced by its visible Rust escape
/// (`\u{1b}`), so the text still says what was there. Those characters are the control
/// characters (C0 including `\n`, `\r` and tab, DEL, C1), the line and paragraph separators
/// U+2028/U+2029, and the bidirectional embeddings, overrides and isolates.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    escape_unsafe(s, |_| false)
}

/// [`terminal_safe`] for multi-line text (message bodies in a text export): `\n` and tab are kept.
pub fn terminal_safe_text(s: &str) -> Cow<'_, str> {
    escape_unsafe(s, |c| matches!(c, '\n' | '\t'))
}

/// [`terminal_safe`] keeping the characters in `keep`: for a stream whose producer already
/// escaped those in the data and adds its own (log lines with their colours and newlines).
pub fn terminal_safe_keeping<'a>(s: &'a str, keep: &[char]) -> Cow<'a, str> {
    escape_unsafe(s, |c| keep.contains(&c))
}

/// True for a character [`terminal_safe`] escapes.
pub fn is_terminal_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

fn escape_unsafe(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let needs = |c: char| is_terminal_unsafe(c) && !keep(c);
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_ignores_case() {
        assert!(contains_ci("ext-BitSafe-acme", "bitsafe"));
        assert!(contains_ci("iBTC <> Acme", "IBTC"));
        assert!(!contains_ci("acme", "bitsafe"));
        assert!(contains_ci("anything", ""));
    }

    #[test]
    fn finds_byte_range_in_unicode_text() {
        // "Ä" is two bytes; the match after it must report byte offsets, not char offsets.
        assert_eq!(find_ci("Äbc-IBTC", "ibtc"), Some((5, 9)));
        assert_eq!(find_ci("ÜBER", "über"), Some((0, 5)));
        assert_eq!(find_ci("abc", "abcd"), None);
    }

    #[test]
    fn replace_keeps_the_rest_and_replaces_all() {
        assert_eq!(replace_ci("iBTC <> Acme", "ibtc", "cbtc"), "cbtc <> Acme");
        assert_eq!(replace_ci("ibtc-x-IBTC", "ibtc", "cbtc"), "cbtc-x-cbtc");
        assert_eq!(replace_ci("acme", "ibtc", "cbtc"), "acme");
    }

    #[test]
    fn replace_maps_positions_back_when_lower_case_changes_length() {
        // `İ` lower-cases to 3 bytes (i + U+0307), `ẞ` to 2 (ß): the lengths differ per char.
        assert_eq!(replace_ci("İxẞ", "X", "cbtc"), "İcbtcẞ");
        assert_eq!(replace_ci("ẞẞ iBTC İİ", "ibtc", "c"), "ẞẞ c İİ");
        assert_eq!(replace_ci("İİ", "i\u{307}", "j"), "jj");
        assert_eq!(find_ci("İxẞ", "ß"), Some((3, 6)));
    }

    #[test]
    fn terminal_safe_escapes_what_could_rewrite_the_screen() {
        assert_eq!(terminal_safe("acme"), "acme");
        assert!(matches!(terminal_safe("Ünïcödé <> 🚀"), Cow::Borrowed(_)));
        assert_eq!(terminal_safe("\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(
            terminal_safe("a\rb\nc\u{2028}d\u{202E}e\u{9b}"),
            "a\\u{d}b\\u{a}c\\u{2028}d\\u{202e}e\\u{9b}"
        );
        assert_eq!(
            terminal_safe_text("line 1\n\tline 2\r\x1b[2J"),
            "line 1\n\tline 2\\u{d}\\u{1b}[2J"
        );
    }
}
