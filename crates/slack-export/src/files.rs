//! Output files: safe names from channel and file names, where downloaded attachments live
//! ([`local_file_rel_path`]), and `--max-file-size` values. Files are written through
//! [`private_files::AtomicFile`] (owner-only, renamed into place whole), re-exported here.

use std::collections::HashMap;

use serde_json::Value;

pub use private_files::AtomicFile;

/// The folder downloaded files go to, under the export root.
pub const FILES_DIR: &str = "files";

/// Where file `file_id` named `name` (as Slack names it) is stored, relative to the export root:
/// `files/<ID>/<sanitised name>`. Every format links to this path; the one copy per file ID is
/// shared by all the messages that attach it.
pub fn local_file_rel_path(file_id: &str, name: &str) -> String {
    let id = sanitize_id(file_id);
    let name = shorten(&sanitize(name, &id), MAX_FILE_NAME_BYTES);
    format!("{FILES_DIR}/{id}/{name}")
}

/// Longest stored file name in bytes: file systems allow 255, and the temporary name a download
/// is written to adds a dot and a random suffix.
const MAX_FILE_NAME_BYTES: usize = 200;

/// `name` cut to at most `max` bytes at a character boundary, keeping a short extension.
fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let ext = name
        .rfind('.')
        .map(|i| &name[i..])
        .filter(|e| e.len() <= 16 && e.len() < max);
    let ext = ext.unwrap_or("");
    let mut cut = max - ext.len();
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = name[..cut].trim_end_matches(['.', ' ']);
    format!("{stem}{ext}")
}

/// Adds `local_path` beside the Slack URLs of every file of `message` that was downloaded
/// (`local` maps file IDs to [`local_file_rel_path`]s). Returns whether anything was added.
pub fn add_local_paths(message: &mut Value, local: &HashMap<String, String>) -> bool {
    let Some(files) = message.get_mut("files").and_then(Value::as_array_mut) else {
        return false;
    };
    let mut changed = false;
    for f in files {
        let path = f
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| local.get(id));
        if let (Some(path), Value::Object(obj)) = (path, &mut *f) {
            obj.insert("local_path".into(), Value::String(path.clone()));
            changed = true;
        }
    }
    changed
}

/// A `--max-file-size` value: bytes, or a number with `KB`/`MB`/`GB` (powers of 1000) or
/// `KiB`/`MiB`/`GiB` (powers of 1024), e.g. `20MB`, `1.5GiB`, `500000`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => return Err(format!("unknown unit {other:?}")),
    };
    let n: f64 = num.parse().map_err(|_| format!("{s:?} is not a size"))?;
    let bytes = n * factor;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(bytes as u64)
}

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
    fn local_paths_are_safe_and_under_files() {
        assert_eq!(local_file_rel_path("F1", "plan.pdf"), "files/F1/plan.pdf");
        assert_eq!(
            local_file_rel_path("F1/../x", "../../etc/passwd"),
            "files/F1x/_.._etc_passwd"
        );
        assert_eq!(local_file_rel_path("F2", ""), "files/F2/F2");
        assert_eq!(local_file_rel_path("F3", "con.txt"), "files/F3/con_.txt");
        // Over-long names (multi-byte too) are cut at a character boundary, extension kept.
        let long = format!("{}.pdf", "ü".repeat(300));
        let rel = local_file_rel_path("F4", &long);
        let name = rel.strip_prefix("files/F4/").expect("under the ID");
        assert!(name.len() <= 200 && name.ends_with("ü.pdf"), "{name}");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("20MB"), Ok(20_000_000));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        assert_eq!(parse_size("500"), Ok(500));
        assert_eq!(parse_size("2gb"), Ok(2_000_000_000));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn local_paths_go_beside_the_urls() {
        let mut m = serde_json::json!({"files": [{"id": "F1", "url_private": "u"}, {"id": "F2"}]});
        let local = HashMap::from([("F1".to_string(), "files/F1/a".to_string())]);
        assert!(add_local_paths(&mut m, &local));
        assert_eq!(m["files"][0]["local_path"], "files/F1/a");
        assert!(m["files"][1].get("local_path").is_none());
    }

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
