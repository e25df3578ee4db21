"""Talking to Slack: the port that delivers messages, the message shapes flows return, and Block Kit builders."""
