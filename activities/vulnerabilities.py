"""Activities of the vulnerability workflows: sync a feed source, ask hosts for inventories, store them, match."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from temporalio import activity

from config import Settings
from orchestration.types import (
    FeedOutcome,
    InventoryRequestInput,
    InventoryRequests,
    MatchOrgInput,
    OrgInventoryJobs,
    OrgMatchResult,
    StoredInventories,
    StoreInventoriesInput,
    SyncFeedInput,
)
from services import vuln_matching
from services.vuln_feeds import FeedSync


class VulnerabilityActivities:
    def __init__(self, sessionmaker: async_sessionmaker, settings: Settings):
        self.sessionmaker = sessionmaker
        self.settings = settings

    def all(self) -> list:
        return [self.sync_vuln_feed, self.request_inventories, self.store_inventories, self.match_vulnerabilities]

    @activity.defn(name="sync_vuln_feed")
    async def sync_vuln_feed(self, params: SyncFeedInput) -> FeedOutcome:
        """A source that cannot be fetched or read is an outcome (its status row says why), not a failure:
        the other sources and the matching still run. Database errors raise and are retried."""
        outcome = await FeedSync(self.sessionmaker, self.settings, heartbeat=activity.heartbeat).sync(params.source)
        return FeedOutcome(source=outcome.source, status=outcome.status, records=outcome.records,
                           error=outcome.error)

    @activity.defn(name="request_inventories")
    async def request_inventories(self, params: InventoryRequestInput) -> InventoryRequests:
        async with self.sessionmaker() as session, session.begin():
            ask = await vuln_matching.request_inventories(
                session, datetime.now(UTC), timedelta(seconds=self.settings.host_online_window_seconds),
                timedelta(hours=params.max_age_hours))
        orgs = [OrgInventoryJobs(org_id=str(org), job_ids=[str(job) for job in ask.jobs.get(org, [])])
                for org in ask.orgs]
        return InventoryRequests(orgs=orgs, asked=ask.asked)

    @activity.defn(name="store_inventories")
    async def store_inventories(self, params: StoreInventoriesInput) -> StoredInventories:
        async with self.sessionmaker() as session, session.begin():
            batch = await vuln_matching.store_inventories(session, [uuid.UUID(i) for i in params.completed_job_ids],
                                                          [uuid.UUID(i) for i in params.timed_out_job_ids])
        return StoredInventories(stored=batch.stored, new_package_sets=batch.new_package_sets,
                                 timed_out=batch.timed_out)

    @activity.defn(name="match_vulnerabilities")
    async def match_vulnerabilities(self, params: MatchOrgInput) -> OrgMatchResult:
        async with self.sessionmaker() as session, session.begin():
            match = await vuln_matching.match_org(session, uuid.UUID(params.org_id), datetime.now(UTC))
        return OrgMatchResult(org_id=params.org_id, package_sets_matched=match.package_sets_matched,
                              opened=match.opened, open=match.open, resolved=match.resolved,
                              alerts_raised=match.alerts_raised, deployment_ids=[str(d) for d in match.deployment_ids])
