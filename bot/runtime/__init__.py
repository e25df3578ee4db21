"""The running product: the runtime context, durable jobs and the worker, timers and the scheduler, the HTTP server."""
