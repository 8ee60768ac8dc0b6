#!/usr/bin/env bash
# Creates the virtual environment with the pinned clients the end-to-end
# tests and benchmarks drive: pip 26.3 and uv 0.13.9 (the machine's own pip
# is tested too, from python3). Usage: bash scripts/setup-clients.sh [VENV]
set -euo pipefail
VENV=${1:-.venv-e2e}
PIP_VERSION=26.3
UV_VERSION=0.13.9
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -m pip --version 2>/dev/null | grep -q "^pip $PIP_VERSION " \
   && "$VENV/bin/uv" --version 2>/dev/null | grep -q "^uv $UV_VERSION"; then
  exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
# Only the clients come from PyPI, pinned.
env -u PIP_FIND_LINKS "$VENV/bin/python" -m pip install -q "pip==$PIP_VERSION" "uv==$UV_VERSION"
"$VENV/bin/python" -m pip --version
"$VENV/bin/uv" --version
