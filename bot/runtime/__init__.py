"""The running product: the runtime context, durable jobs and the worker, timers and the scheduler, event
de-duplication, the HTTP server and the logging set-up.

May import: slack (the port and message shapes), redact, config, policy, store, clock. Never the domain
packages or the sandbox."""
