-- 11_tg_export: tg-admin export's state. Every message an export wrote, per chat and output
-- (the --out directory and the format), so `--resume` fetches only newer messages and the files
-- are regenerated whole from here (the same bytes as one uninterrupted run).

CREATE TABLE tg_exports (
    out_dir         TEXT NOT NULL,     -- the export's --out directory, absolute
    format          TEXT NOT NULL,     -- text | json | tdesktop
    chat_id         INTEGER NOT NULL,
    chat_title      TEXT NOT NULL,     -- the title at the last export
    chat_kind       TEXT NOT NULL,     -- group | supergroup | channel
    file            TEXT NOT NULL,     -- the export's file (or folder, tdesktop), relative to out_dir
    last_message_id INTEGER NOT NULL DEFAULT 0,  -- highest message id stored; resume reads after it
    exported_at     TEXT NOT NULL,     -- RFC 3339 UTC, last run that touched this chat
    PRIMARY KEY (out_dir, format, chat_id)
) STRICT;

-- One row per exported message: source "telegram", conversation chat_id/chat_title, time,
-- sender, text (what a search index needs), plus reply and media for rendering.
CREATE TABLE tg_export_messages (
    out_dir         TEXT NOT NULL,
    format          TEXT NOT NULL,
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    chat_title      TEXT NOT NULL,
    at              TEXT NOT NULL,     -- RFC 3339 UTC
    sender_id       INTEGER,           -- NULL: anonymous admin or channel post
    sender_name     TEXT,
    sender_username TEXT,
    text            TEXT NOT NULL,
    reply_to        INTEGER,
    media           TEXT,              -- JSON: kind, file_name, mime_type, size, width, height, duration_seconds
    media_path      TEXT,              -- the downloaded copy, relative to out_dir
    media_note      TEXT,              -- why there is no copy (not selected, too large, failed)
    PRIMARY KEY (out_dir, format, chat_id, message_id),
    FOREIGN KEY (out_dir, format, chat_id) REFERENCES tg_exports (out_dir, format, chat_id) ON DELETE CASCADE
) STRICT;
