#!/usr/bin/env bash
# Sets up and runs the whole test suite: unit, API (gradio_client against the launched app) and
# browser tests (Debian's chromium driven by Playwright; installed here if missing). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
# Debian packages the tests run: chromium for the browser tests ($CHROMIUM, default /usr/bin/chromium),
# PostgreSQL 15 for a throw-away database server (tests/postgres_server.py), nginx in front of replicas.
missing=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
exec .venv/bin/python -m pytest -q "$@"
