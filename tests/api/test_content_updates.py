"""Shipping new built-in content reaches an existing installation: the bootstrap publishes a new version of each
system template whose checks changed and updates changed built-in scripts; unchanged content is left alone."""

from __future__ import annotations

from sqlalchemy import select, update

from models import ComplianceCheck, ComplianceTemplate, Script
from stack.seed import seed_system_content


async def system_template(db, key: str) -> ComplianceTemplate:
    return await db.scalar(select(ComplianceTemplate).where(ComplianceTemplate.content_key == key,
                                                            ComplianceTemplate.is_system)
                           .execution_options(populate_existing=True))


async def test_unchanged_content_changes_nothing(db):
    again = await seed_system_content(db)
    assert (again.templates_created, again.templates_updated, again.scripts_updated) == (0, 0, 0)


async def test_changed_checks_publish_a_new_version_in_the_same_lineage(db):
    old = await system_template(db, "cis-linux-l1")
    first = await db.scalar(select(ComplianceCheck).where(ComplianceCheck.template_id == old.id)
                            .order_by(ComplianceCheck.position).limit(1))
    shipped_title = first.title
    await db.execute(update(ComplianceCheck).where(ComplianceCheck.id == first.id).values(title="an older wording"))
    script = await db.scalar(select(Script).where(Script.org_id.is_(None)).limit(1))
    shipped_body = script.body
    await db.execute(update(Script).where(Script.id == script.id).values(body="echo old", sha256="0" * 64))
    await db.flush()

    seeded = await seed_system_content(db)
    assert (seeded.templates_created, seeded.templates_updated, seeded.scripts_updated) == (0, 1, 1)
    new = await system_template(db, "cis-linux-l1")
    assert new.id != old.id and (new.lineage_id, new.version, new.status) == (old.lineage_id, old.version + 1,
                                                                             "published")
    await db.refresh(old)
    assert old.content_key is None and old.is_system  # the old version stays for policies pinned to it
    titles = (await db.scalars(select(ComplianceCheck.title).where(ComplianceCheck.template_id == new.id)
                               .order_by(ComplianceCheck.position))).all()
    assert titles[0] == shipped_title
    await db.refresh(script)
    assert script.body == shipped_body
    assert (await seed_system_content(db)).templates_updated == 0
