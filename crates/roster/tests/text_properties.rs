//! Property tests of the text helpers that see Telegram titles and Slack names: case-insensitive
//! find/replace and terminal-safe escaping never panic, keep what they must and drop nothing else.

use proptest::prelude::*;
use roster::text::{
    contains_ci, find_ci, is_terminal_unsafe, replace_ci, terminal_safe, terminal_safe_text,
};

/// Characters whose lower case has another length or several chars (`İ` → `i̇`, `ẞ` → `ß`),
/// final-sigma and combining marks, controls and separators, mixed with arbitrary ones.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            'İ', 'i', 'I', '\u{307}', 'ẞ', 'ß', 's', 'S', 'Σ', 'σ', 'ς', 'x', 'X', 'K', '\u{212A}',
            'Å', '\u{212B}', 'ǅ', 'ﬃ', '\x1b', '\r', '\n', '\t', '\u{2028}', '\u{2029}', '\u{202E}',
            '\u{9b}', '\u{7f}', ' ',
        ]),
        1 => any::<char>(),
    ]
}

fn tricky_string(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..max).prop_map(String::from_iter)
}

/// Lower case per character, as the matcher folds it.
fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A match is reported in the haystack's own byte positions: on char boundaries, and the
    /// matched original text folds to the folded needle.
    #[test]
    fn find_reports_original_positions(hay in tricky_string(12), needle in tricky_string(4)) {
        if let Some((start, end)) = find_ci(&hay, &needle) {
            prop_assert!(hay.is_char_boundary(start) && hay.is_char_boundary(end));
            prop_assert_eq!(fold(&hay[start..end]), fold(&needle));
        }
        prop_assert_eq!(contains_ci(&hay, &needle), find_ci(&hay, &needle).is_some());
    }

    /// Replacing never panics; with a marker as the replacement, the text between markers
    /// holds no further match (every match was replaced), the text outside the matches is kept
    /// byte for byte at both ends, and there is a marker exactly when there was a match.
    #[test]
    fn replace_swaps_every_match_and_keeps_the_rest(
        hay in tricky_string(12),
        needle in tricky_string(4),
    ) {
        const MARK: char = '\u{E000}';
        prop_assume!(!needle.is_empty() && !hay.contains(MARK) && !needle.contains(MARK));
        let out = replace_ci(&hay, &needle, &MARK.to_string());
        let pieces: Vec<&str> = out.split(MARK).collect();
        for piece in &pieces {
            prop_assert!(!contains_ci(piece, &needle), "{:?} left in {:?}", needle, out);
        }
        prop_assert!(hay.starts_with(pieces[0]));
        prop_assert!(hay.ends_with(pieces[pieces.len() - 1]));
        prop_assert_eq!(pieces.len() > 1, contains_ci(&hay, &needle));
        if pieces.len() == 1 {
            prop_assert_eq!(out, hay);
        }
    }

    /// Nothing that could steer a terminal survives, and text without such characters is
    /// returned unchanged.
    #[test]
    fn terminal_safe_leaves_no_control_characters(s in tricky_string(24)) {
        let one_line = terminal_safe(&s);
        prop_assert!(!one_line.chars().any(is_terminal_unsafe), "{:?}", one_line);
        let text = terminal_safe_text(&s);
        prop_assert!(
            !text.chars().any(|c| is_terminal_unsafe(c) && c != '\n' && c != '\t'),
            "{:?}", text
        );
        // Line structure is kept in the multi-line form.
        prop_assert_eq!(text.matches('\n').count(), s.matches('\n').count());
        if !s.chars().any(is_terminal_unsafe) {
            prop_assert_eq!(one_line.as_ref(), s.as_str());
        }
        // Each unsafe character becomes its `\u{..}` escape; the rest is kept in order.
        let rebuilt: String = s
            .chars()
            .map(|c| if is_terminal_unsafe(c) { c.escape_unicode().to_string() } else { c.to_string() })
            .collect();
        prop_assert_eq!(one_line.as_ref(), rebuilt.as_str());
    }
}
