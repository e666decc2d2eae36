# Recipes for common tasks; each is a plain command you can also type.

# Run the whole test suite (what CI runs).
test:
    cargo test --workspace

# The weekly audit against the built-in demo workspace.
demo:
    cargo run --release --bin slack-audit -- --demo

# Benchmarks: ratios measured side by side in one run (see README).
bench scenario="all":
    cargo build --release --workspace
    target/release/bench {{scenario}}

# Shell completions and man pages for every tool into output/share/.
completions:
    cargo build --release --bins
    mkdir -p output/share/completions output/share/man
    for bin in slack-audit add-members slack-export tg-admin insight-sync insight-report slack-sim; do \
        if [ -x target/release/$bin ]; then \
            for sh in bash zsh fish; do target/release/$bin --generate-completions $sh > output/share/completions/$bin.$sh; done; \
            target/release/$bin --generate-man output/share/man; \
        fi; \
    done

# slack-sim conformance against Slack's own Python SDK.
conformance:
    cargo build -p slack-sim
    python3 -m pip install --quiet slack_sdk
    python3 scripts/sdk_conformance.py target/debug/slack-sim
