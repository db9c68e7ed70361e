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

# the PWA's toolchain (pinned by pwa/package-lock.json), and tus-js-client, the PWA's upload
# client, which drives the upload endpoints from Node in the tests
(cd pwa && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/media/tus_js && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/platform/oidc_provider && npm ci --no-audit --no-fund --loglevel=error)

# Debian packages: the record form's embeddable Chinese font (ReportLab cannot embed the CFF
# Noto CJK fonts), poppler-utils (pdftotext, pdffonts, pdftoppm) that its tests read it with,
# and Chromium with Noto CJK for the PWA's browser tests (Playwright never downloads a browser)
DEBIAN_PACKAGES=(fonts-wqy-zenhei poppler-utils chromium fonts-noto-cjk)
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  status=$(dpkg -s "$package" 2>/dev/null || true)
  if [[ $status != *"Status: install ok installed"* ]]; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi
  apt_install() {
    ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends "${missing[@]}"
  }
  if ! apt_install; then
    ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
    apt_install
  fi
fi
