"""Serving: the HTTP API, its contract, the served model and its fast path, logs and metrics."""
