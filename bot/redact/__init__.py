"""The one redaction function (rules, and a prefilter whose triggers are derived from the rules) and the Slack-safe
quoting of untrusted text.

May import: config, policy, store, clock, errors; imports nothing of Slack or the domain."""
