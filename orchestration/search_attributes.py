"""Typed search attributes that make every workflow findable in the Temporal Web UI (OrgId wherever one
organization is concerned)."""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

ORG_ID = SearchAttributeKey.for_keyword("OrgId")
POLICY_ID = SearchAttributeKey.for_keyword("PolicyId")
SCAN_TYPE = SearchAttributeKey.for_keyword("ScanType")
HOST_ID = SearchAttributeKey.for_keyword("HostId")

ALL = (ORG_ID, POLICY_ID, SCAN_TYPE, HOST_ID)


def scan_attributes(org_id: str, policy_id: str, scan_type: str, host_id: str | None = None) -> TypedSearchAttributes:
    pairs = [SearchAttributePair(ORG_ID, org_id), SearchAttributePair(POLICY_ID, policy_id),
             SearchAttributePair(SCAN_TYPE, scan_type)]
    if host_id is not None:
        pairs.append(SearchAttributePair(HOST_ID, host_id))
    return TypedSearchAttributes(pairs)


def remediation_attributes(org_id: str, policy_id: str, host_id: str) -> TypedSearchAttributes:
    return scan_attributes(org_id, policy_id, "remediation", host_id)


def org_attributes(org_id: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(ORG_ID, org_id)])


def cycle_attributes() -> TypedSearchAttributes:
    """The scan cycle concerns every organization: it is found by its scan type."""
    return TypedSearchAttributes([SearchAttributePair(SCAN_TYPE, "scheduled")])


def exception_attributes(org_id: str, host_id: str | None) -> TypedSearchAttributes:
    pairs = [SearchAttributePair(ORG_ID, org_id)]
    if host_id is not None:
        pairs.append(SearchAttributePair(HOST_ID, host_id))
    return TypedSearchAttributes(pairs)
