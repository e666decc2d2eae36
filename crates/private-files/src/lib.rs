//! Files only their owner can read: files created `0600` and directories `0700` from the moment
//! they exist (the mode is given to `open`/`mkdir`, never applied afterwards), atomic writes through
//! a temporary file in the same directory, and removal of the temporary files a killed run left.
//!
//! Everything the tools write holds customer or personal data (reports, exports, snapshots, logs,
//! the database), so every file they create goes through here. Directories that already exist keep
//! their mode: only the ones created here are `0700`.
//!
//! A temporary file is named `.<final name>.<random>.partial` and holds an advisory lock while it is
//! open, so [`remove_stale_temps`] removes only what no running process is writing (it removes a
//! file under that lock, and a writer checks its file is still there once it holds the lock).

use std::ffi::OsString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use tempfile::NamedTempFile;

/// Mode of every file created here: read and write for the owner only.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory created here: the owner only.
pub const DIR_MODE: u32 = 0o700;

/// Suffix of the temporary files written here (and of the ones earlier versions wrote).
pub const TEMP_SUFFIX: &str = ".partial";

/// `mkdir -p` where every directory created gets [`DIR_MODE`]; existing ones are left as they are.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Creates the parent directory of `path` (see [`create_dir_all`]).
pub fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => create_dir_all(dir),
        None => Ok(()),
    }
}

/// Open options that create a missing file with [`FILE_MODE`]. A file that already exists keeps
/// its mode.
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// Opens `path` for appending (JSON-lines logs), creating it `0600` with its parent directories.
pub fn open_append(path: &Path) -> io::Result<File> {
    create_parent(path)?;
    options().create(true).append(true).open(path)
}

/// Creates `path` if it does not exist (`0600`), leaving an existing file's contents alone; for
/// files another program opens afterwards (the SQLite database gives its `-wal` and `-shm` files
/// the database file's mode).
pub fn ensure_file(path: &Path) -> io::Result<()> {
    create_parent(path)?;
    options().create(true).append(true).open(path).map(drop)
}

/// A new temporary file next to `dest` (`0600`, locked while open), for callers that need the
/// file itself (a zip writer seeks in it). `persist(dest)` moves it into place; dropped, it is
/// removed.
pub fn temp_for(dest: &Path) -> io::Result<NamedTempFile> {
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_dir_all(dir)?;
    let mut prefix = OsString::from(".");
    prefix.push(dest.file_name().unwrap_or_default());
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(TEMP_SUFFIX);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(FILE_MODE));
    // The lock tells `remove_stale_temps` of another run that this file is being written. That
    // run may have found the file in the moment between its creation and the lock, and removed
    // it (under its own lock, which `lock` waits for): then the file is made again.
    for _ in 0..3 {
        let tmp = builder.tempfile_in(dir)?;
        if tmp.as_file().lock().is_err() {
            // A filesystem without locks: only that protection is lost.
            return Ok(tmp);
        }
        if still_at_its_path(&tmp) {
            return Ok(tmp);
        }
    }
    Err(io::Error::other(format!(
        "temporary files in {} were removed as soon as they were made",
        dir.display()
    )))
}

/// Whether the temp file's path still names the file this process has open.
fn still_at_its_path(tmp: &NamedTempFile) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (
            std::fs::symlink_metadata(tmp.path()),
            tmp.as_file().metadata(),
        ) {
            (Ok(at_path), Ok(open)) => at_path.ino() == open.ino() && at_path.dev() == open.dev(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        tmp.path().exists()
    }
}

/// A file being written next to its final path; [`AtomicFile::commit`] renames it into place, so
/// readers see the old file or the whole new one. Dropped without commit, the temporary file is
/// removed.
pub struct AtomicFile {
    dest: PathBuf,
    writer: BufWriter<NamedTempFile>,
}

impl AtomicFile {
    /// Starts writing `dest` (parent directories are created `0700`).
    pub fn create(dest: &Path) -> io::Result<Self> {
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            writer: BufWriter::with_capacity(256 * 1024, temp_for(dest)?),
        })
    }

    /// The path the file will have once committed.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Renames the file into place without an fsync: a power cut may leave the old file (or an
    /// empty one on some filesystems); for files a rerun writes again.
    pub fn commit(self) -> io::Result<()> {
        self.finish(false)
    }

    /// Flushes the file to disk, then renames it into place: for files that must survive a power
    /// cut whole.
    pub fn commit_durable(self) -> io::Result<()> {
        self.finish(true)
    }

    fn finish(self, sync: bool) -> io::Result<()> {
        let tmp = self.writer.into_inner().map_err(|e| e.into_error())?;
        if sync {
            tmp.as_file().sync_all()?;
        }
        tmp.persist(&self.dest).map_err(|e| e.error)?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.writer.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// Writes `contents` to `path` atomically (see [`AtomicFile`]), durably.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(contents.as_ref())?;
    file.commit_durable()
}

