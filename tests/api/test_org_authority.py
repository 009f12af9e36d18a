"""Smaller authorization gaps of the security review (row 15): who may rename an organization and whom an
organization administrator may add."""

from __future__ import annotations

import uuid

from models import Membership
from tests.factories import login, make_org, make_user


async def test_only_an_organization_administrator_renames_it(client, db):
    org = await make_org(db)
    operator, admin = await make_user(db, org=org, role="operator"), await make_user(db, org=org, role="admin")
    await db.commit()
    url = f"/api/v1/orgs/{org.id}"
    renamed = await client.patch(url, json={"name": "hijacked"}, headers=await login(client, operator.username))
    assert renamed.status_code == 403
    paused = await client.patch(url, json={"automation_paused": True}, headers=await login(client, operator.username))
    assert paused.status_code == 200  # the kill switch stays in operators' hands
    by_admin = await client.patch(url, json={"name": f"renamed-{uuid.uuid4().hex[:6]}"},
                                  headers=await login(client, admin.username))
    assert by_admin.status_code == 200


async def test_an_org_admin_adds_only_people_of_organizations_they_administer(client, db):
    mine, also_mine, theirs = await make_org(db), await make_org(db), await make_org(db)
    admin = await make_user(db, org=mine, role="admin")
    colleague = await make_user(db, org=also_mine, role="viewer")
    stranger = await make_user(db, org=theirs, role="operator")
    platform_admin = await make_user(db, is_admin=True)
    await db.commit()
    db.add(Membership(user_id=admin.id, org_id=also_mine.id, role="admin"))
    await db.commit()
    headers = await login(client, admin.username)
    url = f"/api/v1/orgs/{mine.id}/members"

    outside = await client.post(url, json={"user_id": str(stranger.id), "role": "viewer"}, headers=headers)
    missing = await client.post(url, json={"user_id": str(uuid.uuid4()), "role": "viewer"}, headers=headers)
    assert outside.status_code == missing.status_code == 404
    assert outside.json() == missing.json()  # nothing tells an existing account from a made-up id
    inside = await client.post(url, json={"user_id": str(colleague.id), "role": "viewer"}, headers=headers)
    assert inside.status_code == 201
    by_platform = await client.post(url, json={"user_id": str(stranger.id), "role": "viewer"},
                                    headers=await login(client, platform_admin.username))
    assert by_platform.status_code == 201
