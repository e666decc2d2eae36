//! Output files: safe names from channel names, and writes that appear whole or not at all (a
//! temporary file renamed into place), so a killed run never leaves a half-written export file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A channel name as a file or folder name: no path separators, no `..`, no control characters,
/// nothing Windows refuses. Falls back to `fallback` (the channel ID) when nothing usable is left.
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
    } else {
        trimmed.to_string()
    }
}

fn sanitize_id(id: &str) -> String {
    let s: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if s.is_empty() { "channel".into() } else { s }
}

/// A file being written next to its final path; [`AtomicFile::commit`] renames it into place.
/// Dropped without commit, the temporary file is removed.
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> io::Result<Self> {
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut name = dest
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".partial");
        let tmp = dest.with_file_name(name);
        let file = File::create(&tmp)?;
        Ok(AtomicFile {
            tmp,
            dest: dest.to_path_buf(),
            writer: Some(BufWriter::with_capacity(256 * 1024, file)),
        })
    }

    pub fn commit(mut self) -> io::Result<()> {
        // No fsync: the rename alone makes a killed run leave the old file or the new one, and
        // every run re-renders its files from the spool, so a power cut costs a rerun, not data.
        if let Some(mut w) = self.writer.take() {
            w.flush()?;
        }
        std::fs::rename(&self.tmp, &self.dest)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl AtomicFile {
    fn inner(&mut self) -> io::Result<&mut BufWriter<File>> {
        // `writer` is only taken by `commit`, which consumes self.
        self.writer
            .as_mut()
            .ok_or_else(|| io::Error::other("output file already committed"))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner()?.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner()?.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner()?.flush()
    }
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
    fn atomic_file_appears_only_on_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("sub/out.txt");
        let mut f = AtomicFile::create(&dest).expect("create");
        f.write_all(b"hello").expect("write");
        assert!(!dest.exists());
        f.commit().expect("commit");
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "hello");
        let mut g = AtomicFile::create(&dest).expect("create");
        g.write_all(b"half").expect("write");
        drop(g);
        assert_eq!(std::fs::read_to_string(&dest).expect("read"), "hello");
        assert_eq!(
            std::fs::read_dir(dest.parent().expect("dir"))
                .expect("ls")
                .count(),
            1
        );
    }
}
