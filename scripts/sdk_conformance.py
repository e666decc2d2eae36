#!/usr/bin/env python3
"""Check slack-sim against Slack's own Python SDK (slack_sdk).

Starts the built slack-sim binary with a 137-user, 23-channel workspace (plus people of another
organisation in its Slack Connect channels) and pages through users.list, conversations.list
(public+private), conversations.members, conversations.history and conversations.replies with
slack_sdk.WebClient, using small page sizes so every method paginates. Then checks users.info
(Connect people users.list leaves out, user_not_found), conversations.list for ims and mpims,
pins.list, file downloads at url_private (with the token only), and message metadata
(chat.postMessage, conversations.history with include_all_metadata). Then the OAuth v2 install:
slack_sdk's AuthorizeUrlGenerator URL opens the approval page, Allow redirects with a code and the
state, WebClient.oauth_v2_access exchanges it (the answer read into slack_sdk's Installation as its
OAuth flow does), the code is refused a second time and with a wrong redirect URI or secret, the
minted token works with its scopes, and WebClient.auth_revoke revokes it.

Usage: scripts/sdk_conformance.py [path/to/slack-sim]   (default: target/debug/slack-sim)
Needs: pip install slack_sdk. Exit 0 when every check passed, 1 otherwise.
"""
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

try:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
except ImportError:
    sys.exit("sdk conformance: slack_sdk is not installed (pip install slack_sdk)")

