"""The bundled SAMPLE vulnerability feed of `make run`: a few real CVEs in the sources' own document formats
(stack/sample_feed/), imported through the same path as `POST /vulnerabilities/feeds/{source}/import`, so the
local host's real inventory has something to be matched against before the real feeds are reached.

The feed status rows say `sample` until a real sync or import replaces them. Never used in production: only the
development seed (`compliance bootstrap --demo-data`, which `make run` passes) calls it, and only while no
source has been synced or imported for real."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.vuln_feeds import import_document

FOLDER = Path(__file__).resolve().parent / "sample_feed"
DOCUMENTS = (("nvd", "nvd_page.json"), ("kev", "kev.json"), ("osv", "osv_debian12.json"))
SAMPLE_STATUS = "sample"


@dataclass
class SampleFeedReport:
    imported: bool
    written: dict[str, int]

    def line(self) -> str:
        if not self.imported:
            return "  vulnerability feeds: real data present, sample feed not imported"
        counts = ", ".join(f"{source} {count}" for source, count in self.written.items())
        return (f"  vulnerability feeds: SAMPLE feed imported from {FOLDER.relative_to(FOLDER.parents[1])} "
                f"({counts} records written) - not the real sources; see README 'Vulnerabilities'")


async def real_feed_present(session: AsyncSession) -> bool:
    """Whether any source has been synced or imported for real (its status is neither `never` nor `sample`)."""
    return bool(await session.scalar(text(
        "SELECT count(*) FROM vuln_feed_status WHERE status NOT IN ('never', :sample)"), {"sample": SAMPLE_STATUS}))


async def import_sample_feed(session: AsyncSession, now: datetime) -> SampleFeedReport:
    """Import the sample documents and label the sources `sample`; idempotent (a second run writes nothing new)
    and a no-op once a real feed is there, so it never overwrites real data."""
    if await real_feed_present(session):
        return SampleFeedReport(imported=False, written={})
    written = {source: await import_document(session, source, (FOLDER / name).read_bytes(), now)
               for source, name in DOCUMENTS}
    await session.execute(text("UPDATE vuln_feed_status SET status = :sample "
                               "WHERE source = ANY(CAST(:sources AS text[]))"),
                          {"sample": SAMPLE_STATUS, "sources": [source for source, _ in DOCUMENTS]})
    return SampleFeedReport(imported=True, written=written)


async def match_local_host(temporal_address: str) -> bool:
    """Ask for inventories and match now (the vuln-host-matching schedule's own action), so the local agent's
    packages are matched against the sample feed at start instead of 6 hours later. False when Temporal did not
    accept it."""
    from temporalio.service import RPCError

    from config import Settings
    from orchestration.gateway import TemporalGateway

    try:
        await TemporalGateway(Settings.model_construct(temporal_address=temporal_address)).trigger_vuln_matching()
    except RPCError:
        return False
    return True