/// Whether `name` is a temporary file of ours: `.<name>.<random>.partial` (this crate), and from
/// earlier versions `<file>.partial` of slack-export's `.txt`, `.json` and `.zip` files,
/// `.report-*.tmp` (report writers), `*.json.tmp` (insight snapshots) and `.insight.html.tmp`.
/// Narrow on purpose: `--out` may be a folder that other programs write to as well.
pub fn is_temp_name(name: &str) -> bool {
    (name.starts_with('.') && name.ends_with(TEMP_SUFFIX))
        || [".txt.partial", ".json.partial", ".zip.partial", ".json.tmp"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
        || (name.starts_with(".report-") && name.ends_with(".tmp"))
        || name == ".insight.html.tmp"
}

/// Removes the temporary files ([`is_temp_name`]) a killed run left in `dir` and, `depth` levels
/// down, in its subdirectories. A file another running process still writes (it holds its lock)
/// is left alone. A missing `dir` is nothing to clean. Returns the files removed.
pub fn remove_stale_temps(dir: &Path, depth: usize) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    remove_in(dir, depth, &mut removed)?;
    Ok(removed)
}

fn remove_in(dir: &Path, depth: usize, removed: &mut Vec<PathBuf>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            if depth > 0 {
                remove_in(&path, depth - 1, removed)?;
            }
            continue;
        }
        let is_temp = entry.file_name().to_str().is_some_and(is_temp_name);
        if is_temp && kind.is_file() && remove_unless_in_use(&path)? {
            removed.push(path);
        }
    }
    Ok(())
}

/// Removes `path` unless a running process holds its lock (it is writing it). The lock is held
/// while removing, so a writer that gets it afterwards finds its file gone (see [`temp_for`]).
fn remove_unless_in_use(path: &Path) -> io::Result<bool> {
    let _guard = match File::open(path) {
        Ok(file) => match file.try_lock() {
            Ok(()) => Some(file),
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            // A filesystem without locks: nothing tells a live file from a stale one.
            Err(std::fs::TryLockError::Error(_)) => None,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(_) => None,
    };
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        // Its writer renamed or removed it meanwhile.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
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
        let names: Vec<_> = std::fs::read_dir(dest.parent().expect("dir"))
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["out.txt"]);
    }

    #[cfg(unix)]
    #[test]
    fn created_files_and_dirs_are_owner_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("a/b");
        write(&nested.join("f.json"), "{}").expect("write");
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&nested.join("f.json")), 0o600);
        let log = dir.path().join("logs/run.jsonl");
        writeln!(open_append(&log).expect("open"), "{{}}").expect("append");
        assert_eq!(mode(&log), 0o600);
        let db = dir.path().join("db/x.db");
        ensure_file(&db).expect("ensure");
        assert_eq!(mode(&db), 0o600);
        let t = temp_for(&dir.path().join("z.zip")).expect("temp");
        assert_eq!(mode(t.path()), 0o600);
    }

    #[test]
    fn ensure_file_keeps_contents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.db");
        std::fs::write(&path, "data").expect("seed");
        ensure_file(&path).expect("ensure");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "data");
    }

    /// A cleaner that removed a temp file between its creation and its lock: the writer notices
    /// and writes to a new one.
    #[cfg(unix)]
    #[test]
    fn a_temp_file_removed_before_its_lock_is_noticed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmp = tempfile::Builder::new()
            .suffix(TEMP_SUFFIX)
            .tempfile_in(dir.path())
            .expect("temp");
        assert!(still_at_its_path(&tmp));
        std::fs::remove_file(tmp.path()).expect("removed by another run");
        assert!(!still_at_its_path(&tmp));
        // Same name, another file.
        std::fs::write(tmp.path(), "someone else's").expect("recreate");
        assert!(!still_at_its_path(&tmp));
    }

    #[test]
    fn temp_names() {
        for name in [
            "a.txt.partial",
            "slack-export.zip.partial",
            ".r.csv.x1Yz.partial",
            ".report-abc123.tmp",
            "U1-C1.json.tmp",
            ".insight.html.tmp",
        ] {
            assert!(is_temp_name(name), "{name}");
        }
        for name in [
            "report.csv",
            "notes.tmp",
            "movie.mkv.partial",
            ".other.html.tmp",
            "2025-01-01.json",
            "partial.txt",
            "insight.html",
        ] {
            assert!(!is_temp_name(name), "{name}");
        }
    }

    #[test]
    fn stale_temps_are_removed_but_live_ones_and_real_files_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("c1/deeper")).expect("mkdir");
        for f in [
            "a.txt.partial",
            ".report-xyz.tmp",
            "c1/2025-01-01.json.partial",
            "c1/deeper/.x.json.Ab12.partial",
        ] {
            std::fs::write(root.join(f), "stale").expect("plant");
        }
        std::fs::write(root.join("a.txt"), "real").expect("real");
        std::fs::write(root.join("c1/2025-01-01.json"), "[]").expect("real");
        let live = AtomicFile::create(&root.join("live.txt")).expect("live");

        let mut removed = remove_stale_temps(root, 1).expect("clean");
        removed.sort();
        assert_eq!(
            removed,
            [
                root.join(".report-xyz.tmp"),
                root.join("a.txt.partial"),
                root.join("c1/2025-01-01.json.partial"),
            ]
        );
        assert!(
            root.join("c1/deeper/.x.json.Ab12.partial").exists(),
            "beyond depth"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("a.txt")).expect("r"),
            "real"
        );
        assert!(root.join("c1/2025-01-01.json").exists());
        live.commit().expect("the live temp file was not removed");
        assert!(root.join("live.txt").exists());
        assert!(
            remove_stale_temps(&root.join("missing"), 3)
                .expect("missing dir")
                .is_empty()
        );
    }
}
