//! What every tool does for the files it writes: an owner-only umask from the start, and removal
//! of the temporary files a killed run left.

use std::path::Path;

use anyhow::Context as _;

/// Sets the process umask to `077`, so a file or directory created anywhere in the run (by us, by
/// SQLite, by a dependency) is its owner's only, whatever the login shell's umask. Defense in
/// depth: the files the tools write are created `0600` by `private-files` in any case. Call it
/// first thing in `main`.
pub fn owner_only_umask() {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        rustix::process::umask(Mode::from_raw_mode(0o077));
    }
}

/// Removes the temporary files a killed run left in `dir` and `depth` levels of subdirectories
/// (see `private_files::remove_stale_temps`; files a running process writes are kept), and says
/// so on stderr when there were any.
pub fn remove_stale_temps(dir: &Path, depth: usize) -> anyhow::Result<()> {
    let removed = private_files::remove_stale_temps(dir, depth)
        .with_context(|| format!("removing temporary files in {}", dir.display()))?;
    if !removed.is_empty() {
        tracing::info!(
            files = removed.len(),
            "removed temporary files an interrupted run left in {}",
            dir.display()
        );
    }
    Ok(())
}
