"""Packages the reference agent as one file that a plain Python 3.11+ runs (`python3 compliance-agent.pyz`): a
zipapp of the agent and the rule evaluators, with the built-in content as data. Only modules whose imports are the
standard library or other packaged modules go in; the build fails when the agent itself would need more.

`python -m agent.package OUT.pyz` writes it; the API serves the same bytes at `GET /api/v1/agent/download`."""

from __future__ import annotations

import ast
import hashlib
import io
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from agent import builtin_content

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agent", "domain")
LEFT_OUT = {"agent.fleet", "agent.package"}  # the simulated fleet (httpx) and this builder
ENTRY = "agent.__main__"
# Fixed timestamps and order: the same sources always give the same bytes (and the same SHA-256).
EPOCH = (1980, 1, 1, 0, 0, 0)

LAUNCHER = '''import sys

if sys.version_info < (3, 11):
    sys.exit("compliance-agent needs Python 3.11 or newer, this is " + sys.version.split()[0])

from agent.__main__ import cli

sys.exit(cli(sys.argv[1:]))
'''


class PackagingError(RuntimeError):
    """The agent would need a module that cannot go into the package."""


@dataclass(frozen=True)
class Package:
    data: bytes
    modules: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def hard_imports(source: str) -> set[str]:
    """Modules a file imports when it is imported: its top-level imports, leaving out those under `if
    TYPE_CHECKING` and those inside a `try` that handles ImportError (optional ones)."""
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and not _is_type_checking(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try) and not _handles_import_error(node):
                visit(node.body)

    visit(ast.parse(source).body)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _handles_import_error(node: ast.Try) -> bool:
    names = set()
    for handler in node.handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        names.update(kind.id for kind in kinds if isinstance(kind, ast.Name))
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def agent_modules(root: Path = ROOT) -> dict[str, Path]:
    """The modules the agent can reach (also through imports inside functions) among the packable ones."""
    packable = packable_modules(root)
    chosen = {ENTRY, *PACKAGES}
    pending = [ENTRY]
    while pending:
        for node in ast.walk(ast.parse(packable[pending.pop()].read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                if name in packable and name not in chosen:
                    chosen.add(name)
                    pending.append(name)
    return {name: packable[name] for name in chosen}


def packable_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the packaged folders that imports only the standard library and other such modules."""
    candidates = {f"{package}.{path.stem}" if path.stem != "__init__" else package: path
                  for package in PACKAGES for path in sorted((root / package).glob("*.py"))
                  if f"{package}.{path.stem}" not in LEFT_OUT}
    needs = {name: hard_imports(path.read_text()) for name, path in candidates.items()}
    kept = dict(candidates)
    changed = True
    while changed:
        changed = False
        for name in list(kept):
            if any(not _available(module, kept) for module in needs[name]):
                del kept[name]
                changed = True
    if ENTRY not in kept:
        missing = sorted(m for m in _closure_problems(ENTRY, needs, candidates, kept))
        raise PackagingError(f"the agent needs modules that are not the standard library: {', '.join(missing)}")
    return kept


def _available(module: str, kept: dict[str, Path]) -> bool:
    top = module.split(".")[0]
    if top in PACKAGES:
        # `from domain import linux_settings` names a module; `from domain.rules import X` names X in a module.
        return module in kept or module.rsplit(".", 1)[0] in kept and module.rsplit(".", 1)[0] != top
    return top in sys.stdlib_module_names or top == "__future__"


def _closure_problems(name: str, needs: dict, candidates: dict, kept: dict, seen: set | None = None) -> set[str]:
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    problems = set()
    for module in needs.get(name, ()):
        if _available(module, kept):
            continue
        if module in candidates:
            problems |= _closure_problems(module, needs, candidates, kept, seen)
        elif module.split(".")[0] not in PACKAGES:
            problems.add(f"{module} (imported by {name})")
        elif module.rsplit(".", 1)[0] in candidates:
            problems |= _closure_problems(module.rsplit(".", 1)[0], needs, candidates, kept, seen)
    return problems


def build(root: Path = ROOT) -> Package:
    modules = agent_modules(root)
    buffer = io.BytesIO()
    buffer.write(b"#!/usr/bin/env python3\n")  # as zipapp writes it: the archive's offsets account for it
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        def add(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(name, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)

        add("__main__.py", LAUNCHER.encode())
        for path in sorted(modules.values()):
            add(path.relative_to(root).as_posix(), path.read_bytes())
        add(f"agent/{builtin_content.BUNDLE}", builtin_content.bundle_text().encode())
    return Package(buffer.getvalue(), tuple(sorted(modules)))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m agent.package OUT.pyz", file=sys.stderr)
        return 2
    package = build()
    out = Path(argv[0])
    out.write_bytes(package.data)
    out.chmod(0o755)
    print(f"{out}: {len(package.data)} bytes, sha256 {package.sha256}, {len(package.modules)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
