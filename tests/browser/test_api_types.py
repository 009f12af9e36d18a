"""The console's API types (console/src/api/schema.d.ts) are generated from the API's OpenAPI document: this fails
when the API changed and nobody regenerated them (`cd console && npm run generate:api`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"
GENERATOR = CONSOLE / "node_modules" / ".bin" / "openapi-typescript"


def test_generated_api_types_match_the_openapi_document(tmp_path: Path):
    if not GENERATOR.exists() or shutil.which("node") is None and not os.environ.get("NODE"):
        pytest.skip("console dependencies are not installed (make test runs npm ci first)")
    fresh = tmp_path / "schema.d.ts"
    subprocess.run(["sh", str(CONSOLE / "scripts" / "generate-api-types.sh"), str(fresh)], check=True,
                   env=dict(os.environ, PYTHON=sys.executable), capture_output=True)
    committed = (CONSOLE / "src" / "api" / "schema.d.ts").read_text()
    assert fresh.read_text() == committed, "console/src/api/schema.d.ts is stale: cd console && npm run generate:api"
