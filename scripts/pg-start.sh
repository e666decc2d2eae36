#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests (initdb in a temporary directory, a loopback
# port, a test role), the way crates.io's CI does, and prints the shell lines to use it:
#
#   eval "$(scripts/pg-start.sh)"      # exports TEST_DATABASE_URL and SLACK_TOOLS_PG_DIR
#   cargo test --workspace
#   scripts/pg-stop.sh                 # stops it and deletes the directory
#
# --install: install Debian's `postgresql` package when the server binaries are missing (CI does).
# Only the export lines go to stdout; everything else goes to stderr. Exit 1 when no server can be
# started (CI must fail, not skip), 2 on a bad argument.
set -euo pipefail

ROLE=slack_tools_test

say() { echo "pg-start: $*" >&2; }
die() {
  say "error: $1"
  [ -n "${2:-}" ] && echo "hint: $2" >&2
  exit 1
}

install=false
for arg in "$@"; do
  case "$arg" in
    --install) install=true ;;
    -h | --help)
      sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
      exit 0
      ;;
    *)
      echo "pg-start: error: unknown argument '$arg'" >&2
      echo "hint: the only option is --install (install Debian's postgresql package if missing)" >&2
      exit 2
      ;;
  esac
done

# Already running (called twice in one shell): reuse it.
if [ -n "${SLACK_TOOLS_PG_DIR:-}" ] && [ -f "$SLACK_TOOLS_PG_DIR/env.sh" ] \
  && [ -f "$SLACK_TOOLS_PG_DIR/data/postmaster.pid" ]; then
  bindir=$(cat "$SLACK_TOOLS_PG_DIR/bindir")
  port=$(sed -n 's/^port=//p' "$SLACK_TOOLS_PG_DIR/port")
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
    say "a test cluster is already running in $SLACK_TOOLS_PG_DIR (port $port); reusing it"
    cat "$SLACK_TOOLS_PG_DIR/env.sh"
    exit 0
  fi
fi

# Debian's server binaries (the postgresql-NN package), highest version first.
find_bindir() {
  local initdb
  initdb=$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$initdb" ] && dirname "$initdb"
}

bindir=$(find_bindir || true)
if [ -z "$bindir" ]; then
  if $install; then
    say "PostgreSQL server not found; installing Debian's postgresql package"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2 \
      || die "could not install the postgresql package" \
        "run 'apt-get install postgresql' as root and look at its error"
    bindir=$(find_bindir || true)
    [ -n "$bindir" ] || die "the postgresql package is installed but /usr/lib/postgresql/*/bin/initdb is missing" \
      "reinstall it: apt-get install --reinstall postgresql"
  else
    die "no PostgreSQL server found (looked for /usr/lib/postgresql/*/bin/initdb)" \
      "install it: sudo apt-get install postgresql (or run: scripts/pg-start.sh --install as root)"
  fi
fi
say "using $("$bindir/postgres" --version)"

# initdb and the server refuse to run as root: as root they run as the `postgres` OS user (created by
# the Debian package), in a directory it owns.
as_server_user=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 \
    || die "running as root, but there is no 'postgres' user to run the server as" \
      "install Debian's postgresql package (it creates the user) or run this as a normal user"
  as_server_user=(runuser -u postgres --)
  # Under /tmp whatever TMPDIR says: the postgres user must be able to reach it.
  dir=$(mktemp -d /tmp/slack-tools-pg.XXXXXX)
  chown postgres: "$dir"
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/slack-tools-pg.XXXXXX")
fi
chmod 700 "$dir"

started=false
cleanup_on_failure() {
  local rc=$?
  if [ "$rc" != 0 ]; then
    if [ -f "$dir/server.log" ]; then
      say "server log ($dir/server.log):"
      sed 's/^/  | /' "$dir/server.log" >&2
    fi
    if $started; then
      "${as_server_user[@]}" "$bindir/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
  fi
}
trap cleanup_on_failure EXIT

# A free loopback port: let the kernel pick one (the tiny race with another process is reported
# below as a failed start with the server's log).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || true)
if [ -z "$port" ]; then
  # No python3: the first port from 54329 upwards that nothing answers on.
  port=54329
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
fi

