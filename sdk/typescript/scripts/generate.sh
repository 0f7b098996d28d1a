#!/bin/sh
# Regenerates src/schema.d.ts from the app's OpenAPI schema: dumps it with `manage.py spectacular`
# (the project's .venv, no database needed), then types it with openapi-typescript. Commit the result.
set -eu
cd "$(dirname "$0")/.."
root="$(cd ../.. && pwd)"
mkdir -p build
AGENTOPS_ENV_FILE= DEBUG=1 DATABASE_URL="sqlite:///$PWD/build/schema.sqlite3" \
    "$root/.venv/bin/python" "$root/manage.py" spectacular --format openapi-json --file build/openapi.json
# Fields with a default (a run's `thread`) stay optional in requests, as the API treats them.
npx openapi-typescript build/openapi.json --default-non-nullable false --output src/schema.d.ts
