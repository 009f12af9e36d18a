"""`compliance`: the product's processes and operator commands, configured from the environment (config.py).

    compliance bootstrap [--demo-data DIR]   migrate, register search attributes, seed, first admin, schedules
    compliance api                           the HTTP API and console on API_HOST:API_PORT
    compliance worker                        the Temporal worker
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from config import get_settings


def bootstrap(args: argparse.Namespace) -> int:
    from stack.bootstrap import BootstrapError, bootstrap

    try:
        report = asyncio.run(bootstrap(get_settings(), demo_dir=args.demo_data))
    except BootstrapError as exc:
        print(f"compliance bootstrap: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()), flush=True)
    if report.admin_password:
        print(f"  created user 'admin' with password: {report.admin_password}  (shown once; change it with: "
              ".venv/bin/python -m api.cli set-password admin)", flush=True)
    return 0


def api(_: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    # Forwarded headers are trusted from FORWARDED_ALLOW_IPS (uvicorn's own setting; 127.0.0.1 by default).
    uvicorn.run("api.main:app", host=settings.api_host, port=settings.api_port, proxy_headers=True,
                access_log=False, timeout_keep_alive=75, timeout_graceful_shutdown=5)
    return 0


def worker(_: argparse.Namespace) -> int:
    import worker as process

    process.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compliance", description="Compliance Operations")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("bootstrap", help="prepare the database and Temporal; safe to run on every start")
    run.add_argument("--demo-data", type=Path, metavar="DIR",
                     help="also seed the demo policy and the local agent's enrollment token into DIR (make run)")
    run.set_defaults(handler=bootstrap)
    commands.add_parser("api", help="serve the HTTP API and the console").set_defaults(handler=api)
    commands.add_parser("worker", help="run the Temporal worker").set_defaults(handler=worker)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
