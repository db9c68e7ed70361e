#!/usr/bin/env bash
# Installs everything the system and its tests need into .venv (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'

# tus-js-client, the PWA's upload client, drives the upload endpoints in the tests
(cd tests/media/tus_js && npm ci --no-audit --no-fund --loglevel=error)
