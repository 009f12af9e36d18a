"""Offline administration: users and memberships without the HTTP API.

    python -m api.cli create-user NAME [--admin] [--email E]   (password read from COMPLIANCE_NEW_PASSWORD or prompted)
    python -m api.cli set-password NAME                     (ends every token issued to NAME before)
    python -m api.cli deactivate NAME                       (no more logins; ends every token issued to NAME)
    python -m api.cli add-member NAME ORG_NAME ROLE
    python -m api.cli remove-member NAME ORG_NAME
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from sqlalchemy import select

from api.security import hash_password
from config import get_settings
from domain.passwords import password_problem
from models import AuditEntry, Membership, Organization, User
from models.db import make_engine, make_sessionmaker


def _password(username: str) -> str:
    """Taken exactly as typed: surrounding whitespace is part of the password."""
    password = os.environ.get("COMPLIANCE_NEW_PASSWORD") or getpass.getpass("password: ")
    if problem := password_problem(password, username):
        sys.exit(problem)
    return password


async def _run(args: argparse.Namespace) -> str:
    engine = make_engine(get_settings().database_url or sys.exit("DATABASE_URL is not set"), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            user = await session.scalar(select(User).where(User.username == args.username))
            if args.command == "create-user":
                if user is not None:
                    sys.exit(f"user {args.username} exists")
                user = User(username=args.username, email=args.email, is_admin=args.admin,
                            password_hash=hash_password(_password(args.username)))
                session.add(user)
                await session.flush()
                after = {"username": user.username, "is_admin": args.admin}
                session.add(AuditEntry(actor_type="cli", action="user.create", target_type="user",
                                       target_id=str(user.id), after=after))
                return f"created user {user.username} ({user.id})"
            if user is None:
                sys.exit(f"no user {args.username}")
            if args.command == "set-password":
                user.password_hash = hash_password(_password(user.username))
                user.token_version += 1
                session.add(AuditEntry(actor_type="cli", action="user.set_password", target_type="user",
                                       target_id=str(user.id), after={"tokens_revoked": True}))
                return f"password of {user.username} changed; tokens issued before no longer work"
            if args.command == "deactivate":
                user.is_active = False
                user.token_version += 1
                session.add(AuditEntry(actor_type="cli", action="user.deactivate", target_type="user",
                                       target_id=str(user.id), after={"is_active": False, "tokens_revoked": True}))
                return f"{user.username} deactivated; tokens issued before no longer work"
            org = await session.scalar(select(Organization).where(Organization.name == args.org))
            if org is None:
                sys.exit(f"no organization {args.org}")
            membership = await session.get(Membership, (user.id, org.id))
            if args.command == "add-member":
                if membership is None:
                    session.add(Membership(user_id=user.id, org_id=org.id, role=args.role))
                else:
                    membership.role = args.role
                session.add(AuditEntry(org_id=org.id, actor_type="cli", action="org.member.set",
                                       target_type="membership", target_id=str(user.id), after={"role": args.role}))
                return f"{user.username} is {args.role} of {org.name}"
            if membership is None:
                sys.exit(f"{user.username} is not a member of {org.name}")
            await session.delete(membership)
            session.add(AuditEntry(org_id=org.id, actor_type="cli", action="org.member.remove",
                                   target_type="membership", target_id=str(user.id)))
            return f"{user.username} removed from {org.name}"
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-user")
    create.add_argument("username")
    create.add_argument("--admin", action="store_true")
    create.add_argument("--email")
    sub.add_parser("set-password").add_argument("username")
    sub.add_parser("deactivate").add_argument("username")
    add = sub.add_parser("add-member")
    add.add_argument("username")
    add.add_argument("org")
    add.add_argument("role", choices=["viewer", "operator", "admin"])
    remove = sub.add_parser("remove-member")
    remove.add_argument("username")
    remove.add_argument("org")
    print(asyncio.run(_run(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
