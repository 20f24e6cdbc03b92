#!/usr/bin/env bash
# Sets up and runs the whole test suite: unit, API (gradio_client against the launched app) and
# browser tests (Debian's chromium driven by Playwright; installed here if missing). Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
# The browser tests use $CHROMIUM (default /usr/bin/chromium, Debian's package).
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
exec .venv/bin/python -m pytest -q "$@"
