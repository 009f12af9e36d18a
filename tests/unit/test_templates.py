import uuid

from domain.templates import TemplateVersion, resolve_template

LINEAGE = uuid.UUID(int=1)
OTHER_LINEAGE = uuid.UUID(int=2)


def version(n: int, status: str = "published", *, lineage: uuid.UUID = LINEAGE, system=False):
    return TemplateVersion(uuid.UUID(int=100 * lineage.int + n), lineage, n, status, is_system=system)


V1, V2, V3_DRAFT = version(1), version(2), version(3, "draft")
LINEAGES = {LINEAGE: [V1, V2, V3_DRAFT]}


def test_host_override_wins_as_it_is():
    override = version(5, "draft", lineage=OTHER_LINEAGE)
    assert resolve_template(V1, None, override, LINEAGES) is override
    assert resolve_template(V1, 2, override, LINEAGES) is override


def test_pinned_published_version_is_used():
    assert resolve_template(V2, 1, None, LINEAGES) == V1


def test_pinned_draft_version_resolves_to_nothing():
    assert resolve_template(V1, 3, None, LINEAGES) is None


def test_pinned_version_that_does_not_exist_resolves_to_nothing():
    assert resolve_template(V1, 9, None, LINEAGES) is None


def test_auto_latest_picks_the_newest_published_version_skipping_drafts():
    assert resolve_template(V1, None, None, LINEAGES) == V2


def test_auto_latest_ignores_list_order():
    assert resolve_template(V1, None, None, {LINEAGE: [V3_DRAFT, V2, V1]}) == V2


def test_auto_latest_with_only_drafts_resolves_to_nothing():
    draft = version(1, "draft")
    assert resolve_template(draft, None, None, {LINEAGE: [draft]}) is None


def test_policy_template_counts_even_if_missing_from_the_lineage_map():
    assert resolve_template(V1, None, None, {}) == V1
    assert resolve_template(V1, 1, None, {}) == V1


def test_other_lineages_are_never_picked():
    foreign = version(7, lineage=OTHER_LINEAGE)
    assert resolve_template(V1, None, None, {LINEAGE: [V1, foreign]}) == V1
    assert resolve_template(V1, 7, None, {LINEAGE: [V1, foreign]}) is None


def test_system_templates_count_as_published():
    system = version(1, "draft", system=True)
    assert system.is_published
    assert resolve_template(system, None, None, {LINEAGE: [system]}) == system
    assert resolve_template(system, 1, None, {LINEAGE: [system]}) == system
