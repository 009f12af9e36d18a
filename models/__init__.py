"""SQLAlchemy models: importing this package registers every table on Base.metadata."""

from models.audit import AuditEntry
from models.base import Base
from models.exceptions import ComplianceException
from models.hosts import Agent, AgentJob, Host, HostGroup, HostGroupMember
from models.monitoring import Alert, Incident, Notification, Webhook, WebhookDelivery
from models.patching import PatchDeployment, PatchDeploymentHost, PatchDeploymentPatch, RingSet, VulnerabilityPolicy
from models.policies import CompliancePolicy, PolicyHostOverride
from models.remediation import ChangeRecord, Remediation
from models.scans import CheckState, ComplianceScan, HostPolicyStatus, ScanCheckResult, ScanResults
from models.templates import AutomationWorkflow, ComplianceCheck, ComplianceTemplate, Script
from models.tenancy import ApiToken, EnrollmentToken, Membership, Organization, User
from models.vulnerabilities import (
    AffectedPackage,
    Cve,
    HostInventory,
    HostVulnerability,
    KevEntry,
    PackageSet,
    PackageSetItem,
    PackageSetVulnerability,
    Patch,
    PatchCve,
    VulnFeedStatus,
)

__all__ = [
    "Agent", "AgentJob", "Alert", "ApiToken", "AuditEntry", "AutomationWorkflow", "Base", "ChangeRecord",
    "CheckState", "ComplianceCheck", "ComplianceException", "CompliancePolicy", "ComplianceScan",
    "ComplianceTemplate", "EnrollmentToken", "Host", "HostGroup", "HostGroupMember", "HostPolicyStatus",
    "Incident", "Membership", "Notification", "Organization", "PolicyHostOverride", "Remediation",
    "ScanCheckResult", "ScanResults", "Script", "User", "Webhook", "WebhookDelivery",
    "AffectedPackage", "Cve", "HostInventory", "HostVulnerability", "KevEntry", "PackageSet", "PackageSetItem",
    "PackageSetVulnerability", "Patch", "PatchCve", "VulnFeedStatus",
    "PatchDeployment", "PatchDeploymentHost", "PatchDeploymentPatch", "RingSet", "VulnerabilityPolicy",
]
