#!/bin/sh
# Regenerates src/api/schema.d.ts from the API's OpenAPI document (or writes it to $1 when given).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$here/../.venv/bin/python}
out=${1:-$here/src/api/schema.d.ts}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" "$here/scripts/openapi.py" > "$tmp/openapi.json"
"$here/node_modules/.bin/openapi-typescript" "$tmp/openapi.json" -o "$out" >/dev/null
