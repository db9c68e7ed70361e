#!/usr/bin/env bash
# One command on a fresh machine: install, lint, type-check and run every test — on the
# embedded SQLite database, then again on PostgreSQL when one answers on 127.0.0.1:5432
# (or at ZSJG_TEST_DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."

phase_start=$(date +%s)
phase() {
  local now
  now=$(date +%s)
  printf '\n== %s (previous phase took %ss)\n' "$1" "$((now - phase_start))"
  phase_start=$now
}

phase "install"
bash scripts/install.sh

phase "lint: ruff"
.venv/bin/ruff check backend sync tests
.venv/bin/ruff format --check backend sync tests

phase "types: mypy --strict on backend/ and sync/"
.venv/bin/mypy

phase "PWA: biome, tsc --strict, API client current, Vitest, build, initial JS budget"
(cd pwa && npm run --silent verify)

phase "pytest on SQLite (the browser tests use the PWA just built)"
env -u ZSJG_TEST_DATABASE_URL .venv/bin/pytest -q -p no:cacheprovider

PG_URL=${ZSJG_TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}
if .venv/bin/python - "$PG_URL" <<'PY'
import asyncio, sys
import asyncpg
from sqlalchemy.engine import make_url

url = make_url(sys.argv[1]).set(drivername="postgresql")
async def main() -> None:
    conn = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
    await conn.close()
try:
    asyncio.run(main())
except Exception as exc:
    print(f"PostgreSQL not reachable ({exc.__class__.__name__}): skipping the PostgreSQL run")
    sys.exit(1)
PY
then
  phase "pytest on PostgreSQL"
  ZSJG_TEST_DATABASE_URL=$PG_URL .venv/bin/pytest -q -p no:cacheprovider
fi
phase "done"
