#!/usr/bin/env python3
"""Reads a `tg-admin export --format tdesktop` folder the way tools for Telegram Desktop exports
read theirs, and fails loudly where ours would trip them up.

The reading follows telegram-chat-parser (github.com/keizerzilla/telegram-chat-parser): the chat
object's "messages", each message's "type", "id", "from", "from_id", "date", "text" (a string or a
list of strings and {"type", "text"} parts) and the optional "reply_to_message_id". Media paths
("photo", "file") are taken as tdesktop writes them: relative to result.json, under photos/,
files/, video_files/, voice_messages/, round_video_messages/ or stickers/, or a "(File ...)"
note when the file was not included.

Usage: scripts/tdesktop_reader_check.py OUT/CHAT_FOLDER [...]
Prints one CSV-like line per text message and a summary; exits 1 on the first problem.
"""

import datetime
import json
import pathlib
import sys

MEDIA_FOLDERS = (
    "photos/",
    "files/",
    "video_files/",
    "voice_messages/",
    "round_video_messages/",
    "stickers/",
)
CHAT_TYPES = {
    "private_group",
    "private_supergroup",
    "public_supergroup",
    "private_channel",
    "public_channel",
}


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def text_of(value):
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p if isinstance(p, str) else p["text"] for p in value)
    fail(f"text is neither a string nor a list: {value!r}")


def check(folder):
    root = pathlib.Path(folder)
    data = json.loads((root / "result.json").read_text(encoding="utf-8"))
    for key in ("name", "type", "id", "messages"):
        if key not in data:
            fail(f"{root}: result.json has no {key!r}")
    if data["type"] not in CHAT_TYPES:
        fail(f"{root}: unknown chat type {data['type']!r}")
    texts = media = 0
    for message in data["messages"]:
        if message["type"] not in ("message", "service"):
            fail(f"message {message['id']}: type {message['type']!r}")
        datetime.datetime.fromisoformat(message["date"])
        int(message["date_unixtime"])
        for key in ("photo", "file"):
            path = message.get(key)
            if path is None or path.startswith("("):
                continue
            if not path.startswith(MEDIA_FOLDERS):
                fail(f"message {message['id']}: {key} {path!r} is not in a tdesktop folder")
            if not (root / path).is_file():
                fail(f"message {message['id']}: {key} {path!r} is missing")
            media += 1
        if message["type"] != "message" or len(message["text"]) == 0:
            continue
        reply = message.get("reply_to_message_id", "")
        text = text_of(message["text"]).replace("\n", " ")
        print(f'{message["id"]},"{message["from"]}",{message["from_id"]},{message["date"]},"{text}",{reply}')
        texts += 1
    print(f"{root}: {len(data['messages'])} messages, {texts} with text, {media} media files present")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        fail("usage: tdesktop_reader_check.py OUT/CHAT_FOLDER [...]")
    for arg in sys.argv[1:]:
        check(arg)
