//! Team roster (team.json) and audit scope/categories (categories.json): strict parsing with precise errors, and identity matching of team members to Slack/Telegram users.
