"""The original product's stack for `bench panel`: a minimal Flask app (run under gunicorn with
2 sync workers) answering the dashboard query of admin-panel's /api/v1/dashboard from the same
SQLite file (PANEL_DB): every run for the trend, the newest two runs' results JSON for the
per-platform figures and what changed, the newest run's worst gaps, the last insight sync and
export. Read-only, one connection per request, like the panel's per-request store access."""

import json
import os
import sqlite3

from flask import Flask, jsonify

app = Flask(__name__)
DB = os.environ["PANEL_DB"]
WORST_GAPS = 10


def platform_figures(platform, run, result):
    mine = [f for f in result["findings"] if f["platform"] == platform]
    cov_cat = result["summary"]["coverage_category"]
    covered = [f for f in mine if f["error"] is None and f["category"] == cov_cat]
    complete = sum(1 for f in covered if not f["missing_required"])
    has_gaps = lambda f: f["error"] is None and f["missing_required"]
    return {
        "platform": platform,
        "run_id": run["id"],
        "started_at": run["started_at"],
        "coverage": complete / len(covered) if covered else None,
        "groups": len(mine),
        "groups_with_gaps": sum(1 for f in mine if has_gaps(f)),
        "missing_required": sum(len(f["missing_required"]) for f in mine if f["error"] is None),
        "public_flags": sum(1 for f in mine if f["flag_public"]),
        "rename_flags": sum(1 for f in mine if f["flag_rename"]),
    }


def diff(prev, cur):
    key = lambda f: (f["platform"], f["group_id"])
    p = {key(f): f for f in prev["findings"]}
    c = {key(f): f for f in cur["findings"]}
    ref = lambda f: {"platform": f["platform"], "group_id": f["group_id"], "group_name": f["group_name"]}
    opened, closed = [], []
    for k, f in c.items():
        before = set(p[k]["missing_required"]) if k in p else set()
        for h in f["missing_required"]:
            if h not in before:
                opened.append({**ref(f), "handle": h})
        if k in p:
            for h in p[k]["missing_required"]:
                if h not in f["missing_required"]:
                    closed.append({**ref(f), "handle": h})
    pr, cr = prev["summary"]["coverage_rate"], cur["summary"]["coverage_rate"]
    return {
        "new_groups": [ref(f) for k, f in c.items() if k not in p],
        "removed_groups": [ref(f) for k, f in p.items() if k not in c],
        "gaps_closed": closed,
        "gaps_opened": opened,
        "coverage_delta": cr - pr if cr is not None and pr is not None else None,
    }


@app.get("/api/v1/dashboard")
def dashboard():
    db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
    try:
        db.row_factory = sqlite3.Row
        runs = db.execute(
            "SELECT id, started_at, finished_at, platforms, groups, groups_with_gaps,"
            " missing_required, coverage, started_by, status FROM audit_runs ORDER BY id DESC"
        ).fetchall()
        platforms, results = {}, {}
        for i, run in enumerate(runs):
            names = [p for p in run["platforms"].split(",") if p]
            if all(p in platforms for p in names) and i > 1:
                continue
            text = db.execute("SELECT results_json FROM audit_runs WHERE id = ?", (run["id"],)).fetchone()[0]
            result = json.loads(text)
            if not result:
                continue
            for p in names:
                platforms.setdefault(p, platform_figures(p, run, result))
            if i < 2:
                results[i] = result
        latest = runs[0] if runs else None
        gaps = []
        if latest is not None:
            for f in db.execute(
                "SELECT platform, group_id, group_name, category, required_present, required_total,"
                " missing_required, error FROM audit_findings WHERE run_id = ?"
                " ORDER BY platform, group_name, group_id",
                (latest["id"],),
            ):
                missing = json.loads(f["missing_required"])
                if f["error"] is None and missing:
                    gaps.append({**{k: f[k] for k in f.keys() if k not in ("missing_required", "error")},
                                 "missing_required": missing})
        gaps.sort(key=lambda g: (-len(g["missing_required"]), g["group_name"]))
        sync = db.execute(
            "SELECT started_at, finished_at, status, channels, events FROM insight_sync_runs"
            " ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
        export = db.execute(
            "SELECT MAX(updated_at), COUNT(*), SUM(complete) FROM export_channels WHERE export_key ="
            " (SELECT export_key FROM export_channels ORDER BY updated_at DESC LIMIT 1)"
        ).fetchone()
        return jsonify({
            "latest_run": dict(latest) if latest is not None else None,
            "platforms": [platforms[k] for k in sorted(platforms)],
            "trend": [{"run_id": r["id"], "started_at": r["started_at"], "coverage": r["coverage"]}
                      for r in reversed(runs)],
            "worst_gaps": gaps[:WORST_GAPS],
            "changes": diff(results[1], results[0]) if 0 in results and 1 in results else None,
            "last_insight_sync": dict(sync) if sync is not None else None,
            "last_export": {"updated_at": export[0], "channels": export[1], "complete_channels": export[2] or 0}
            if export[0] is not None else None,
        })
    finally:
        db.close()
