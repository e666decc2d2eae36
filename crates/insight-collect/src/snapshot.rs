//! Raw API payloads kept for audit as gzip JSON files under `<out>/insight-raw/<day>/`, scrubbed
//! before they are written (opted-out users removed, text dropped unless kept) and rewritten when
//! a user is purged.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::Value;

/// Keys that carry message text (or content derived from it).
const TEXT_KEYS: &[&str] = &["text", "blocks", "attachments", "files"];

/// The snapshot directory under `--out`.
pub fn root(out: &Path) -> PathBuf {
    out.join("insight-raw")
}

/// Removes everything about the `drop` users from `v`: objects whose `user` or `id` is one of them
/// disappear from their array, other string values naming them are nulled, list entries naming
/// them are removed, `<@ID>` mentions are redacted. Without `keep_text`, text keys are removed.
/// Returns false when `v` itself is an object about a dropped user.
pub fn scrub(v: &mut Value, drop: &HashSet<String>, keep_text: bool) -> bool {
    match v {
        Value::Object(map) => {
            for key in ["user", "id"] {
                if map
                    .get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|s| drop.contains(s))
                {
                    return false;
                }
            }
            if !keep_text {
                for k in TEXT_KEYS {
                    map.remove(*k);
                }
            }
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(s) if drop.contains(s.as_str()) => *child = Value::Null,
                    Value::String(s) if key == "text" => *s = crate::sync::redact_mentions(s, drop),
                    _ => {
                        if !scrub(child, drop, keep_text) {
                            *child = Value::Null;
                        }
                    }
                }
            }
            true
        }
        Value::Array(items) => {
            items.retain_mut(|item| match item {
                Value::String(s) => !drop.contains(s.as_str()),
                _ => scrub(item, drop, keep_text),
            });
            true
        }
        _ => true,
    }
}

/// Writes `value` gzip-compressed to `path` (via a temp file, so a kill leaves no half file),
/// owner-only like everything holding workspace data.
pub fn write_gz(path: &Path, value: &Value) -> std::io::Result<()> {
    let file = private_files::AtomicFile::create(path)?;
    let mut gz = GzEncoder::new(file, Compression::fast());
    serde_json::to_writer(&mut gz, value)?;
    let mut file = gz.finish()?;
    file.flush()?;
    file.commit()
}

/// Reads a gzip JSON snapshot.
pub fn read_gz(path: &Path) -> std::io::Result<Value> {
    let mut text = String::new();
    GzDecoder::new(std::fs::File::open(path)?).read_to_string(&mut text)?;
    Ok(serde_json::from_str(&text)?)
}

/// Every snapshot file, with the day directory it sits in.
pub fn files(out: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut found = Vec::new();
    let root = root(out);
    if !root.exists() {
        return Ok(found);
    }
    for day in std::fs::read_dir(&root)? {
        let day = day?;
        if !day.file_type()?.is_dir() {
            continue;
        }
        let name = day.file_name().to_string_lossy().to_string();
        for f in std::fs::read_dir(day.path())? {
            let f = f?.path();
            if f.extension().is_some_and(|e| e == "gz") {
                found.push((name.clone(), f));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Deletes snapshot day directories older than `before_day` (YYYY-MM-DD); returns files removed.
pub fn prune(out: &Path, before_day: &str) -> std::io::Result<usize> {
    let mut removed = 0;
    let mut dirs = HashSet::new();
    for (day, path) in files(out)? {
        if day.as_str() < before_day {
            std::fs::remove_file(&path)?;
            removed += 1;
            if let Some(d) = path.parent() {
                dirs.insert(d.to_path_buf());
            }
        }
    }
    for d in dirs {
        // Only empty directories go; a failure here leaves an empty directory, nothing else.
        let _ = std::fs::remove_dir(d);
    }
    Ok(removed)
}

/// Deletes the snapshots of one channel (its opt-in was revoked); returns files removed.
pub fn remove_channel(out: &Path, channel_id: &str) -> std::io::Result<usize> {
    let suffix = format!("-{channel_id}.json.gz");
    let mut removed = 0;
    for (_, path) in files(out)? {
        if path.to_string_lossy().ends_with(&suffix) {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Rewrites every snapshot without `user_id`; returns how many files changed.
pub fn purge_user(out: &Path, user_id: &str, keep_text: bool) -> std::io::Result<usize> {
    let drop: HashSet<String> = [user_id.to_string()].into();
    Ok(purge_users(out, &drop, keep_text, false)?.len())
}

/// Rewrites every snapshot that holds one of `drop` without them (with `dry_run`, only finds
/// them); returns those files. A file left with nothing but its shape is still rewritten, not
/// removed: the run's other files refer to the same run.
pub fn purge_users(
    out: &Path,
    drop: &HashSet<String>,
    keep_text: bool,
    dry_run: bool,
) -> std::io::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for (_, path) in files(out)? {
        let before = read_gz(&path)?;
        let mut after = before.clone();
        if !scrub(&mut after, drop, keep_text) {
            after = Value::Null;
        }
        if after != before {
            if !dry_run {
                write_gz(&path, &after)?;
            }
            changed.push(path);
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrub_drops_users_everywhere_and_text() {
        let drop: HashSet<String> = ["U9".to_string()].into();
        let mut v = json!({"members": ["U1", "U9"], "messages": [
            {"user": "U9", "ts": "1.0", "text": "secret"},
            {"user": "U1", "ts": "2.0", "text": "hi <@U9>", "parent_user_id": "U9",
             "reactions": [{"name": "eyes", "users": ["U9", "U2"], "count": 2}], "reply_users": ["U9"]}]});
        scrub(&mut v, &drop, false);
        let text = v.to_string();
        assert!(!text.contains("U9"), "{text}");
        assert!(!text.contains("hi"), "{text}");
        assert_eq!(v["messages"].as_array().map(Vec::len), Some(1));
        let mut with_text = json!({"user": "U1", "text": "hi <@U9>"});
        scrub(&mut with_text, &drop, true);
        assert_eq!(with_text["text"], "hi <@redacted>");
    }
}
