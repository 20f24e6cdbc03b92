#!/usr/bin/env bash
# Sets up and serves the app on http://127.0.0.1:7860 with the bundled models, no credentials needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
exec .venv/bin/python app.py
