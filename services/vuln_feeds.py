"""Fetching the vulnerability sources (NVD CVE API 2.0, the CISA KEV catalog, OSV ecosystem exports) and importing
documents: what the daily sync and the air-gapped import (API, CLI) share."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from domain.errors import Unprocessable
from domain.vuln_kev import parse_catalog
from domain.vuln_nvd import parse_page
from domain.vuln_osv import parse_document
from services import vulnerabilities as feeds

log = logging.getLogger(__name__)
NVD_MAX_WINDOW = timedelta(days=120)
NVD_PAGE_SIZE = 2000
RATE_WINDOW_SECONDS = 30.0


@dataclass
class SyncOutcome:
    source: str
    status: str  # ok | not_modified | error
    records: int = 0
    error: str | None = None


def _json(content: bytes, source: str):
    try:
        return json.loads(content)
    except ValueError as exc:
        raise Unprocessable(f"{source} document is not JSON: {exc}") from exc


async def import_document(session: AsyncSession, source: str, content: bytes, now: datetime) -> int:
    """Import one document exactly as the source publishes it (an NVD response page, the KEV catalog, an OSV zip
    or JSON array of records), in the caller's transaction; the source's status row records the import."""
    if source == "nvd":
        cves = parse_page(_json(content, source)).cves
        await feeds.lock_feeds(session, exclusive=True)
        written = await feeds.import_nvd(session, cves)
    elif source == "kev":
        entries = parse_catalog(_json(content, source))
        await feeds.lock_feeds(session, exclusive=True)
        written = await feeds.import_kev(session, entries)
    elif source == "osv":
        affected = parse_document(content)
        await feeds.lock_feeds(session, exclusive=True)
        written = await feeds.import_osv(session, affected)
    else:
        raise Unprocessable(f"unknown feed source {source!r}: nvd, kev or osv")
    await feeds.record_feed_success(session, source, written, now, status="imported")
    return written


class RateLimit:
    """At most `requests` requests in any rolling `window` seconds (NVD: 5 per 30 s without a key, 50 with)."""

    def __init__(self, requests: int, window: float = RATE_WINDOW_SECONDS):
        self.requests, self.window = requests, window
        self._sent: list[float] = []

    async def wait(self) -> None:
        now = time.monotonic()
        self._sent = [t for t in self._sent if now - t < self.window]
        if len(self._sent) >= self.requests:
            await asyncio.sleep(self.window - (now - self._sent[0]))
        self._sent.append(time.monotonic())


def _nvd_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def _describe(exc: Exception, url: str) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"{url} answered HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TransportError):
        return f"{url} is unreachable: {type(exc).__name__}: {exc}"
    return f"{url}: {exc}"


class FeedSync:
    """Syncs one source from its configured URL into the database; a source that cannot be fetched or read leaves
    an error on its status row, and the others go on."""

    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings,
                 heartbeat: Callable[[str], None] = lambda _: None):
        self.sessionmaker, self.settings, self.heartbeat = sessionmaker, settings, heartbeat

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(self.settings.vuln_fetch_timeout_seconds),
                                 follow_redirects=True, headers={"User-Agent": "compliance-operations"})

    async def sync(self, source: str) -> SyncOutcome:
        run = {"nvd": self._sync_nvd, "kev": self._sync_kev, "osv": self._sync_osv}[source]
        try:
            return await run()
        except (httpx.HTTPError, Unprocessable) as exc:
            error = _describe(exc, getattr(getattr(exc, "request", None), "url", "") or source) \
                if isinstance(exc, httpx.HTTPError) else f"{source}: {exc.message}"
            log.warning("vulnerability feed %s failed: %s", source, error)
            async with self.sessionmaker() as session, session.begin():
                await feeds.record_feed_error(session, source, error, datetime.now(UTC))
            return SyncOutcome(source, "error", error=error)

    async def _sync_nvd(self) -> SyncOutcome:
        now = datetime.now(UTC)
        async with self.sessionmaker() as session:
            state = await feeds.feed_state(session, "nvd")
        start = state.cursor or now - timedelta(days=self.settings.vuln_nvd_initial_days)
        key = self.settings.nvd_api_key
        limit = RateLimit(self.settings.vuln_nvd_requests_per_window or (50 if key else 5))
        headers = {"apiKey": key} if key else {}
        written = 0
        async with self._client() as http:
            window_start = start
            while window_start < now:
                window_end = min(window_start + NVD_MAX_WINDOW, now)
                index: int | None = 0
                while index is not None:
                    await limit.wait()
                    response = await http.get(self.settings.vuln_nvd_url, headers=headers, params={
                        "lastModStartDate": _nvd_time(window_start), "lastModEndDate": _nvd_time(window_end),
                        "startIndex": index, "resultsPerPage": NVD_PAGE_SIZE})
                    response.raise_for_status()
                    page = parse_page(_json(response.content, "nvd"))
                    async with self.sessionmaker() as session, session.begin():
                        await feeds.lock_feeds(session, exclusive=True)
                        written += await feeds.import_nvd(session, page.cves)
                    self.heartbeat(f"nvd {window_start:%Y-%m-%d} page at {index}")
                    index = page.next_index
                window_start = window_end
        async with self.sessionmaker() as session, session.begin():
            await feeds.record_feed_success(session, "nvd", written, datetime.now(UTC), cursor=now)
        return SyncOutcome("nvd", "ok", written)

    async def _conditional_get(self, http: httpx.AsyncClient, url: str, validators: dict) -> httpx.Response:
        headers = {}
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("last_modified"):
            headers["If-Modified-Since"] = validators["last_modified"]
        response = await http.get(url, headers=headers)
        if response.status_code != 304:
            response.raise_for_status()
        return response

    @staticmethod
    def _validators(response: httpx.Response) -> dict:
        return {k: v for k, v in (("etag", response.headers.get("ETag")),
                                  ("last_modified", response.headers.get("Last-Modified"))) if v}

    async def _sync_kev(self) -> SyncOutcome:
        async with self.sessionmaker() as session:
            state = await feeds.feed_state(session, "kev")
        async with self._client() as http:
            response = await self._conditional_get(http, self.settings.vuln_kev_url, state.validators)
        if response.status_code == 304:
            async with self.sessionmaker() as session, session.begin():
                await feeds.record_feed_success(session, "kev", 0, datetime.now(UTC), status="not_modified")
            return SyncOutcome("kev", "not_modified")
        entries = parse_catalog(_json(response.content, "kev"))
        async with self.sessionmaker() as session, session.begin():
            await feeds.lock_feeds(session, exclusive=True)
            written = await feeds.import_kev(session, entries)
            await feeds.record_feed_success(session, "kev", written, datetime.now(UTC),
                                            validators=self._validators(response))
        return SyncOutcome("kev", "ok", written)

    async def _sync_osv(self) -> SyncOutcome:
        """Each ecosystem's export is fetched and imported on its own; one that fails is named in the error and
        the others are still imported."""
        async with self.sessionmaker() as session:
            state = await feeds.feed_state(session, "osv")
        validators, written, failures = dict(state.validators), 0, []
        base = self.settings.vuln_osv_url.rstrip("/")
        async with self._client() as http:
            for ecosystem in self.settings.vuln_osv_ecosystem_list:
                url = f"{base}/{quote(ecosystem, safe=':')}/all.zip"
                try:
                    response = await self._conditional_get(http, url, validators.get(ecosystem, {}))
                    if response.status_code == 304:
                        continue
                    affected = parse_document(response.content)
                except (httpx.HTTPError, Unprocessable) as exc:
                    failures.append(_describe(exc, url) if isinstance(exc, httpx.HTTPError)
                                    else f"{url}: {exc.message}")
                    continue
                async with self.sessionmaker() as session, session.begin():
                    await feeds.lock_feeds(session, exclusive=True)
                    written += await feeds.import_osv(session, affected)
                validators[ecosystem] = self._validators(response)
                self.heartbeat(f"osv {ecosystem}")
        now = datetime.now(UTC)
        async with self.sessionmaker() as session, session.begin():
            if failures:
                await feeds.record_feed_error(session, "osv", "; ".join(failures), now)
            else:
                await feeds.record_feed_success(session, "osv", written, now, validators=validators)
        if failures:
            return SyncOutcome("osv", "error", written, "; ".join(failures))
        return SyncOutcome("osv", "ok", written)
