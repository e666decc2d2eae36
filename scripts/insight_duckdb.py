#!/usr/bin/env python3
"""The reference side of `bench insight`: DuckDB computing what insight-report computes over a period.

Usage: insight_duckdb.py CSV_DIR OUT_DIR SINCE UNTIL   (days YYYY-MM-DD, UTC)

CSV_DIR holds the insight tables exported from the bench's SQLite file (DuckDB's sqlite scanner is
an extension downloaded at run time, which this machine cannot fetch). They are loaded into
in-memory DuckDB tables first (timed apart as load_s), then the report is computed twice:

- aggregates: from the same materialized tables insight-report reads (daily user-channel, channel,
  user-hour and active-window aggregates, membership snapshots, threads);
- raw: those daily tables rebuilt from the raw events first, then the same queries.

Each computes, for the period and the previous period of the same length (week over week):
per user per channel posts/replies/reactions, interaction mix, membership share and
participation_score = 100 * (0.4 * m + 0.6 * a / a_max); per channel over the range (members,
active members, counts, median reply latency, mean score); per channel per day (members from the
latest snapshot before the day ends, counts, median latency); per department rollups and week over
week; active windows per user per day (RFC 3339); the department x weekday x hour heatmap. Every
table is written as CSV under OUT_DIR/<mode>/, like insight-report --format csv.

Prints one JSON line: {"load_s", "aggregates_s", "raw_events_s", "threads"}.
"""

import datetime as dt
import json
import os
import sys
import time

import duckdb

TABLES = [
    "users",
    "channels",
    "member_snapshots",
    "members",
    "threads",
    "daily_user_channel",
    "daily_channel",
    "daily_user_hour",
    "active_windows",
    "events",
]


def bounds_us(since, until):
    start = dt.datetime.combine(since, dt.time(), dt.timezone.utc)
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    return int(start.timestamp()) * 1_000_000, int(end.timestamp()) * 1_000_000 - 1


def user_channel(con, name, since, until):
    """Creates table `name`: one row per member or active user per channel over the period."""
    s_us, e_us = bounds_us(since, until)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {name} AS
        WITH inside AS (
            SELECT channel_id, run_id FROM member_snapshots WHERE taken_us BETWEEN {s_us} AND {e_us}),
        -- Channels without a snapshot in the period use the nearest one (latest before its end,
        -- else the earliest after), as insight-report does.
        nearest AS (
            SELECT channel_id, arg_min(run_id, CASE WHEN taken_us > {e_us} THEN 1 ELSE 0 END * 1e18
                   + CASE WHEN taken_us > {e_us} THEN taken_us ELSE -taken_us END) AS run_id
            FROM member_snapshots WHERE channel_id NOT IN (SELECT channel_id FROM inside)
            GROUP BY channel_id),
        runs AS (SELECT * FROM inside UNION ALL SELECT * FROM nearest),
        nruns AS (SELECT channel_id, count(*) AS n FROM runs GROUP BY channel_id),
        mem AS (
            SELECT m.channel_id, m.user_id, count(*) AS k
            FROM members m JOIN runs r ON m.channel_id = r.channel_id AND m.run_id = r.run_id
            GROUP BY m.channel_id, m.user_id),
        act AS (
            SELECT channel_id, user_id, sum(posts) AS p, sum(replies) AS r, sum(reactions) AS x
            FROM daily_user_channel WHERE day BETWEEN '{since}' AND '{until}'
            GROUP BY channel_id, user_id),
        everyone AS (SELECT channel_id, user_id FROM mem UNION SELECT channel_id, user_id FROM act),
        amax AS (SELECT channel_id, max(p + r + x) AS a_max FROM act GROUP BY channel_id)
        SELECT e.user_id,
               coalesce(nullif(u.display_name, ''), u.name, '') AS user_name,
               e.channel_id, c.name AS channel_name,
               coalesce(a.p, 0) AS posts, coalesce(a.r, 0) AS replies, coalesce(a.x, 0) AS reactions,
               100 * (0.4 * coalesce(mem.k, 0) / coalesce(nr.n, 1)
                      + 0.6 * CASE WHEN coalesce(am.a_max, 0) = 0 THEN 0
                                   ELSE coalesce(a.p + a.r + a.x, 0) / am.a_max END) AS participation_score,
               u.department,
               coalesce(a.p / nullif(a.p + a.r + a.x, 0), 0) AS posts_share,
               coalesce(a.r / nullif(a.p + a.r + a.x, 0), 0) AS replies_share,
               coalesce(a.x / nullif(a.p + a.r + a.x, 0), 0) AS reactions_share,
               coalesce(mem.k, 0) / coalesce(nr.n, 1) AS membership_share
        FROM everyone e
        JOIN channels c ON c.channel_id = e.channel_id
        LEFT JOIN act a ON a.channel_id = e.channel_id AND a.user_id = e.user_id
        LEFT JOIN mem ON mem.channel_id = e.channel_id AND mem.user_id = e.user_id
        LEFT JOIN nruns nr ON nr.channel_id = e.channel_id
        LEFT JOIN amax am ON am.channel_id = e.channel_id
        LEFT JOIN users u ON u.user_id = e.user_id
        """
    )


def channel_range(con, name, uc, since, until):
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {name} AS
        WITH lat AS (
            SELECT channel_id, median(latency_s) AS median_reply_latency_s FROM threads
            WHERE day BETWEEN '{since}' AND '{until}' AND latency_s IS NOT NULL GROUP BY channel_id)
        SELECT uc.channel_id, any_value(uc.channel_name) AS channel_name,
               count(*) FILTER (WHERE membership_share > 0) AS members,
               count(*) FILTER (WHERE posts + replies + reactions > 0) AS active_members,
               sum(posts) AS posts, sum(replies) AS replies, sum(reactions) AS reactions,
               any_value(lat.median_reply_latency_s) AS median_reply_latency_s,
               avg(participation_score) AS avg_score
        FROM {uc} uc LEFT JOIN lat ON lat.channel_id = uc.channel_id
        GROUP BY uc.channel_id
        """
    )


