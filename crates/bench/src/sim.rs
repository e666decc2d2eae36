//! Helpers shared by scenarios: run a release `slack-sim` as a separate process (so the tool and the
//! server do not share a runtime) and read its request log.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

/// A slack-sim child process; killed on drop.
pub struct SimProcess {
    pub child: Child,
    pub base_url: String,
    pub log: PathBuf,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory holding the release binaries (next to this bench binary).
pub fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

/// Starts `slack-sim` with `args` (plus `--listen 127.0.0.1:0 --log <log>`), waits for its
/// `listening on` line and returns the base URL.
pub fn start(args: &[&str], log: &Path) -> anyhow::Result<SimProcess> {
    let exe = bin_dir().join("slack-sim");
    let mut child = Command::new(&exe)
        .args(["--listen", "127.0.0.1:0", "--log"])
        .arg(log)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| {
            format!(
                "starting {} (build with cargo build --release --workspace)",
                exe.display()
            )
        })?;
    let stdout = child.stdout.take().context("sim stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let Some(url) = line.trim().strip_prefix("listening on ") else {
        bail!("slack-sim did not print its address, got {line:?}");
    };
    Ok(SimProcess {
        base_url: url.to_string(),
        child,
        log: log.to_path_buf(),
    })
}

/// Request records from the sim's JSON-lines log.
pub fn read_log(path: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Ok(serde_json::from_str(l)?))
        .collect()
}