# Hex: safe in a URL without escaping.
password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')

say "initdb in $dir/data"
"${as_server_user[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C \
  --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; die "initdb failed (its output is above)"; }

# The unix socket lives in the private directory, so `trust` on it admits only its owner (and root):
# it is how this script creates the role. TCP on loopback needs the role's password.
cat >"$dir/pg_hba.conf.new" <<'EOF'
local all all                trust
host  all all 127.0.0.1/32   scram-sha-256
EOF
cat >"$dir/postgresql.conf.new" <<EOF

# slack-tools test cluster: throwaway, so durability is traded for speed.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
# TLS, so the tests can check sslmode=require with sslrootcert: a throwaway CA and a server
# certificate for 127.0.0.1 signed by it (rustls refuses a self-signed CA as the server's own
# certificate). Without openssl the server runs without TLS and that test skips.
ssl_root=""
if $install && ! command -v openssl >/dev/null 2>&1; then
  say "openssl not found; installing Debian's openssl package (for the TLS test certificates)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null) >&2 \
    || say "could not install openssl; the server runs without TLS"
fi
if command -v openssl >/dev/null 2>&1; then
  mkdir -p "$dir/tls"
  if (
    cd "$dir/tls" &&
    openssl req -x509 -new -nodes -newkey rsa:2048 -days 2 -subj "/CN=slack-tools test CA" \
      -keyout ca.key -out ca.crt &&
    openssl req -new -nodes -newkey rsa:2048 -subj "/CN=127.0.0.1" -keyout server.key -out server.csr &&
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile ext.cnf -out server.crt
  ) >"$dir/tls.log" 2>&1; then
    chmod 600 "$dir/tls/server.key"
    [ -n "${as_server_user[*]}" ] && chown postgres "$dir/tls/server.key" "$dir/tls/server.crt"
    printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" \
      "$dir/tls/server.crt" "$dir/tls/server.key" >>"$dir/postgresql.conf.new"
    ssl_root="$dir/tls/ca.crt"
  else
    say "openssl could not make a test certificate; the server runs without TLS ($dir/tls.log)"
  fi
fi
"${as_server_user[@]}" sh -c 'cat "$1/pg_hba.conf.new" >"$1/data/pg_hba.conf" &&
  cat "$1/postgresql.conf.new" >>"$1/data/postgresql.conf"' sh "$dir"
rm -f "$dir/pg_hba.conf.new" "$dir/postgresql.conf.new"

say "starting the server on 127.0.0.1:$port"
started=true
"${as_server_user[@]}" "$bindir/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -t 60 >/dev/null \
  || die "the server did not start (its log follows)"

ready=false
for _ in $(seq 1 60); do
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    ready=true
    break
  fi
  sleep 0.5
done
$ready || die "the server does not accept connections on 127.0.0.1:$port (its log follows)"

# The test role: no superuser, may create databases (each test makes its own). Its password goes
# through stdin, never a command line. The `postgres` database's public schema is opened to it too,
# for a test that uses the URL's database as it is.
"${as_server_user[@]}" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
  >/dev/null <<EOF || die "could not create the test role $ROLE"
CREATE ROLE $ROLE LOGIN CREATEDB NOSUPERUSER PASSWORD '$password';
GRANT ALL ON SCHEMA public TO $ROLE;
EOF

url="postgres://$ROLE:$password@127.0.0.1:$port/postgres"
# Saved for a second call and for pg-stop.sh; readable by this user only.
(
  umask 077
  printf 'export TEST_DATABASE_URL=%s\nexport SLACK_TOOLS_PG_DIR=%s\n' "$url" "$dir" >"$dir/env.sh"
  [ -z "$ssl_root" ] || printf 'export TEST_DATABASE_SSLROOTCERT=%s\n' "$ssl_root" >>"$dir/env.sh"
  echo "$bindir" >"$dir/bindir"
  echo "port=$port" >"$dir/port"
)
say "ready: $ROLE@127.0.0.1:$port/postgres (data in $dir; stop with scripts/pg-stop.sh)"
cat "$dir/env.sh"
