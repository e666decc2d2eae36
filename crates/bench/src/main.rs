//! Benchmarks that print ratios measured side by side in one run (wall time over the rate-limit
//! floor, our tool over a reference implementation), never absolute timings checked by tests.
//!
//! Run: `cargo build --release --workspace && target/release/bench all` (or one scenario by name).
//! Each scenario lives in its own module and prints a block of `name: value` lines.

// The benchmark's output is its figures on stdout.
#![allow(clippy::print_stdout)]

mod audit;
mod client;
mod export;
mod insight;
mod invite;
mod panel;
mod search;
mod sim;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Side-by-side benchmarks of the Slack Tools suite"
)]
struct Cli {
    /// Scenario to run: all, or one of the names listed by --help.
    #[arg(default_value = "all")]
    scenario: String,
}

type Scenario = fn() -> anyhow::Result<()>;

/// Every scenario, in the order `all` runs them. Add a line here for a new module.
const SCENARIOS: &[(&str, Scenario)] = &[
    ("audit", audit::run),
    ("client", client::run),
    ("export", export::run),
    ("insight", insight::run),
    ("invite", invite::run),
    ("panel", panel::run),
    ("search", search::run),
];

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut ran = 0;
    for (name, run) in SCENARIOS {
        if cli.scenario == "all" || cli.scenario == *name {
            println!("== {name}");
            run()?;
            ran += 1;
        }
    }
    if ran == 0 {
        let names: Vec<&str> = SCENARIOS.iter().map(|(n, _)| *n).collect();
        anyhow::bail!(
            "unknown scenario {:?}; choose all or one of {names:?}",
            cli.scenario
        );
    }
    Ok(())
}
