"""Prints the API's OpenAPI document (`create_app().openapi()`) as JSON: the source of src/api/schema.d.ts.

Usage: python console/scripts/openapi.py > openapi.json  (no database or Temporal is contacted).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def openapi_document() -> dict:
    # The document needs no database and no real secret; create_app only checks that both are set.
    os.environ.setdefault("DATABASE_URL", "postgresql://openapi@127.0.0.1:1/openapi")
    os.environ.setdefault("JWT_SECRET", "openapi-document-only-not-a-signing-secret")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from api.main import create_app

    return create_app().openapi()


if __name__ == "__main__":
    json.dump(openapi_document(), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
