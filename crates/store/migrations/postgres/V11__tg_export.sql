-- V11__tg_export: mirrors 11_tg_export.sql (tg-admin export's state: every message an export
-- wrote, per chat and output). Differences: the PostgreSQL types (see README.md); no STRICT.

CREATE TABLE tg_exports (
    out_dir         TEXT COLLATE "C" NOT NULL,  -- the export's --out directory, absolute
    format          TEXT COLLATE "C" NOT NULL,  -- text | json | tdesktop
    chat_id         BIGINT NOT NULL,
    chat_title      TEXT COLLATE "C" NOT NULL,  -- the title at the last export
    chat_kind       TEXT COLLATE "C" NOT NULL,  -- group | supergroup | channel
    file            TEXT COLLATE "C" NOT NULL,  -- the export's file (or folder, tdesktop), relative to out_dir
    last_message_id BIGINT NOT NULL DEFAULT 0,  -- highest message id stored; resume reads after it
    exported_at     TEXT COLLATE "C" NOT NULL,  -- RFC 3339 UTC, last run that touched this chat
    PRIMARY KEY (out_dir, format, chat_id)
);

-- One row per exported message: source "telegram", conversation chat_id/chat_title, time,
-- sender, text (what a search index needs), plus reply and media for rendering.
CREATE TABLE tg_export_messages (
    out_dir         TEXT COLLATE "C" NOT NULL,
    format          TEXT COLLATE "C" NOT NULL,
    chat_id         BIGINT NOT NULL,
    message_id      BIGINT NOT NULL,
    chat_title      TEXT COLLATE "C" NOT NULL,
    at              TEXT COLLATE "C" NOT NULL,  -- RFC 3339 UTC
    sender_id       BIGINT,                     -- NULL: anonymous admin or channel post
    sender_name     TEXT COLLATE "C",
    sender_username TEXT COLLATE "C",
    text            TEXT COLLATE "C" NOT NULL,
    reply_to        BIGINT,
    media           TEXT COLLATE "C",  -- JSON: kind, file_name, mime_type, size, width, height, duration_seconds
    media_path      TEXT COLLATE "C",  -- the downloaded copy, relative to out_dir
    media_note      TEXT COLLATE "C",  -- why there is no copy (not selected, too large, failed)
    PRIMARY KEY (out_dir, format, chat_id, message_id),
    FOREIGN KEY (out_dir, format, chat_id) REFERENCES tg_exports (out_dir, format, chat_id) ON DELETE CASCADE
);
