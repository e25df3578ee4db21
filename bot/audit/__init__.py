"""The hash-chained audit log: appended in the caller's transaction, verified link by link, exported per incident.

May import: store, clock. Imported by the domain packages, the CLI and commands."""
