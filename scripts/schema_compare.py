#!/usr/bin/env python3
"""Checks that the PostgreSQL migrations build the same schema as the SQLite ones.

Builds a SQLite database from crates/store/migrations/NN_name.sql, in the order the store's
migrations.rs lists them, and a fresh PostgreSQL database (created here, dropped at the end) from
crates/store/migrations/postgres/V<n>__name.sql with psql, one transaction per file as refinery runs
them. Then compares, table by table: the column names in order, their types (INTEGER -> bigint, REAL
-> double precision, TEXT -> text with collation "C", BLOB -> bytea), NOT NULL, defaults, identity
ids, primary keys, UNIQUE constraints, foreign keys with their ON DELETE, the number of CHECKs, and
every index (name, table, columns, order, uniqueness).

Known differences that are not reported: SQLite's FTS5 table search_fts and its shadow tables, and
PostgreSQL's search_messages.tsv column with its GIN index search_messages_tsv (the full-text index
of each backend).

Usage: TEST_DATABASE_URL=postgres://user:pass@host:port/db scripts/schema_compare.py
(the role needs CREATEDB; scripts/pg-start.sh makes such a cluster). Exit 0 when the schemas match,
1 when they differ or a migration fails, 2 when TEST_DATABASE_URL is missing.
"""

import glob
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from urllib.parse import parse_qsl, unquote, urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIGRATIONS = os.path.join(ROOT, "crates", "store", "migrations")
MIGRATIONS_RS = os.path.join(ROOT, "crates", "store", "src", "migrations.rs")
PG_MIGRATIONS = os.path.join(MIGRATIONS, "postgres")

SQLITE_ONLY_TABLE_PREFIX = "search_fts"  # FTS5 and its shadow tables
PG_ONLY_COLUMNS = {("search_messages", "tsv")}
PG_ONLY_INDEXES = {"search_messages_tsv"}
# INTEGER PRIMARY KEY tables whose id the code computes: plain BIGINT keys, not identity columns.
CODE_SUPPLIED_IDS = {"search_messages", "slack_connection"}

TYPE_MAP = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}
ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
SEP = "\x1f"


def fail(message, hint=None, code=1):
    print(f"schema_compare: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    sys.exit(code)


def migration_files():
    """The SQLite migrations in the order migrations.rs applies them, and their Postgres twins."""
    with open(MIGRATIONS_RS, encoding="utf-8") as f:
        listed = re.findall(r'include_str!\("\.\./migrations/([^"/]+\.sql)"\)', f.read())
    if not listed:
        fail(f"no migrations found in {MIGRATIONS_RS}")
    problems = []
    pairs = []
    for number, name in enumerate(listed, start=1):
        stem = re.sub(r"^\d+_", "", name[: -len(".sql")])
        twin = f"V{number}__{stem}.sql"
        if not os.path.exists(os.path.join(PG_MIGRATIONS, twin)):
            problems.append(f"{name} (migration {number}) has no PostgreSQL twin {PG_MIGRATIONS}/{twin}")
        pairs.append((os.path.join(MIGRATIONS, name), os.path.join(PG_MIGRATIONS, twin)))
    expected = {os.path.basename(p) for _, p in pairs}
    for extra in sorted(set(map(os.path.basename, glob.glob(os.path.join(PG_MIGRATIONS, "*.sql")))) - expected):
        problems.append(f"{PG_MIGRATIONS}/{extra} matches no SQLite migration in migrations.rs")
    return pairs, problems


def strip_comments(sql):
    return re.sub(r"--[^\n]*", "", sql)


def sqlite_schema(files):
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "compare.db"))
        db.execute("PRAGMA foreign_keys = ON")
        for path in files:
            with open(path, encoding="utf-8") as f:
                sql = f.read()
            if sqlite3.sqlite_version_info < (3, 42, 0):
                # FTS5's 'secure-delete' option (SQLite 3.42) is unknown to an older Python's
                # SQLite; the store's bundled SQLite has it. It changes no table or column.
                sql = re.sub(r"INSERT INTO \w+ \(\w+, rank\) VALUES \('secure-delete', 1\);", "", sql)
            try:
                db.executescript(sql)
            except sqlite3.Error as e:
                fail(f"{path} fails on SQLite {sqlite3.sqlite_version}: {e}")
        tables = {}
        for (table, sql) in db.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ):
            if table.startswith(SQLITE_ONLY_TABLE_PREFIX):
                continue
            cols = []
            pk = []
            for _cid, name, ctype, notnull, default, pk_pos in db.execute(f"PRAGMA table_info('{table}')"):
                cols.append(
                    {
                        "name": name,
                        "type": TYPE_MAP.get(ctype.upper(), f"? {ctype}"),
                        "notnull": bool(notnull) or pk_pos > 0,
                        "default": default,
                    }
                )
                if pk_pos:
                    pk.append((pk_pos, name))
            pk = [name for _, name in sorted(pk)]
            rowid_alias = len(pk) == 1 and next(c for c in cols if c["name"] == pk[0])["type"] == "bigint"
            for c in cols:
                c["identity"] = rowid_alias and c["name"] == pk[0] and table not in CODE_SUPPLIED_IDS
            uniques = set()
            for _seq, index, _unique, origin, _partial in db.execute(f"PRAGMA index_list('{table}')"):
                if origin == "u":
                    uniques.add(tuple(r[2] for r in db.execute(f"PRAGMA index_info('{index}')")))
            fks = set()
            groups = {}
            for fk_id, _seq, ref, frm, to, _upd, on_delete, _match in db.execute(
                f"PRAGMA foreign_key_list('{table}')"
            ):
                groups.setdefault(fk_id, (ref, on_delete, []))[2].append((frm, to))
            for ref, on_delete, cols_ in groups.values():
                fks.add((tuple(c[0] for c in cols_), ref, tuple(c[1] for c in cols_), on_delete))
            checks = len(re.findall(r"\bCHECK\s*\(", strip_comments(sql), re.IGNORECASE))
            tables[table] = {"columns": cols, "pk": pk, "uniques": uniques, "fks": fks, "checks": checks}
        indexes = {}
        for name, table in db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"):
            unique = db.execute(
                "SELECT \"unique\" FROM pragma_index_list(?) WHERE name = ?", (table, name)
            ).fetchone()[0]
            cols = tuple(
                r[2] + (" DESC" if r[3] else "")
                for r in db.execute(f"PRAGMA index_xinfo('{name}')")
                if r[5]  # key columns only (not the rowid / primary key tail)
            )
            indexes[name] = (table, cols, bool(unique))
        db.close()
        return tables, indexes


