#!/usr/bin/env bash
# Stops the throwaway PostgreSQL cluster scripts/pg-start.sh started and deletes its directory
# (data, log, password). Which one: the directory given as argument, else $SLACK_TOOLS_PG_DIR.
# Prints `unset` lines for the variables pg-start.sh exported: eval "$(scripts/pg-stop.sh)".
set -euo pipefail

dir=${1:-${SLACK_TOOLS_PG_DIR:-}}
if [ -z "$dir" ]; then
  echo "pg-stop: error: no cluster to stop: SLACK_TOOLS_PG_DIR is not set" >&2
  echo "hint: run it in the shell that ran eval \"\$(scripts/pg-start.sh)\", or pass the directory" >&2
  exit 2
fi
# Only ever delete a directory pg-start.sh made (it holds its bindir file and a data directory).
if [ ! -f "$dir/bindir" ] || [ ! -d "$dir/data" ]; then
  echo "pg-stop: error: $dir is not a cluster directory made by scripts/pg-start.sh; not touching it" >&2
  echo "hint: pass the directory pg-start.sh printed as SLACK_TOOLS_PG_DIR" >&2
  exit 2
fi

bindir=$(cat "$dir/bindir")
as_server_user=()
[ "$(id -u)" = 0 ] && as_server_user=(runuser -u postgres --)
if [ -f "$dir/data/postmaster.pid" ]; then
  "${as_server_user[@]}" "$bindir/pg_ctl" stop -D "$dir/data" -m fast -w >/dev/null \
    || { echo "pg-stop: error: pg_ctl stop failed; the log is $dir/server.log (left in place)" >&2; exit 1; }
fi
rm -rf "$dir"
echo "pg-stop: stopped and removed $dir" >&2
echo "unset TEST_DATABASE_URL SLACK_TOOLS_PG_DIR TEST_DATABASE_SSLROOTCERT"
