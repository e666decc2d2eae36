//! Case-insensitive text helpers shared by scope, category and rename matching.
//!
//! Telegram titles are arbitrary Unicode, so matching folds case per character instead of
//! assuming ASCII, and replacement keeps the untouched parts of the name byte-for-byte.

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
}
