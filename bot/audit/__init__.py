"""The hash-chained audit log: appended in the caller's transaction, verified link by link, exported per incident."""
