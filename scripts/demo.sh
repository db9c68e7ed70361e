#!/usr/bin/env bash
# One command on a fresh machine: install, then run the demo (embedded SQLite, demo data)
# on http://127.0.0.1:8000, the PWA built and served at /. Extra arguments go to `zsjg demo` (--host, --port, --data-dir).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
(cd pwa && npm run --silent build)
exec .venv/bin/zsjg demo "$@"
