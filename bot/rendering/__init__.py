"""Pure Block Kit rendering shared by the Slack listeners and the alert poller: summaries,
notices, alert messages, mrkdwn escaping, and the ids of what the bot renders."""
