"""Watching the system run: Prometheus metrics of the API and the worker, log formats, optional tracing."""
