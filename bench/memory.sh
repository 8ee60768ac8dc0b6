#!/usr/bin/env bash
# Memory under huge project pages: six projects of 199,000 files each
# (about 45 MB of JSON per page) are listed through Airlock twice; reports
# Airlock's resident memory after each page and its peak, and the size of
# the database. Pages are asked for as pip and uv ask (Accept-Encoding:
# gzip); ENCODING=identity asks for the plain form instead.
# Usage: bash bench/memory.sh   (results in bench/out/memory.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
OUT=bench/out
mkdir -p "$OUT"
PY=python3
go build -o "$OUT/airlock" ./cmd/proxy
go build -o "$OUT/fakepypi" ./internal/cmd/fakepypi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
: > "$OUT/fake-huge.json"
"$OUT/fakepypi" --big-mb 1 --wide-files 1 --huge-projects 6 --huge-files 199000 > "$OUT/fake-huge.json" &
pids+=($!)
for _ in $(seq 600); do [ -s "$OUT/fake-huge.json" ] && break; sleep 0.1; done
field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$OUT/fake-huge.json" "$1"; }
INDEX=$(field index); FILEHOST=$(field file_host)
DATA=$(mktemp -d)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AIRLOCK_UPSTREAM_URL=$INDEX AIRLOCK_UPSTREAM_FILE_HOSTS=$FILEHOST AIRLOCK_LOG_LEVEL=warn AIRLOCK_SIGNALS_ENABLED=false \
  AIRLOCK_UPSTREAM_MAX_PAGE_BYTES=128MiB AIRLOCK_BACKGROUND_WORKERS=0 GOMEMLIMIT=${GOMEMLIMIT:-} HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
  "$OUT/airlock" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" 2> "$OUT/airlock-memory.log" &
APID=$!
pids+=($APID)
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
rss() { awk -v k="$1" '$1==k":" {printf "%.0f MiB", $2/1024}' /proc/$APID/status; }
# RssFile is the database's memory map (pages the kernel can drop); RssAnon
# is the process's own memory.
rssall() { echo "$(rss VmRSS) (anon $(rss RssAnon), file $(rss RssFile))"; }
ACCEPT='application/vnd.pypi.simple.v1+json'
ENCODING=${ENCODING:-gzip}
{
echo "# Airlock memory under huge pages $(date -u +%Y-%m-%dT%H:%MZ): 6 projects x 199,000 files, index.page_cache_bytes default, Accept-Encoding: $ENCODING"
echo "  at start: RSS $(rssall), peak so far $(rss VmHWM)"
for round in 1 2; do
  for p in 0 1 2 3 4 5; do
    s=$(date +%s.%N)
    bytes=$(curl -sf -o /dev/null -w '%{size_download}' -H "Accept: $ACCEPT" -H "Accept-Encoding: $ENCODING" "$URL/simple/huge$p/")
    e=$(date +%s.%N)
    echo "  round $round huge$p: $((bytes>>20)) MiB sent ($ENCODING) in $("$PY" -c "print(f'{$e-$s:.1f}')") s; RSS $(rssall), peak so far $(rss VmHWM)"
  done
done
echo "  peak RSS (VmHWM): $(rss VmHWM)"
echo "  airlock.db: $(du -m "$DATA/airlock.db" | cut -f1) MiB"
} | tee "$OUT/memory.txt"
rm -rf "$DATA"
