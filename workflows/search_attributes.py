"""Typed search attributes that make scans and remediations findable in the Temporal Web UI."""

from temporalio.common import SearchAttributeKey

ORG_ID = SearchAttributeKey.for_keyword("OrgId")
POLICY_ID = SearchAttributeKey.for_keyword("PolicyId")
SCAN_TYPE = SearchAttributeKey.for_keyword("ScanType")
HOST_ID = SearchAttributeKey.for_keyword("HostId")

ALL = (ORG_ID, POLICY_ID, SCAN_TYPE, HOST_ID)