def departments(con, name, uc):
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {name} AS
        SELECT coalesce(department, '(none)') AS department,
               count(DISTINCT user_id) AS members,
               count(DISTINCT user_id) FILTER (WHERE posts + replies + reactions > 0) AS active_members,
               sum(posts) AS posts, sum(replies) AS replies, sum(reactions) AS reactions,
               avg(participation_score) AS avg_score
        FROM {uc} GROUP BY 1
        """
    )


def report(con, out, since, until):
    """Every table of the report for the period, written as CSV into `out`."""
    os.makedirs(out, exist_ok=True)
    days = (until - since).days + 1
    p_until = since - dt.timedelta(days=1)
    p_since = since - dt.timedelta(days=days)
    user_channel(con, "uc_now", since, until)
    user_channel(con, "uc_before", p_since, p_until)
    channel_range(con, "ch_now", "uc_now", since, until)
    channel_range(con, "ch_before", "uc_before", p_since, p_until)
    departments(con, "dep_now", "uc_now")
    departments(con, "dep_before", "uc_before")
    s_us, _ = bounds_us(since, until)
    queries = {
        "user_channel_metrics": "SELECT * FROM uc_now ORDER BY channel_id, user_id",
        "channel_metrics": "SELECT * FROM ch_now ORDER BY channel_id",
        "team_metrics": "SELECT * FROM dep_now ORDER BY department",
        "week_over_week": """
            SELECT 'channel' AS scope, n.channel_id AS id, n.channel_name AS name,
                   n.posts, b.posts AS posts_before, n.replies, b.replies AS replies_before,
                   n.reactions, b.reactions AS reactions_before, n.avg_score, b.avg_score AS score_before
            FROM ch_now n LEFT JOIN ch_before b USING (channel_id)
            UNION ALL
            SELECT 'department', n.department, n.department, n.posts, b.posts, n.replies, b.replies,
                   n.reactions, b.reactions, n.avg_score, b.avg_score
            FROM dep_now n LEFT JOIN dep_before b USING (department)
            ORDER BY 1, 2""",
        # Members of a day: the latest snapshot taken before the day ends, else the first one.
        "channel_daily": f"""
            WITH cal AS (
                SELECT c.channel_id, c.name AS channel_name, CAST(d AS DATE) AS day,
                       epoch_us(CAST(d AS TIMESTAMP) + INTERVAL 1 DAY) AS day_end
                FROM channels c,
                     generate_series(DATE '{since}', DATE '{until}', INTERVAL 1 DAY) g(d)),
            sizes AS (
                SELECT s.channel_id, s.taken_us, count(m.user_id) AS n
                FROM member_snapshots s LEFT JOIN members m
                  ON m.run_id = s.run_id AND m.channel_id = s.channel_id
                GROUP BY s.channel_id, s.run_id, s.taken_us),
            first_size AS (SELECT channel_id, arg_min(n, taken_us) AS n FROM sizes GROUP BY 1),
            lat AS (
                SELECT channel_id, day, median(latency_s) AS med FROM threads
                WHERE day BETWEEN '{since}' AND '{until}' AND latency_s IS NOT NULL
                GROUP BY channel_id, day)
            SELECT cal.channel_id, cal.channel_name, cal.day AS date,
                   coalesce(sz.n, fs.n, 0) AS members,
                   coalesce(dc.active_members, 0) AS active_members, coalesce(dc.posts, 0) AS posts,
                   coalesce(dc.replies, 0) AS replies, coalesce(dc.reactions, 0) AS reactions,
                   lat.med AS median_reply_latency_s
            FROM cal
            ASOF LEFT JOIN sizes sz ON sz.channel_id = cal.channel_id AND cal.day_end > sz.taken_us
            LEFT JOIN first_size fs ON fs.channel_id = cal.channel_id
            LEFT JOIN daily_channel dc
              ON dc.channel_id = cal.channel_id AND dc.day = CAST(cal.day AS VARCHAR)
            LEFT JOIN lat ON lat.channel_id = cal.channel_id AND lat.day = CAST(cal.day AS VARCHAR)
            ORDER BY 1, 3""",
        "active_windows": f"""
            SELECT w.user_id, w.day AS date,
                   strftime(make_timestamp(min(first_us)), '%Y-%m-%dT%H:%M:%S+00:00') AS first_ts,
                   strftime(make_timestamp(max(last_us)), '%Y-%m-%dT%H:%M:%S+00:00') AS last_ts,
                   any_value(u.name) AS user_name
            FROM active_windows w LEFT JOIN users u USING (user_id)
            WHERE w.day BETWEEN '{since}' AND '{until}'
            GROUP BY w.user_id, w.day ORDER BY 1, 2""",
        "hour_weekday": f"""
            SELECT coalesce(u.department, '(none)') AS department,
                   isodow(CAST(h.day AS DATE)) - 1 AS weekday, h.hour, sum(h.events) AS events
            FROM daily_user_hour h LEFT JOIN users u USING (user_id)
            WHERE h.day BETWEEN '{since}' AND '{until}'
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    }
    del s_us
    for table, sql in queries.items():
        con.execute(f"COPY ({sql}) TO '{os.path.join(out, table + '.csv')}' (HEADER)")


