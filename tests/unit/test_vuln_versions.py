"""Package versions compare in each ecosystem's own order (dpkg, rpm), and OSV ranges use it."""

from __future__ import annotations

import pytest

from domain.vuln_inventory import read_result
from domain.vuln_versions import compare, ecosystem_of, is_affected


@pytest.mark.parametrize(("lower", "higher"), [
    ("2.0", "1:1.0"),                          # an epoch outweighs everything after it
    ("1:9.9p1-1", "2:0.1-1"),
    ("1.0~rc1", "1.0"),                        # ~ sorts before the empty string: a pre-release
    ("1.0~~", "1.0~"),
    ("1.0~rc1-1", "1.0-1"),
    ("1.0-1", "1.0-1+deb12u1"),                # revisions: a stable update sorts after its base
    ("2.36-9+deb12u1", "2.36-9+deb12u3"),
    ("1.0-9", "1.0-10"),                       # numeric parts compare as numbers
    ("1.0-1", "1.0.1-1"),
    ("5.6.0-0.2", "5.6.1+really5.4.5-1"),
    ("1:8.9p1-3ubuntu0.7", "1:8.9p1-3ubuntu0.10"),
    ("1.2a", "1.2b"),
    ("1.0", "1.0-0.1"),                        # no revision sorts before any revision
])
def test_dpkg_order(lower, higher):
    assert compare("Debian:12", lower, higher) == -1
    assert compare("Debian:12", higher, lower) == 1


def test_dpkg_equal_versions_and_zero_epoch():
    assert compare("Ubuntu:22.04:LTS", "0:1.0-1", "1.0-1") == 0


@pytest.mark.parametrize(("lower", "higher"), [
    ("2.34-60.el9", "2.34-83.el9_3.7"),
    ("1.0-1.el9", "1:0.5-1.el9"),
    ("1.0~beta-1", "1.0-1"),
    ("9.0p1-19.el9", "9.0p1-19.el9_4.1"),
])
def test_rpm_order(lower, higher):
    assert compare("AlmaLinux:9", lower, higher) == -1


def test_unknown_ecosystem_cannot_compare():
    with pytest.raises(ValueError):
        compare("FreeBSD:14", "1.0", "2.0")


def test_fixed_version_is_not_affected_and_introduced_is():
    ranges = [{"events": [{"introduced": "1:8.5p1-1"}, {"fixed": "1:9.2p1-2+deb12u3"}]}]
    assert is_affected("Debian:12", "1:9.2p1-2+deb12u2", ranges)
    assert is_affected("Debian:12", "1:8.5p1-1", ranges)
    assert not is_affected("Debian:12", "1:9.2p1-2+deb12u3", ranges)
    assert not is_affected("Debian:12", "1:8.4p1-5", ranges)


def test_several_ranges_and_last_affected():
    ranges = [{"events": [{"introduced": "0"}, {"fixed": "1.0-2"}, {"introduced": "2.0-1"},
                          {"last_affected": "2.1-1"}]}]
    expected = {"0.9-1": True, "1.0-2": False, "1.5-1": False, "2.0-1": True, "2.1-1": True, "2.1-2": False}
    assert {v: is_affected("Debian:12", v, ranges) for v in expected} == expected


def test_explicit_versions_list_without_ranges():
    assert is_affected("Debian:12", "1.0-1", [{"versions": ["1.0-1"]}])
    assert not is_affected("Debian:12", "1.0-2", [{"versions": ["1.0-1"]}])


@pytest.mark.parametrize(("os_id", "version_id", "ecosystem"), [
    ("debian", "12", "Debian:12"), ("debian", "11", "Debian:11"), ("ubuntu", "22.04", "Ubuntu:22.04:LTS"),
    ("ubuntu", "24.04", "Ubuntu:24.04:LTS"), ("ubuntu", "23.10", "Ubuntu:23.10"), ("almalinux", "9.4", "AlmaLinux:9"),
    ("arch", "rolling", None), (None, None, None),
])
def test_ecosystem_from_os_release(os_id, version_id, ecosystem):
    assert ecosystem_of(os_id, version_id) == ecosystem


def test_same_packages_in_any_order_share_one_digest():
    packages = [{"name": "libc6", "version": "2.36-9+deb12u1", "source_name": "glibc", "arch": "amd64"},
                {"name": "openssh-server", "version": "1:9.2p1-2+deb12u3", "source_name": "openssh"}]
    one = read_result({"os": {"id": "debian", "version_id": "12"}, "packages": packages})
    other = read_result({"os": {"id": "debian", "version_id": "12"}, "packages": packages[::-1] + packages[:1]})
    assert one.digest == other.digest and len(other.packages) == 2
    assert one.packages[0].match_name == "glibc" and one.packages[0].match_version == "2.36-9+deb12u1"
    assert read_result({"os": {"id": "debian", "version_id": "11"}, "packages": packages}).digest != one.digest
    assert read_result({"status": "unsupported"}).supported is False
