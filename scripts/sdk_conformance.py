#!/usr/bin/env python3
"""Check slack-sim against Slack's own Python SDK (slack_sdk).

Starts the built slack-sim binary with a 137-user, 23-channel workspace and pages through
users.list, conversations.list (public+private), conversations.members, conversations.history and
conversations.replies with slack_sdk.WebClient, using small page sizes so every method paginates.

Usage: scripts/sdk_conformance.py [path/to/slack-sim]   (default: target/debug/slack-sim)
Needs: pip install slack_sdk. Exit 0 when every check passed, 1 otherwise.
"""
import subprocess
import sys

try:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
except ImportError:
    sys.exit("sdk conformance: slack_sdk is not installed (pip install slack_sdk)")

USERS, CHANNELS, SEED = 137, 23, 7
TOKEN = "xoxp-conformance"

passed = 0
failures = []


def check(cond, what):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(what)
        print(f"FAIL: {what}", file=sys.stderr)


def pages(method, **kwargs):
    """All pages of a cursor-paginated call, via slack_sdk's own iteration. The iterator reuses
    one response object, so each page's data is copied out as it arrives."""
    return [dict(page.data) for page in method(**kwargs)]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/slack-sim"
    proc = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--users", str(USERS), "--channels", str(CHANNELS),
         "--seed", str(SEED), "--token", TOKEN],
        stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            sys.exit(f"sdk conformance: slack-sim did not start (first line: {line!r})")
        base = line[len("listening on "):]
        run(WebClient(token=TOKEN, base_url=base + "/"), base)
    finally:
        proc.kill()
        proc.wait()
    print(f"sdk conformance: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


def run(client, base):
    # Auth, both ways round.
    check(client.auth_test()["ok"], "auth.test ok with the right token")
    try:
        WebClient(token="xoxp-wrong", base_url=base + "/").auth_test()
        check(False, "wrong token must fail")
    except SlackApiError as e:
        check(e.response["error"] == "invalid_auth", f"wrong token gives invalid_auth, got {e.response['error']}")

    # users.list
    user_pages = pages(client.users_list, limit=40)
    check(len(user_pages) > 1, f"users.list paginates at limit=40 ({len(user_pages)} pages)")
    users = [u for p in user_pages for u in p["members"]]
    ids = [u["id"] for u in users]
    check(len(ids) == USERS, f"users.list gives exactly {USERS} users, got {len(ids)}")
    check(len(set(ids)) == len(ids), "users.list has no duplicate ids")
    check(any(u.get("deleted") for u in users), "users.list includes deleted users")
    check(any(u.get("is_bot") for u in users), "users.list includes bots")
    check(user_pages[-1]["response_metadata"]["next_cursor"] == "", "last users.list page has next_cursor ''")

    # conversations.list
    chan_pages = pages(client.conversations_list, types="public_channel,private_channel", limit=7)
    check(len(chan_pages) > 1, "conversations.list paginates at limit=7")
    channels = [c for p in chan_pages for c in p["channels"]]
    cids = [c["id"] for c in channels]
    check(len(cids) == CHANNELS, f"conversations.list gives exactly {CHANNELS} channels, got {len(cids)}")
    check(len(set(cids)) == len(cids), "conversations.list has no duplicate ids")
    check(any(c["is_private"] for c in channels), "conversations.list includes private channels")
    unarchived = [c for p in pages(client.conversations_list, types="public_channel,private_channel",
                                   exclude_archived=True, limit=7) for c in p["channels"]]
    check(len(unarchived) == sum(1 for c in channels if not c["is_archived"]),
          "exclude_archived drops exactly the archived channels")

    threads = 0
    for c in channels:
        cid = c["id"]
        # conversations.members
        members = [m for p in pages(client.conversations_members, channel=cid, limit=10) for m in p["members"]]
        check(len(set(members)) == len(members), f"{c['name']}: members without duplicates")
        if "num_members" in c:
            check(len(members) == c["num_members"],
                  f"{c['name']}: {len(members)} members listed, num_members says {c['num_members']}")
        # conversations.history
        hist_pages = pages(client.conversations_history, channel=cid, limit=25)
        msgs = [m for p in hist_pages for m in p["messages"]]
        tss = [m["ts"] for m in msgs]
        check(len(set(tss)) == len(tss), f"{c['name']}: history without duplicate ts")
        check(tss == sorted(tss, key=float, reverse=True), f"{c['name']}: history is newest first")
        check(not hist_pages[-1]["has_more"], f"{c['name']}: last history page has has_more false")
        for m in msgs:
            if m.get("thread_ts") and m["thread_ts"] != m["ts"]:
                check(m.get("subtype") == "thread_broadcast",
                      f"{c['name']}: only broadcast replies appear in history ({m['ts']})")
        # conversations.replies of every thread parent
        for parent in (m for m in msgs if m.get("reply_count", 0) > 0):
            threads += 1
            rep_pages = pages(client.conversations_replies, channel=cid, ts=parent["ts"], limit=5)
            first = rep_pages[0]["messages"]
            check(bool(first) and first[0]["ts"] == parent["ts"],
                  f"{c['name']}: replies of {parent['ts']} start with the parent")
            seen, replies = set(), []
            for p in rep_pages:
                for m in p["messages"]:
                    if m["ts"] in seen:
                        continue
                    seen.add(m["ts"])
                    if m["ts"] != parent["ts"]:
                        replies.append(m)
            check(len(replies) == parent["reply_count"],
                  f"{c['name']}: thread {parent['ts']} has {len(replies)} replies, reply_count {parent['reply_count']}")
            check(all(r.get("thread_ts") == parent["ts"] for r in replies),
                  f"{c['name']}: replies of {parent['ts']} carry its thread_ts")
            check(parent.get("latest_reply") == max((r["ts"] for r in replies), key=float, default=None),
                  f"{c['name']}: latest_reply of {parent['ts']} is its newest reply")
    check(threads > 0, "the workspace has threads to check")


if __name__ == "__main__":
    sys.exit(main())
