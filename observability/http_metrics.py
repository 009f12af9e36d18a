"""The API's Prometheus figures: requests by method, route template and status, their latency, and agent polls.

Served at `/metrics` by the API itself. Each app has its own registry, so the figures of one process are those of
its app alone; several API processes behind one address are scraped one by one (one target per process).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLIENT_CLOSED = 499  # nginx's status for a request whose client closed the connection before the answer
UNMATCHED = "unmatched"  # no route: scanners' random paths must not become label values
# Agents long-poll for up to a minute, so the buckets reach past it; their route is excluded from latency panels.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class HttpMetrics:
    def __init__(self, agent_jobs_route: str) -> None:
        self.agent_jobs_route = agent_jobs_route
        self.registry = CollectorRegistry()
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)
        self.requests = Counter(
            "compliance_http_requests", "HTTP requests answered by the API, by method, route template and status",
            ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "compliance_http_request_duration_seconds", "Time to answer an API request, by method and route template",
            ["method", "route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.agent_polls = Counter(
            "compliance_agent_polls", "Agent long-polls for jobs (GET /api/v1/agent/jobs), by outcome: "
            "jobs (some handed out), empty (the wait ended without work) or rejected (any other status)",
            ["outcome"], registry=self.registry)
        self.agent_jobs_handed_out = Counter(
            "compliance_agent_jobs_handed_out", "Jobs handed to agents, by their polls and by result posts that "
            "carry the next poll", registry=self.registry)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    def install(self, app: FastAPI) -> None:
        """The middleware (outermost, so latency includes the others) and the unauthenticated `/metrics`."""
        app.add_middleware(MetricsMiddleware, metrics=self, routes=RouteTemplates(app))
        app.add_api_route("/metrics", self.render, methods=["GET"], include_in_schema=False, tags=["ops"])

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def observe_poll(self, status: int, jobs: int) -> None:
        if status != 200:
            self.agent_polls.labels("rejected").inc()
            return
        self.agent_polls.labels("jobs" if jobs else "empty").inc()


class RouteTemplates:
    """The full template (`/api/v1/hosts/{host_id}`) of the route that answered a request.

    The route in the request scope carries its own path, without the prefixes of the routers it was included in;
    the full templates come from the app's route table, read once. A route included under several prefixes
    (health under / and /api/v1) is told apart by matching the path against its few templates."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self._templates: dict[int, list[tuple[str, re.Pattern | None]]] | None = None

    def _table(self) -> dict[int, list[tuple[str, re.Pattern | None]]]:
        if self._templates is None:
            table: dict[int, list[tuple[str, re.Pattern | None]]] = defaultdict(list)
            for context in iter_route_contexts(self.app.routes):
                table[id(context.original_route)].append(
                    (context.path_format or context.path, getattr(context, "path_regex", None)))
            self._templates = dict(table)
        return self._templates

    def __call__(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED
        candidates = self._table().get(id(route))
        if not candidates:
            return getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED
        if len(candidates) > 1:
            for template, regex in candidates:
                if regex is not None and regex.match(scope["path"]):
                    return template
        return candidates[0][0]


def note_jobs_handed_out(request: Request, jobs: int) -> None:
    """Called by the gateway when a request hands jobs to its agent (a poll, or a result post's next poll)."""
    request.state.jobs_handed_out = jobs


class MetricsMiddleware:
    """Counts and times every HTTP request under its route template (`/api/v1/hosts/{host_id}`, never the id),
    and counts the jobs handed to agents: the gateway notes them in the request's state (note_jobs_handed_out),
    so an answer of tens of kilobytes of jobs is never read back to count them."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics, routes: RouteTemplates) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        started = time.perf_counter()
        status = 500  # what the server error middleware answers when the app raises before responding
        started_response = finished = False

        async def send_measured(message: Message) -> None:
            nonlocal status, started_response, finished
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True

        try:
            await self.app(scope, receive, send_measured)
        except asyncio.CancelledError:
            if not started_response:
                status = CLIENT_CLOSED  # the client went away (an agent stopping mid long-poll): not a failure
            raise
        finally:
            route = self.routes(scope)
            self.metrics.observe(method, route, status, time.perf_counter() - started)
            # Jobs count as handed out only when the answer went out whole (the agent may have gone away mid-way).
            jobs = scope.get("state", {}).get("jobs_handed_out", 0) if finished and status == 200 else 0
            if method == "GET" and route == self.metrics.agent_jobs_route and started_response:
                self.metrics.observe_poll(status, jobs)
            if jobs:
                self.metrics.agent_jobs_handed_out.inc(jobs)
