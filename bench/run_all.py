"""Run every benchmark in bench/ (each script with a main()), one after the other; `make bench` calls this.

    .venv/bin/python -m bench.run_all [--only ingest,scheduler]

Each runs in its own process, so one failing or leaking benchmark does not disturb the next; the exit code is
non-zero when any of them failed.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def benchmarks() -> list[str]:
    """Module names of bench/*.py files that define a top-level main()."""
    names = []
    for path in sorted(BENCH.glob("*.py")):
        if path.stem in ("__init__", "run_all"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main"
               for node in tree.body):
            names.append(path.stem)
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated benchmark names")
    args = parser.parse_args()
    names = benchmarks()
    if args.only:
        wanted = set(args.only.split(","))
        names = [n for n in names if n in wanted]
    failed = []
    for name in names:
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=BENCH.parent, check=False).returncode
        outcome = "ok" if code == 0 else f"FAILED ({code})"
        print(f"== bench.{name}: {outcome} in {time.perf_counter() - started:.0f} s\n", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
