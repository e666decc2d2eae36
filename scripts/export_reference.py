#!/usr/bin/env python3
"""Reference export for the slack-export benchmark: the approach of the one-off scripts the suite
replaces, done with the official slack_sdk. Sequential: page conversations.history, call
conversations.replies for every message with reply_count > 0, write all messages as one JSON array
per channel. Same page sizes as slack-export (999 / 1000), so the comparison is about the client,
not the call count.

usage: SLACK_TOKEN=... SLACK_API_BASE=http://127.0.0.1:PORT/api export_reference.py OUT_DIR CHANNEL...
"""
import json
import os
import sys

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler


def export_channel(client, channel):
    messages = []
    cursor = None
    while True:
        page = client.conversations_history(channel=channel, limit=999, cursor=cursor)
        for m in page["messages"]:
            messages.append(m)
            if m.get("reply_count", 0) > 0:
                rcursor = None
                while True:
                    r = client.conversations_replies(
                        channel=channel, ts=m["ts"], limit=1000, cursor=rcursor
                    )
                    messages.extend(x for x in r["messages"] if x["ts"] != m["ts"])
                    rcursor = (r.get("response_metadata") or {}).get("next_cursor")
                    if not rcursor:
                        break
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return messages


def main():
    out_dir, channels = sys.argv[1], sys.argv[2:]
    base = os.environ.get("SLACK_API_BASE", "https://slack.com/api").rstrip("/") + "/"
    client = WebClient(token=os.environ["SLACK_TOKEN"], base_url=base)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=8))
    os.makedirs(out_dir, exist_ok=True)
    total = 0
    for ch in channels:
        msgs = export_channel(client, ch)
        total += len(msgs)
        with open(os.path.join(out_dir, ch + ".json"), "w") as f:
            json.dump(msgs, f)
    print(total)


if __name__ == "__main__":
    main()