def rebuild_from_events(con, since, until):
    """The daily tables recomputed from raw events (what insight-sync materializes at sync time)."""
    # Both periods are read, as the report reads the previous period for week over week.
    days = (until - since).days + 1
    p_since = since - dt.timedelta(days=days)
    where = f"day BETWEEN '{p_since}' AND '{until}'"
    con.execute(
        f"""CREATE OR REPLACE TABLE daily_user_channel AS
        SELECT day, channel_id, user_id, count(*) FILTER (WHERE kind = 0) AS posts,
               count(*) FILTER (WHERE kind = 1) AS replies, count(*) FILTER (WHERE kind = 2) AS reactions
        FROM events WHERE {where} GROUP BY day, channel_id, user_id"""
    )
    con.execute(
        """CREATE OR REPLACE TABLE daily_channel AS
        SELECT day, channel_id, count(*) AS active_members, sum(posts) AS posts,
               sum(replies) AS replies, sum(reactions) AS reactions
        FROM daily_user_channel GROUP BY day, channel_id"""
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE daily_user_hour AS
        SELECT channel_id, day, user_id, hour, count(*) AS events
        FROM events WHERE {where} AND kind < 2 GROUP BY channel_id, day, user_id, hour"""
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE active_windows AS
        SELECT channel_id, day, user_id, min(at_us) AS first_us, max(at_us) AS last_us
        FROM events WHERE {where} AND kind < 2 GROUP BY channel_id, day, user_id"""
    )


def main():
    csv_dir, out, since, until = sys.argv[1:5]
    since = dt.date.fromisoformat(since)
    until = dt.date.fromisoformat(until)
    con = duckdb.connect()
    started = time.perf_counter()
    for t in TABLES:
        path = os.path.join(csv_dir, t + ".csv")
        with open(path, encoding="utf-8") as f:
            columns = f.readline().strip().split(",")
        # IDs, names and days stay text, as in SQLite; counts and times are typed by DuckDB.
        text = {c: "VARCHAR" for c in columns
                if c in ("day", "user_id", "channel_id", "name", "display_name", "department",
                         "thread_ts")}
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_csv(?, header = true, types = ?)",
                    [path, text])
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    report(con, os.path.join(out, "aggregates"), since, until)
    aggregates_s = time.perf_counter() - started

    started = time.perf_counter()
    rebuild_from_events(con, since, until)
    report(con, os.path.join(out, "raw"), since, until)
    raw_s = time.perf_counter() - started

    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(json.dumps({"load_s": load_s, "aggregates_s": aggregates_s, "raw_events_s": raw_s,
                      "threads": threads}))


if __name__ == "__main__":
    main()
