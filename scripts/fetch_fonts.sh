#!/usr/bin/env bash
# Fetch the pinned handwriting fonts for the synthetic letter data into data/fonts (git-ignored):
# @fontsource packages from npm, Debian font packages (apt-get, needs root or sudo), and the list of
# Hershey stroke fonts (PyPI hershey-fonts, installed from requirements.txt). See training/fonts.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec "$PYTHON" -m training.fonts fetch "$@"
