"""The one redaction function and the Slack-safe quoting of untrusted text."""
