//! Files attached to messages, served as Slack serves them: at `url_private` /
//! `url_private_download` (`/files-pri/<TEAM>-<FILE_ID>/<name>`, here on the sim's own address),
//! only with the token in the `Authorization` header; without it Slack redirects to its sign-in
//! page, and so does the sim. Content is deterministic from the file ID and its `size`, so tests
//! can compare a download byte for byte ([`file_content`]).

use serde_json::Value;

use crate::model::{Workspace, str_field};

/// The path prefix of file URLs.
pub(crate) const FILES_PATH: &str = "/files-pri/";

/// The bytes the sim serves for file `id` whose object says `size`: a repeated line naming the
/// file and the offset, cut at `size` bytes.
pub fn file_content(id: &str, size: u64) -> Vec<u8> {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let mut out = Vec::with_capacity(size);
    let mut line = 0u64;
    while out.len() < size {
        let text = format!("slack-sim file {id} line {line:08}\n");
        let take = text.len().min(size - out.len());
        out.extend_from_slice(&text.as_bytes()[..take]);
        line += 1;
    }
    out
}

/// Whether a file object still has content: tombstones (`mode: "tombstone"`) and files hidden by
/// the plan's retention (`mode: "hidden_by_limit"`) have none.
pub(crate) fn has_content(file: &Value) -> bool {
    !matches!(
        str_field(file, "mode"),
        Some("tombstone" | "hidden_by_limit")
    )
}

/// The file object with `id` attached to any message, if it still has content.
pub(crate) fn find_file<'a>(ws: &'a Workspace, id: &str) -> Option<&'a Value> {
    ws.channels
        .iter()
        .flat_map(|c| c.messages.iter())
        .filter_map(|m| m.get("files").and_then(Value::as_array))
        .flatten()
        .find(|f| str_field(f, "id") == Some(id) && has_content(f))
}

/// Points every file URL (`url_private`, `url_private_download`) under [`FILES_PATH`] at `origin`
/// (`http://127.0.0.1:PORT`), whatever host the stored workspace names: the generator writes
/// Slack's host, the sim serves them itself.
pub(crate) fn point_file_urls(ws: &mut Workspace, origin: &str) {
    for c in &mut ws.channels {
        for m in &mut c.messages {
            let Some(files) = m.get_mut("files").and_then(Value::as_array_mut) else {
                continue;
            };
            for f in files {
                for key in ["url_private", "url_private_download"] {
                    let Some(url) = f.get(key).and_then(Value::as_str) else {
                        continue;
                    };
                    if let Some(at) = url.find(FILES_PATH) {
                        let local = format!("{origin}{}", &url[at..]);
                        if local != url {
                            f[key] = Value::String(local);
                        }
                    }
                }
            }
        }
    }
}

/// The file ID a `/files-pri/<TEAM>-<FILE_ID>/...` path names.
pub(crate) fn file_id_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(FILES_PATH)?;
    let first = rest.split('/').next()?;
    let (_, id) = first.split_once('-')?;
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_deterministic_and_sized() {
        assert_eq!(file_content("F1", 0), b"");
        let a = file_content("F1", 100);
        assert_eq!(a.len(), 100);
        assert_eq!(a, file_content("F1", 100));
        assert_ne!(a, file_content("F2", 100));
        assert!(a.starts_with(b"slack-sim file F1 line 00000000\n"));
    }

    #[test]
    fn file_ids_from_paths() {
        assert_eq!(file_id_of("/files-pri/T0A-F0B/x.pdf"), Some("F0B"));
        assert_eq!(file_id_of("/files-pri/T0A-F0B/download/x.pdf"), Some("F0B"));
        assert_eq!(file_id_of("/files-pri/T0A/x.pdf"), None);
        assert_eq!(file_id_of("/api/x"), None);
    }
}