class Postgres:
    """psql against a server; the password goes through the environment, never a command line."""

    def __init__(self, url):
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql") or not parts.hostname:
            fail("TEST_DATABASE_URL is not a postgres://user:password@host:port/database URL", code=2)
        self.env = dict(os.environ)
        for key in list(self.env):
            if key.startswith("PG"):
                del self.env[key]
        self.env.update(
            PGHOST=parts.hostname,
            PGPORT=str(parts.port or 5432),
            PGUSER=unquote(parts.username or ""),
            PGPASSWORD=unquote(parts.password or ""),
            PGDATABASE=unquote(parts.path.lstrip("/")) or "postgres",
            PGCONNECT_TIMEOUT="10",
        )
        for key, value in parse_qsl(parts.query):
            if key == "sslmode":
                self.env["PGSSLMODE"] = value
        self.where = f"{parts.hostname}:{self.env['PGPORT']}"
        self.psql = shutil.which("psql") or (sorted(glob.glob("/usr/lib/postgresql/*/bin/psql")) or [None])[-1]
        if not self.psql:
            fail("psql not found", "install Debian's postgresql-client package (apt-get install postgresql-client)")

    def run(self, args, database=None):
        env = dict(self.env)
        if database:
            env["PGDATABASE"] = database
        done = subprocess.run(
            [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", *args],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip())
        return done.stdout

    def rows(self, query, database):
        out = self.run(["-A", "-t", "-F", SEP, "-c", query], database)
        return [line.split(SEP) for line in out.splitlines() if line]


PG_COLUMNS = """
SELECT c.table_name, c.column_name, c.data_type, c.is_nullable, coalesce(c.column_default, ''),
       c.is_identity, c.is_generated, coalesce(c.collation_name, '')
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name, c.ordinal_position
"""

PG_INDEXES = """
SELECT i.relname, t.relname, ix.indisunique,
       array_to_string(array(
         SELECT a.attname || CASE WHEN ix.indoption[k] & 1 = 1 THEN ' DESC' ELSE '' END
         FROM generate_subscripts(ix.indkey, 1) AS k
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ix.indkey[k]
         ORDER BY k), ',')
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
WHERE t.relnamespace = current_schema()::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                  WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid AND c.contype IN ('p', 'u'))
"""

PG_CONSTRAINTS = """
SELECT t.relname, c.contype,
       array_to_string(array(
         SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(n, o)
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), ','),
       coalesce(r.relname, ''),
       array_to_string(array(
         SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(n, o)
         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o), ','),
       c.confdeltype
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
LEFT JOIN pg_class r ON r.oid = c.confrelid
WHERE c.connamespace = current_schema()::regnamespace
"""


def pg_schema(pg, database):
    tables = {}
    for table, name, dtype, nullable, default, identity, generated, collation in pg.rows(PG_COLUMNS, database):
        t = tables.setdefault(table, {"columns": [], "pk": [], "uniques": set(), "fks": set(), "checks": 0})
        t["columns"].append(
            {
                "name": name,
                "type": dtype,
                "notnull": nullable == "NO",
                # Postgres writes a literal with its type: '[]'::text.
                "default": re.sub(r"::[a-z ]+$", "", default) or None,
                "identity": identity == "YES",
                "generated": generated == "ALWAYS",
                "collation": collation,
            }
        )
    for table, kind, cols, ref, ref_cols, on_delete in pg.rows(PG_CONSTRAINTS, database):
        t = tables[table]
        cols = tuple(cols.split(","))
        if kind == "p":
            t["pk"] = list(cols)
        elif kind == "u":
            t["uniques"].add(cols)
        elif kind == "f":
            t["fks"].add((cols, ref, tuple(ref_cols.split(",")), ON_DELETE[on_delete]))
        elif kind == "c":
            t["checks"] += 1
    indexes = {
        name: (table, tuple(cols.split(",")), unique == "t")
        for name, table, unique, cols in pg.rows(PG_INDEXES, database)
    }
    return tables, indexes


def compare(lite, pg):
    (lite_tables, lite_indexes), (pg_tables, pg_indexes) = lite, pg
    problems = []
    for table in sorted(set(lite_tables) - set(pg_tables)):
        problems.append(f"table {table}: only in SQLite")
    for table in sorted(set(pg_tables) - set(lite_tables)):
        problems.append(f"table {table}: only in PostgreSQL")
    for table in sorted(set(lite_tables) & set(pg_tables)):
        a, b = lite_tables[table], pg_tables[table]
        b_cols = [c for c in b["columns"] if (table, c["name"]) not in PG_ONLY_COLUMNS]
        names_a = [c["name"] for c in a["columns"]]
        names_b = [c["name"] for c in b_cols]
        if names_a != names_b:
            problems.append(f"table {table}: columns differ\n  SQLite:     {names_a}\n  PostgreSQL: {names_b}")
            continue
        for ca, cb in zip(a["columns"], b_cols):
            where = f"{table}.{ca['name']}"
            for key in ("type", "notnull", "default", "identity"):
                if ca[key] != cb[key]:
                    problems.append(f"column {where}: {key} is {ca[key]!r} on SQLite, {cb[key]!r} on PostgreSQL")
            if cb["type"] == "text" and cb["collation"] != "C":
                problems.append(f'column {where}: text without COLLATE "C" (sorts unlike SQLite)')
        for (t, name) in PG_ONLY_COLUMNS:
            if t == table and not any(c["name"] == name and c["generated"] for c in b["columns"]):
                problems.append(f"column {table}.{name}: expected on PostgreSQL as a generated column")
        for key, what in (("pk", "primary key"), ("uniques", "UNIQUE constraints"), ("fks", "foreign keys"),
                          ("checks", "number of CHECKs")):
            if a[key] != b[key]:
                problems.append(f"table {table}: {what} differ\n  SQLite:     {a[key]}\n  PostgreSQL: {b[key]}")
    for name in sorted(set(lite_indexes) | set(pg_indexes)):
        if name in PG_ONLY_INDEXES:
            if name not in pg_indexes:
                problems.append(f"index {name}: expected on PostgreSQL (the full-text index)")
            continue
        if name not in pg_indexes:
            problems.append(f"index {name}: only in SQLite")
        elif name not in lite_indexes:
            problems.append(f"index {name}: only in PostgreSQL")
        elif lite_indexes[name] != pg_indexes[name]:
            problems.append(
                f"index {name}: (table, columns, unique) differ\n"
                f"  SQLite:     {lite_indexes[name]}\n  PostgreSQL: {pg_indexes[name]}"
            )
    return problems


def main():
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        fail("TEST_DATABASE_URL is not set", 'start a test server first: eval "$(scripts/pg-start.sh)"', code=2)
    pairs, problems = migration_files()
    if problems:
        for p in problems:
            print(f"schema_compare: {p}", file=sys.stderr)
        sys.exit(1)
    lite = sqlite_schema([s for s, _ in pairs])

    pg = Postgres(url)
    database = f"schema_compare_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        pg.run(["-c", f"CREATE DATABASE {database}"])
    except RuntimeError as e:
        fail(f"cannot create a database on {pg.where}: {e}",
             "the URL's role needs CREATEDB; scripts/pg-start.sh makes a test cluster with one")
    try:
        for _, path in pairs:
            try:
                pg.run(["-1", "-f", path], database)
            except RuntimeError as e:
                fail(f"{os.path.relpath(path, ROOT)} fails on PostgreSQL: {e}")
        problems = compare(lite, pg_schema(pg, database))
    finally:
        pg.run(["-c", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"])

    if problems:
        for p in problems:
            print(f"schema_compare: {p}", file=sys.stderr)
        print(f"schema_compare: {len(problems)} difference(s) between the SQLite and PostgreSQL schemas",
              file=sys.stderr)
        sys.exit(1)
    tables, indexes = lite
    columns = sum(len(t["columns"]) for t in tables.values())
    fks = sum(len(t["fks"]) for t in tables.values())
    print(f"schema_compare: OK: {len(pairs)} migrations, {len(tables)} tables, {columns} columns, "
          f"{len(indexes)} indexes, {fks} foreign keys match")


if __name__ == "__main__":
    main()
