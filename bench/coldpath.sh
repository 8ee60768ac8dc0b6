#!/usr/bin/env bash
# The cold path: a first install through a fresh Airlock next to the same
# install straight from the upstream, with pip and uv (no client caches),
# on a fake upstream at a real network's pace (40 ms per answer, 25 MB/s
# per connection; 13 projects, each release one wheel this machine
# installs and eight for other platforms, an sdist, ~450 KB of real
# Python; a newer release in its cooldown). Reports cold/direct,
# warm/direct, upstream bytes over client bytes (background work
# included), the first byte of a large cold file, and Airlock's peak RSS.
# Usage:
#   bash bench/coldpath.sh                 # the fake, with PEP 658 metadata
#   bash bench/coldpath.sh -no-metadata    # the fake, without (as this machine's PyPI mirror)
#   bash bench/coldpath.sh -real           # this machine's PyPI (network)
#   bash bench/coldpath.sh -clients "poetry pdm"   # lock + install with poetry and pdm
#   bash bench/coldpath.sh -cooling-age 150h  # the cooling release within background.lead: checked ahead
# Any coldbench flag passes through (go run ./internal/cmd/coldbench -h).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
OUT=bench/out
mkdir -p "$OUT"
VENV=${E2E_VENV:-$PWD/.venv-e2e}
bash scripts/setup-clients.sh "$VENV" >/dev/null
go build -o "$OUT/airlock" ./cmd/proxy
# proxpi, pinned, for comparison (a caching proxy that verifies nothing).
PX=$OUT/proxpi-venv
if [ ! -x "$PX/bin/python" ] || ! "$PX/bin/python" -c 'import proxpi' 2>/dev/null; then
	python3 -m venv "$PX"
	"$PX/bin/pip" install -q proxpi==1.3.1
fi
# poetry and pdm, pinned (pdm 2.29.4 breaks on hishel 2: pinned too), for
# -clients "poetry pdm".
LK=$OUT/lockers-venv
if [ ! -x "$LK/bin/pdm" ] || [ ! -x "$LK/bin/poetry" ]; then
	python3 -m venv "$LK"
	"$LK/bin/pip" install -q poetry==2.5.1 pdm==2.29.4 'hishel[httpx2]==1.4.0'
fi
go run ./internal/cmd/coldbench -airlock "$OUT/airlock" -venv "$VENV" -proxpi "$PX/bin/python" -lockers "$LK" -out "$OUT/coldpath" "$@"
