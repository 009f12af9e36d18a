"""Air-gapped feed import from the command line: the sources' own documents, as the API's import takes them.

    python -m services.vuln_import nvd nvdcve-page-1.json [more pages…]
    python -m services.vuln_import kev known_exploited_vulnerabilities.json
    python -m services.vuln_import osv Debian-12-all.zip Ubuntu-22.04-all.zip
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from config import get_settings
from models.db import make_engine, make_sessionmaker
from services.vuln_feeds import import_document


async def run(source: str, paths: list[Path], database_url: str) -> list[int]:
    engine = make_engine(database_url, pool_size=1)
    written = []
    try:
        for path in paths:
            async with make_sessionmaker(engine)() as session, session.begin():
                written.append(await import_document(session, source, path.read_bytes(), datetime.now(UTC)))
    finally:
        await engine.dispose()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m services.vuln_import", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", choices=["nvd", "kev", "osv"])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    settings = get_settings()
    if not settings.database_url:
        parser.error("DATABASE_URL is not set")
    for path, count in zip(args.files, asyncio.run(run(args.source, args.files, settings.database_url)), strict=True):
        print(f"{args.source}: {path} imported, {count} records written")


if __name__ == "__main__":
    main()
