"""Status updates: drafting with its guards (pure), publish and discard, resolving, and update reminders."""