USERS, CHANNELS, SEED, EXTERNAL = 137, 23, 7, 5
TOKEN = "xoxp-conformance"
CLIENT_ID, CLIENT_SECRET = "12345.67890", "conformance-client-secret"
REDIRECT = "http://127.0.0.1:9/oauth/callback"

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
         "--seed", str(SEED), "--token", TOKEN, "--external-users", str(EXTERNAL),
         "--oauth-client-id", CLIENT_ID, "--oauth-client-secret", CLIENT_SECRET],
        stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            sys.exit(f"sdk conformance: slack-sim did not start (first line: {line!r})")
        base = line[len("listening on "):]
        run(WebClient(token=TOKEN, base_url=base + "/"), base)
        run_oauth(base)
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
    run_archive_methods(client, channels, set(ids))
    run_metadata(client, channels)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def fetch(url, token):
    """(status, body) of a GET, redirects not followed."""
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.build_opener(NoRedirect).open(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def run_archive_methods(client, channels, listed_ids):
    # users.info knows the people of another organisation that users.list leaves out.
    members = set()
    shared = [c for c in channels if c.get("is_ext_shared")]
    check(bool(shared), "the workspace has Slack Connect channels")
    for c in shared:
        members.update(m for p in pages(client.conversations_members, channel=c["id"], limit=50)
                       for m in p["members"])
    external = sorted(members - listed_ids)
    check(len(external) == EXTERNAL, f"{EXTERNAL} Connect people in shared channels, got {len(external)}")
    for uid in external[:2]:
        u = client.users_info(user=uid)["user"]
        check(u["id"] == uid and u["team_id"] != client.auth_test()["team_id"],
              f"users.info {uid} answers with another team_id")
        check("is_stranger" in u and "profile" in u, f"users.info {uid} has is_stranger and profile")
    try:
        client.users_info(user="U0NOBODY00")
        check(False, "users.info of an unknown ID must fail")
    except SlackApiError as e:
        check(e.response["error"] == "user_not_found", f"unknown user gives user_not_found, got {e.response['error']}")

    # DMs and group DMs.
    dms = [c for p in pages(client.conversations_list, types="im,mpim", limit=3) for c in p["channels"]]
    ims = [c for c in dms if c.get("is_im")]
    mpims = [c for c in dms if c.get("is_mpim")]
    check(bool(ims) and all(c.get("user") for c in ims), "ims listed with is_im and user")
    check(bool(mpims) and all(c["name"].startswith("mpdm-") for c in mpims), "mpims listed with mpdm- names")
    im_hist = client.conversations_history(channel=ims[0]["id"], limit=10)
    check(im_hist["ok"], "an im's history reads")

    # pins.list
    pinned = 0
    for c in channels:
        items = client.pins_list(channel=c["id"])["items"]
        for it in items:
            pinned += 1
            check(it["type"] == "message" and it["channel"] == c["id"] and "ts" in it["message"]
                  and isinstance(it["created"], int) and it["created_by"],
                  f"{c['name']}: pins.list item has type, channel, created, created_by and message")
    check(pinned > 0, "pins.list finds pinned messages")

    # Files at url_private: the token in the header gets the bytes, no token a redirect.
    files = []
    gone = 0
    for c in channels:
        for p in pages(client.conversations_history, channel=c["id"], limit=200):
            for m in p["messages"]:
                for f in m.get("files", []):
                    if f.get("mode") in ("tombstone", "hidden_by_limit"):
                        gone += 1
                        check("url_private" not in f, "a tombstone has no url_private")
                    else:
                        files.append(f)
    check(bool(files), "history carries files")
    for f in files[:3]:
        status, body = fetch(f["url_private_download"], TOKEN)
        check(status == 200 and len(body) == f["size"],
              f"file {f['id']}: {status}, {len(body)} bytes of {f['size']}")
        status, body = fetch(f["url_private"], None)
        check(status in (302, 403) and len(body) != f["size"], f"file {f['id']} without the token: {status}")


def post_location(url, fields):
    """POSTs a form without following the redirect: (status, Location)."""
    data = urllib.parse.urlencode(fields).encode()
    try:
        with urllib.request.build_opener(NoRedirect).open(urllib.request.Request(url, data=data)) as r:
            return r.status, r.headers.get("Location")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location")


def run_oauth(base):
    from slack_sdk.oauth import AuthorizeUrlGenerator
    from slack_sdk.oauth.installation_store import Installation

    origin = base[: -len("/api")]
    api = WebClient(base_url=base + "/")
    generator = AuthorizeUrlGenerator(
        client_id=CLIENT_ID, redirect_uri=REDIRECT, user_scopes=["users:read", "channels:read"],
        authorization_url=origin + "/oauth/v2/authorize")

    def approve(state, decision="allow"):
        url = generator.generate(state)
        status, page = fetch(url, None)
        check(status == 200 and b"<form" in page and b"Allow" in page, f"approval page: {status}")
        fields = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True))
        fields["decision"] = decision
        status, location = post_location(origin + "/oauth/v2/authorize", fields)
        check(status == 302 and location and location.startswith(REDIRECT), f"approval redirects: {status} {location}")
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location or "").query))

    denied = approve("st-cancel", "cancel")
    check(denied.get("error") == "access_denied" and denied.get("state") == "st-cancel", f"cancel: {denied}")

    back = approve("st-1")
    check(back.get("state") == "st-1" and back.get("code"), f"allow gives code and state: {back}")
    code = back.get("code", "")
    try:
        api.oauth_v2_access(client_id=CLIENT_ID, client_secret="wrong", code=code, redirect_uri=REDIRECT)
        check(False, "a wrong client secret must fail")
    except SlackApiError as e:
        check(e.response["error"] == "bad_client_secret", f"wrong secret: {e.response['error']}")
    code = approve("st-2").get("code", "")
    try:
        api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code,
                            redirect_uri="http://127.0.0.1:9/elsewhere")
        check(False, "a wrong redirect URI must fail")
    except SlackApiError as e:
        check(e.response["error"] == "bad_redirect_uri", f"wrong redirect: {e.response['error']}")

    code = approve("st-3").get("code", "")
    resp = api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code,
                               redirect_uri=REDIRECT)
    authed = resp.get("authed_user") or {}
    installed = resp.get("team") or {}
    # As slack_bolt's OAuthFlow.run_installation reads the answer.
    inst = Installation(
        app_id=resp.get("app_id"), enterprise_id=(resp.get("enterprise") or {}).get("id"),
        team_id=installed.get("id"), team_name=installed.get("name"),
        user_id=authed.get("id"), user_token=authed.get("access_token"),
        user_scopes=authed.get("scope"), is_enterprise_install=resp.get("is_enterprise_install"),
        token_type=authed.get("token_type"))
    check(inst.user_token and inst.user_token.startswith("xoxp-"), "a user token in authed_user")
    check(inst.user_scopes == ["users:read", "channels:read"], f"granted user scopes: {inst.user_scopes}")
    check(inst.team_id and inst.team_name and inst.app_id and inst.user_id, "team, app and user identified")
    check(inst.is_enterprise_install is False and inst.token_type == "user", "user install")
    check("access_token" not in resp.data, "no bot token without bot scopes")
    try:
        api.oauth_v2_access(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code, redirect_uri=REDIRECT)
        check(False, "a code used twice must fail")
    except SlackApiError as e:
        check(e.response["error"] == "invalid_code", f"code reused: {e.response['error']}")

    user = WebClient(token=inst.user_token, base_url=base + "/")
    check(user.users_list(limit=5)["ok"], "the minted token lists users")
    try:
        user.team_info()
        check(False, "team.info needs a scope that was not granted")
    except SlackApiError as e:
        check(e.response["error"] == "missing_scope", f"ungranted scope: {e.response['error']}")
    check(user.auth_revoke()["revoked"] is True, "auth.revoke says revoked")
    try:
        user.users_list(limit=5)
        check(False, "a revoked token must fail")
    except SlackApiError as e:
        check(e.response["error"] == "token_revoked", f"revoked token: {e.response['error']}")


def run_metadata(client, channels):
    # Message metadata (notifications mark their posts with it): posted with chat.postMessage
    # through the SDK's own `metadata` argument, returned by conversations.history only with
    # include_all_metadata.
    general = next(c for c in channels if c.get("is_general"))
    meta = {"event_type": "slack_tools_notification", "event_payload": {"notification_id": 7}}
    posted = client.chat_postMessage(channel=general["id"], text="conformance", metadata=meta)
    check(posted["ok"] and posted["ts"], "chat.postMessage with metadata posts")
    newest = client.conversations_history(channel=general["id"], limit=1)["messages"][0]
    check(newest["ts"] == posted["ts"] and "metadata" not in newest,
          "history leaves metadata out without include_all_metadata")
    newest = client.conversations_history(channel=general["id"], limit=1,
                                          include_all_metadata=True)["messages"][0]
    check(newest.get("metadata") == meta, f"history with include_all_metadata returns it, got {newest.get('metadata')}")
    try:
        client.chat_postMessage(channel=general["id"], text="x", metadata={"event_payload": {}})
        check(False, "metadata without event_type must fail")
    except SlackApiError as e:
        check(e.response["error"].startswith("invalid_metadata"),
              f"metadata without event_type gives invalid_metadata_*, got {e.response['error']}")


if __name__ == "__main__":
    sys.exit(main())
