"""Vulnerabilities: CVEs from the feeds, KEV entries, affected package ranges, patches, the feed status, stored
package sets (content-addressed, shared by hosts) and the host vulnerabilities matching finds."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index, Integer, Sequence, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamps, UUIDPk

# Every write of an affected-package row takes the next value: a package set matched up to N only needs the
# rows changed after N (incremental matching).
CHANGE_SEQ = Sequence("vuln_change_seq")
FEED_SOURCES = ("nvd", "kev", "osv")


class Cve(Base):
    """One CVE; a row appears as soon as any source names it, NVD fills in the details."""

    __tablename__ = "cves"
    __table_args__ = (
        CheckConstraint("severity IS NULL OR severity IN ('low', 'medium', 'high', 'critical')", name="severity"),
        Index("ix_cves_severity", "severity"),
    )

    cve_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    published: Mapped[datetime | None]
    last_modified: Mapped[datetime | None]
    description: Mapped[str | None] = mapped_column(Text)
    cvss_version: Mapped[str | None] = mapped_column(String(8))
    cvss_score: Mapped[float | None] = mapped_column(Float)
    severity: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class KevEntry(Base):
    __tablename__ = "kev_entries"

    cve_id: Mapped[str] = mapped_column(ForeignKey("cves.cve_id", ondelete="CASCADE"), primary_key=True)
    vendor: Mapped[str | None] = mapped_column(String(200))
    product: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(Text)
    date_added: Mapped[date | None]
    due_date: Mapped[date | None]
    known_ransomware: Mapped[bool] = mapped_column(server_default=text("false"))
    required_action: Mapped[str | None] = mapped_column(Text)


class AffectedPackage(Base):
    """A CVE's effect on one source package of one ecosystem (OSV ranges as stored events)."""

    __tablename__ = "affected_packages"
    __table_args__ = (Index("ix_affected_packages_ecosystem_package", "ecosystem", "package"),)

    cve_id: Mapped[str] = mapped_column(ForeignKey("cves.cve_id", ondelete="CASCADE"), primary_key=True)
    ecosystem: Mapped[str] = mapped_column(String(64), primary_key=True)
    package: Mapped[str] = mapped_column(String(200), primary_key=True)
    ranges: Mapped[list]
    fixed_version: Mapped[str | None] = mapped_column(String(200))
    advisory_id: Mapped[str | None] = mapped_column(String(100))
    change_seq: Mapped[int] = mapped_column(BigInteger, CHANGE_SEQ, server_default=CHANGE_SEQ.next_value(),
                                            index=True)
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class Patch(UUIDPk, Base):
    """A fixed version of a package in an ecosystem; linked to every CVE it fixes (patch_cves)."""

    __tablename__ = "patches"
    __table_args__ = (Index("uq_patches_ecosystem_package_version", "ecosystem", "package", "fixed_version",
                            unique=True),)

    ecosystem: Mapped[str] = mapped_column(String(64))
    package: Mapped[str] = mapped_column(String(200))
    fixed_version: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class PatchCve(Base):
    __tablename__ = "patch_cves"

    patch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patches.id", ondelete="CASCADE"), primary_key=True)
    cve_id: Mapped[str] = mapped_column(ForeignKey("cves.cve_id", ondelete="CASCADE"), primary_key=True, index=True)


class VulnFeedStatus(Base):
    """One row per source: the last attempt, success and error, what the last run wrote, and the cursor and
    HTTP validators (ETag / Last-Modified) that make the next run incremental or conditional."""

    __tablename__ = "vuln_feed_status"
    __table_args__ = (CheckConstraint("source IN ('nvd', 'kev', 'osv')", name="source"),)

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), server_default="never")
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    records: Mapped[int] = mapped_column(Integer, server_default="0")
    cursor: Mapped[datetime | None]
    validators: Mapped[dict] = mapped_column(server_default=text("'{}'::jsonb"))


class PackageSet(Base):
    """A distinct package list of one ecosystem, addressed by its digest; matched up to `matched_seq`."""

    __tablename__ = "package_sets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    ecosystem: Mapped[str | None] = mapped_column(String(64))
    package_count: Mapped[int] = mapped_column(Integer)
    matched_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class PackageSetItem(Base):
    __tablename__ = "package_set_items"
    __table_args__ = (Index("ix_package_set_items_set_match", "package_set_id", "match_name"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    package_set_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("package_sets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(500))
    version: Mapped[str] = mapped_column(String(500))
    source_name: Mapped[str | None] = mapped_column(String(500))
    source_version: Mapped[str | None] = mapped_column(String(500))
    arch: Mapped[str | None] = mapped_column(String(500))
    match_name: Mapped[str] = mapped_column(String(500))
    match_version: Mapped[str] = mapped_column(String(500))


class HostInventory(Base):
    """A host's latest inventory: a pointer to its package set (none when the host's system is unsupported)."""

    __tablename__ = "host_inventories"
    __table_args__ = (Index("ix_host_inventories_org", "org_id"),
                      Index("ix_host_inventories_package_set", "package_set_id"))

    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    package_set_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("package_sets.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    os_id: Mapped[str | None] = mapped_column(String(64))
    os_version_id: Mapped[str | None] = mapped_column(String(64))
    ecosystem: Mapped[str | None] = mapped_column(String(64))
    collected_at: Mapped[datetime]


class PackageSetVulnerability(Base):
    """What matching found for one package set: shared by every host that points at the set."""

    __tablename__ = "package_set_vulnerabilities"

    package_set_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("package_sets.id", ondelete="CASCADE"),
                                                      primary_key=True)
    cve_id: Mapped[str] = mapped_column(ForeignKey("cves.cve_id", ondelete="CASCADE"), primary_key=True)
    package: Mapped[str] = mapped_column(String(200), primary_key=True)
    installed_version: Mapped[str] = mapped_column(String(500))
    fixed_version: Mapped[str | None] = mapped_column(String(200))


class HostVulnerability(UUIDPk, Timestamps, Base):
    __tablename__ = "host_vulnerabilities"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'resolved')", name="status"),
        Index("uq_host_vulnerabilities_host_cve_package", "host_id", "cve_id", "package", unique=True),
        Index("ix_host_vulnerabilities_org_status", "org_id", "status"),
        Index("ix_host_vulnerabilities_cve_status", "cve_id", "status"),
    )

    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    host_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hosts.id", ondelete="CASCADE"))
    cve_id: Mapped[str] = mapped_column(ForeignKey("cves.cve_id", ondelete="CASCADE"))
    package: Mapped[str] = mapped_column(String(200))
    installed_version: Mapped[str] = mapped_column(String(500))
    fixed_version: Mapped[str | None] = mapped_column(String(200))
    patch_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patches.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
