"""Steward: a Slack incident assistant (the application core; no Slack listeners here)."""
