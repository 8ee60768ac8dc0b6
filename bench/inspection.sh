#!/usr/bin/env bash
# Content inspection of real distributions, each inspected once as a cold
# file is (nothing remembered): MB/s of the archive and of its Python.
# The wheels come from this machine's PyPI into bench/cache/wheels (git-
# ignored), pinned. Pass -parsers 1 to see one core's share.
# Usage: bash bench/inspection.sh [-parsers N] [-torch]
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
c=bench/cache/wheels
mkdir -p "$c" bench/out
VENV=${E2E_VENV:-$PWD/.venv-e2e}
bash scripts/setup-clients.sh "$VENV" >/dev/null
want=(pandas==2.3.3 litellm==1.79.0)
args=()
for a in "$@"; do
	if [ "$a" = -torch ]; then want+=(torch==2.9.1); else args+=("$a"); fi
done
"$VENV/bin/pip" download -q --no-deps --only-binary :all: --python-version 3.11 --platform manylinux_2_28_x86_64 -d "$c" "${want[@]}"
files=()
for w in "${want[@]}"; do files+=("$(ls "$c/${w%%==*}-${w##*==}-"*.whl | head -1)"); done
go build -o bench/out/inspectbench ./internal/cmd/inspectbench
bench/out/inspectbench "${args[@]}" "${files[@]}" | tee bench/out/inspection.txt
