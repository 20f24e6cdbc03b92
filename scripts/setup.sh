#!/usr/bin/env bash
# Creates .venv (if missing) and installs the pinned requirements into it. Usage: scripts/setup.sh [requirements file]
#   requirements.txt        serving the app (the default; no TensorFlow)
#   requirements-train.txt  + training, evaluation, export to LiteRT, publishing (TensorFlow, Keras, ...)
#   requirements-dev.txt    + tests and benchmarks (scripts/test.sh installs this one)
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${1:-requirements.txt}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r "$requirements"
