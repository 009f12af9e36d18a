"""The SAMPLE feed of `make run`: real documents of each source, labelled `sample`, never over real data."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from domain.vuln_osv import parse_document
from domain.vuln_versions import is_affected
from models import VulnFeedStatus
from services.vuln_feeds import import_document
from stack.sample_feed import FOLDER, import_sample_feed

NOW = datetime(2026, 11, 30, tzinfo=UTC)


async def statuses(db) -> dict[str, str]:
    return dict((await db.execute(select(VulnFeedStatus.source, VulnFeedStatus.status))).all())


async def test_the_sample_feed_is_imported_once_and_labelled_sample(db):
    first = await import_sample_feed(db, NOW)
    second = await import_sample_feed(db, NOW)
    assert first.imported and first.written == {"nvd": 5, "kev": 2, "osv": 5}
    assert "SAMPLE" in first.line()
    assert second.imported and second.written == {"nvd": 0, "kev": 0, "osv": 0}
    assert await statuses(db) == {"nvd": "sample", "kev": "sample", "osv": "sample"}


async def test_the_sample_feed_stays_out_once_a_real_feed_was_imported(db):
    await import_document(db, "kev", (FOLDER / "kev.json").read_bytes(), NOW)
    report = await import_sample_feed(db, NOW)
    assert not report.imported and "not imported" in report.line()
    assert (await statuses(db))["kev"] == "imported"


def test_an_up_to_date_bookworm_host_matches_only_what_debian_left_unfixed():
    """The sample keeps Debian 12's real fixed versions: a host at or past them is not affected (libwebp is at
    exactly the fixed version), and only perl's CVE-2011-4116, which bookworm never fixed, stays open."""
    installed = {"glibc": "2.36-9+deb12u14", "openssh": "1:9.2p1-2+deb12u6", "curl": "7.88.1-10+deb12u14",
                 "libwebp": "1.2.4-0.2+deb12u1", "perl": "5.36.0-7+deb12u4"}
    affected = parse_document((FOLDER / "osv_debian12.json").read_bytes())
    open_cves = sorted(a.cve_id for a in affected if is_affected(a.ecosystem, installed[a.package], a.ranges))
    assert open_cves == ["CVE-2011-4116"]
    older = {"glibc": "2.36-9+deb12u1", "libwebp": "1.2.4-0.2"}
    assert all(is_affected(a.ecosystem, older[a.package], a.ranges) for a in affected if a.package in older)
