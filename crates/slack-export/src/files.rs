//! Output files: safe names from channel names. Files are written through
//! [`private_files::AtomicFile`] (owner-only, renamed into place whole), re-exported here.

pub use private_files::AtomicFile;

/// A channel name as a file or folder name: no path separators, no `..`, no control characters,
/// nothing Windows refuses (its reserved device names such as `CON` or `com1.txt` get a `_` after
/// the name part). Falls back to `fallback` (the channel ID) when nothing usable is left.
pub fn sanitize(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    // Leading dots would hide the file or name `.`/`..`; trailing dots and spaces Windows drops.
    let trimmed = cleaned
        .trim_start_matches(['.', ' '])
        .trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        sanitize_id(fallback)
    } else if is_windows_device_name(trimmed) {
        // `con` -> `con_`, `nul.old` -> `nul_.old`: the part before the first dot is what Windows
        // matches (the folder, or the file once `.txt` is added).
        match trimmed.split_once('.') {
            Some((stem, rest)) => format!("{stem}_.{rest}"),
            None => format!("{trimmed}_"),
        }
    } else {
        trimmed.to_string()
    }
}

/// Whether Windows reads `name` as a device (CON, PRN, AUX, NUL, COM0-9, LPT0-9, also with the
/// superscript digits ¹²³), ignoring case, an extension and spaces before it: `nul.txt` and
/// `Com1 .json` open the device, not a file.
fn is_windows_device_name(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    if matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL") {
        return true;
    }
    match upper
        .strip_prefix("COM")
        .or_else(|| upper.strip_prefix("LPT"))
    {
        Some(n) => {
            let mut chars = n.chars();
            matches!(
                (chars.next(), chars.next()),
                (Some('0'..='9' | '¹' | '²' | '³'), None)
            )
        }
        None => false,
    }
}

fn sanitize_id(id: &str) -> String {
    let s: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if s.is_empty() { "channel".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_separators_dots_and_controls() {
        assert_eq!(sanitize("acme", "C1"), "acme");
        assert_eq!(sanitize("../../etc/passwd", "C1"), "_.._etc_passwd");
        assert_eq!(sanitize("..", "C1"), "C1");
        assert_eq!(sanitize("a\\b/c\u{0}d\ne", "C1"), "a_b_c_d_e");
        assert_eq!(sanitize("  .hidden. ", "C1"), "hidden");
        assert_eq!(sanitize("", "D0/12"), "D012");
        assert_eq!(sanitize("größe-ü", "C1"), "größe-ü");
    }

    #[test]
    fn windows_device_names_get_an_underscore() {
        for (name, safe) in [
            ("CON", "CON_"),
            ("con", "con_"),
            ("Nul", "Nul_"),
            ("aux.txt", "aux_.txt"),
            ("prn.tar.gz", "prn_.tar.gz"),
            ("com1", "com1_"),
            ("LPT9", "LPT9_"),
            ("COM¹", "COM¹_"),
            ("nul .txt", "nul _.txt"),
        ] {
            assert_eq!(sanitize(name, "C1"), safe, "{name}");
        }
        for name in [
            "console",
            "com10",
            "lpt",
            "nul-ops",
            "auxiliary",
            "acon",
            "com1-team",
        ] {
            assert_eq!(sanitize(name, "C1"), name, "{name}");
        }
    }
}
