//! tg-admin command logic: Telegram group administration (find, remove, rename, ownership requests, export).
