"""The feed parsers read each source's published format (fixtures under tests/fixtures/vuln/)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from domain.errors import Unprocessable
from domain.vuln_kev import parse_catalog
from domain.vuln_nvd import parse_page, severity_of
from domain.vuln_osv import parse_document, parse_record

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "vuln"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def osv_zip(*names: str) -> bytes:
    """An ecosystem export as OSV publishes it: all.zip with one JSON file per record."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            for record in json.loads(fixture(name)):
                archive.writestr(f"{record['id']}.json", json.dumps(record))
    return buffer.getvalue()


def test_nvd_page_gives_english_description_and_the_primary_cvss_score():
    page = parse_page(json.loads(fixture("nvd_page.json")))
    by_id = {c.cve_id: c for c in page.cves}
    assert set(by_id) == {"CVE-2024-3094", "CVE-2023-4911", "CVE-2024-6387"}
    xz = by_id["CVE-2024-3094"]
    assert (xz.cvss_version, xz.cvss_score, xz.severity) == ("3.1", 10.0, "critical")
    assert xz.description.startswith("Malicious code was discovered in the upstream tarballs of xz")
    assert xz.published == datetime(2024, 3, 29, 17, 15, 21, 150000, tzinfo=UTC)
    assert (by_id["CVE-2023-4911"].cvss_score, by_id["CVE-2023-4911"].severity) == (7.8, "high")
    assert by_id["CVE-2024-6387"].severity == "high"
    assert page.next_index is None


def test_nvd_paging_follows_start_index_and_total():
    document = json.loads(fixture("nvd_page.json")) | {"resultsPerPage": 2, "startIndex": 0, "totalResults": 3}
    assert parse_page(document).next_index == 2
    assert parse_page(document | {"startIndex": 2}).next_index is None


def test_nvd_prefers_cvss_v4_when_present():
    document = json.loads(fixture("nvd_page.json"))
    metrics = document["vulnerabilities"][2]["cve"]["metrics"]
    metrics["cvssMetricV40"] = [{"source": "x", "type": "Secondary",
                                 "cvssData": {"version": "4.0", "baseScore": 9.2, "baseSeverity": "CRITICAL"}}]
    cve = parse_page(document).cves[2]
    assert (cve.cvss_version, cve.cvss_score, cve.severity) == ("4.0", 9.2, "critical")


@pytest.mark.parametrize(("score", "severity"), [(0.0, None), (3.9, "low"), (4.0, "medium"), (6.9, "medium"),
                                                  (7.0, "high"), (8.9, "high"), (9.0, "critical")])
def test_cvss_rating_boundaries(score, severity):
    assert severity_of(score) == severity


def test_kev_catalog_entries():
    entries = {e.cve_id: e for e in parse_catalog(json.loads(fixture("kev.json")))}
    glibc = entries["CVE-2023-4911"]
    assert (glibc.date_added, glibc.due_date, glibc.known_ransomware) == (date(2023, 11, 21), date(2023, 12, 12),
                                                                          False)
    assert entries["CVE-2021-44228"].known_ransomware is True
    assert entries["CVE-2021-44228"].product == "Log4j2"


def test_osv_debian_records_name_source_packages_and_fixed_versions():
    affected = parse_document(fixture("osv_debian.json"))
    glibc = next(a for a in affected if a.cve_id == "CVE-2023-4911")
    assert (glibc.ecosystem, glibc.package, glibc.fixed_version) == ("Debian:12", "glibc", "2.36-9+deb12u3")
    assert glibc.ranges == [{"events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u3"}]}]
    ssh = next(a for a in affected if a.cve_id == "CVE-2024-6387")
    assert ssh.fixed_version == "1:9.2p1-2+deb12u3" and ssh.advisory_id == "DEBIAN-CVE-2024-6387"


def test_osv_ubuntu_record_covers_each_lts_release():
    affected = parse_document(fixture("osv_ubuntu.json"))
    ssh = {a.ecosystem: a.fixed_version for a in affected if a.cve_id == "CVE-2024-6387"}
    assert ssh == {"Ubuntu:22.04:LTS": "1:8.9p1-3ubuntu0.10", "Ubuntu:24.04:LTS": "1:9.6p1-3ubuntu13.3"}


def test_osv_zip_export_reads_like_the_json_array():
    assert parse_document(osv_zip("osv_debian.json")) == parse_document(fixture("osv_debian.json"))


def test_withdrawn_osv_record_affects_nothing():
    record = json.loads(fixture("osv_debian.json"))[0] | {"withdrawn": "2024-10-01T00:00:00Z"}
    (glibc,) = parse_record(record)
    assert glibc.ranges == [] and glibc.fixed_version is None


@pytest.mark.parametrize(("parser", "document"), [
    (parse_page, {"vulnerabilities": "no"}), (parse_catalog, {"title": "x"}), (parse_page, [1, 2]),
])
def test_documents_of_another_shape_are_refused(parser, document):
    with pytest.raises(Unprocessable):
        parser(document)


def test_osv_garbage_is_refused():
    with pytest.raises(Unprocessable):
        parse_document(b"PK\x03\x04 not really a zip")
    with pytest.raises(Unprocessable):
        parse_document(b"{not json")
