"""Which template version a host is actually scanned with, given its policy's pin and any host override."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    id: uuid.UUID
    lineage_id: uuid.UUID
    version: int
    status: str
    is_system: bool = False

    @property
    def is_published(self) -> bool:
        # System templates are read-only and always usable, whatever status they were seeded with.
        return self.is_system or self.status == "published"


def resolve_template(
    policy_template: TemplateVersion,
    pinned_version: int | None,
    override_template: TemplateVersion | None,
    lineage_versions: Mapping[uuid.UUID, Sequence[TemplateVersion]],
) -> TemplateVersion | None:
    """The template to scan with, or None when the policy points at nothing scannable.

    A host override is taken as it is. Otherwise the policy's lineage decides: a pinned version must exist
    and be published; no pin means the newest published version.
    """
    if override_template is not None:
        return override_template

    versions = {policy_template.id: policy_template}
    versions.update((v.id, v) for v in lineage_versions.get(policy_template.lineage_id, ()))
    lineage = [v for v in versions.values() if v.lineage_id == policy_template.lineage_id]

    if pinned_version is not None:
        pinned = [v for v in lineage if v.version == pinned_version and v.is_published]
        return pinned[0] if pinned else None

    published = [v for v in lineage if v.is_published]
    return max(published, key=lambda v: (v.version, v.id)) if published else None
