#!/usr/bin/env bash
# Benchmarks Airlock against the local fake upstream (no network):
#   - warm /simple/<project>/ requests per second, p50/p99 latency (wrk)
#   - warm download throughput of a 50 MiB wheel
#   - peak RSS of the airlock process
#   - cold and warm `pip install` of the dependency tree through Airlock,
#     next to the same install straight from the fake upstream, and the
#     upstream bytes Airlock fetched for it over the bytes pip downloaded
#     (background checks of releases in cooldown reported apart)
#   - the first (cold) view of a project whose newest release has 200 files
#     of 1 MiB, next to the upstream's own page latency
#   - PEP 740 verifications per second, and the latency provenance fetch
#     and verification add to a cold file request (Go benchmarks)
#   - content inspection throughput on a large wheel, and peak memory while
#     inspecting a zip bomb that inflates to 2 GiB
# Usage: bash bench/run.sh   (results also written to bench/out/results.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local

DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-32}
OUT=bench/out
mkdir -p "$OUT"
if ! command -v wrk >/dev/null || ! command -v nginx >/dev/null; then
  echo "installing wrk and nginx (Debian packages)" >&2
  (apt-get update -qq && apt-get install -y -qq wrk nginx-light) >/dev/null
fi
VENV=${E2E_VENV:-$PWD/.venv-e2e}
bash scripts/setup-clients.sh "$VENV" >/dev/null
PY="$VENV/bin/python"

go build -o "$OUT/airlock" ./cmd/proxy
go build -o "$OUT/fakepypi" ./internal/cmd/fakepypi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

: > "$OUT/fake.json"
"$OUT/fakepypi" --big-mb 50 > "$OUT/fake.json" &
pids+=($!)
for _ in $(seq 300); do [ -s "$OUT/fake.json" ] && break; sleep 0.1; done
field() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$OUT/fake.json" "$1"; }
INDEX=$(field index); FILEHOST=$(field file_host); BIG=$(field big_file)
STATS=$(field pypistats); GITHUB=$(field github)

DATA=$(mktemp -d)
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Nothing but the loopback fakes: any other host goes to a dead proxy (set
# for airlock only: pip would send loopback requests to it too).
AIRLOCK_UPSTREAM_URL=$INDEX AIRLOCK_UPSTREAM_FILE_HOSTS=$FILEHOST AIRLOCK_LOG_LEVEL=warn \
  AIRLOCK_SIGNALS_PYPISTATS_URL=$STATS AIRLOCK_SIGNALS_GITHUB_API_URL=$GITHUB \
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
  "$OUT/airlock" serve --listen 127.0.0.1:$PORT --data-dir "$DATA" 2> "$OUT/airlock.log" &
APID=$!
pids+=($APID)
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

pip_install() { # index
  env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$PY" -m pip install -q --no-cache-dir --target "$(mktemp -d)" --index-url "$1" app >/dev/null
}
timeit() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); "$PY" -c "print(f'{$e-$s:.2f}')"; }

metric() { curl -sf "$URL/metrics" | awk -v m="$1" '$1 == m {printf "%.0f", $2; found=1} END {if (!found) print 0}'; }
wait_queue() { for _ in $(seq 600); do [ "$(metric airlock_queue_depth)" = 0 ] && return; sleep 0.1; done; }
ACCEPT='application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01'
page_ms() { curl -sf -o /dev/null -w '%{time_total}' -H "Accept: $ACCEPT" "$1" | "$PY" -c 'import sys; print(f"{float(sys.stdin.read())*1000:.1f}")'; }

{
echo "# Airlock benchmark $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $("$OUT/airlock" version | head -1)"
echo
echo "## first view of a cold project page (wide: newest release 200 files of 1 MiB, in its cooldown)"
page_ms "$INDEX/simple/wide/" >/dev/null
echo "  upstream's own page:          $(page_ms "$INDEX/simple/wide/") ms"
echo "  through airlock, first view:  $(page_ms "$URL/simple/wide/") ms"
echo "  through airlock, second view: $(page_ms "$URL/simple/wide/") ms"
wait_queue
echo "  background checks then fetched $(metric airlock_background_fetched_bytes_total | awk '{printf "%.0f", $1/1048576}') MiB (within background.project_bytes)"
echo
echo "## pip install of the 6-package tree (pip $("$PY" -m pip --version | cut -d' ' -f2), no client cache)"
echo "  direct from fake upstream: $(timeit pip_install "$INDEX/simple/") s"
up0=$(metric airlock_upstream_fetched_bytes_total); bg0=$(metric airlock_background_fetched_bytes_total); sv0=$(metric airlock_served_bytes_total)
echo "  through airlock, cold:     $(timeit pip_install "$URL/simple/") s"
wait_queue
up1=$(metric airlock_upstream_fetched_bytes_total); bg1=$(metric airlock_background_fetched_bytes_total); sv1=$(metric airlock_served_bytes_total)
"$PY" -c "
up, bg, sv = $up1-$up0, $bg1-$bg0, $sv1-$sv0
print(f'  cold install: pip downloaded {sv/1024:.0f} KiB; Airlock fetched {(up-bg)/1024:.0f} KiB for it: ratio {(up-bg)/sv:.2f}')
print(f'  background checks of releases in cooldown fetched {bg/1048576:.1f} MiB besides (alpha 1.2, five platforms)')"
echo "  through airlock, warm:     $(timeit pip_install "$URL/simple/") s"
echo

curl -sf -H "Accept: $ACCEPT" "$URL/simple/popular/" -o /dev/null
echo "## warm /simple/popular/ (300 files, JSON): wrk -t2 -c$CONNS -d$DURATION --latency"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "Accept: $ACCEPT" "$URL/simple/popular/" > "$OUT/wrk.txt"
grep -E "Requests/sec|^ +50%|^ +99%" "$OUT/wrk.txt" | sed 's/^ */  /'
echo

echo "## warm small file (gamma wheel, every request through the gate): wrk -t2 -c$CONNS -d$DURATION --latency"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$URL/files/gamma/gamma-1.0-py3-none-any.whl" > "$OUT/wrk-file.txt"
grep -E "Requests/sec|^ +50%|^ +99%" "$OUT/wrk-file.txt" | sed 's/^ */  /'
echo

echo "## warm download of a 50 MiB wheel (5 sequential GETs with curl)"
curl -sf "$URL/files/big/$BIG" -o /dev/null
s=$(date +%s.%N)
for _ in 1 2 3 4 5; do curl -sf "$URL/files/big/$BIG" -o /dev/null; done
e=$(date +%s.%N)
"$PY" -c "print(f'  {5*50/($e-$s):.0f} MiB/s')"
echo

echo "## CPU per GiB served: the 50 MiB wheel, 40 GETs, airlock next to nginx (sendfile on) serving the same stored bytes"
SHA=$(curl -sfI "$URL/files/big/$BIG" | awk -F': ' 'tolower($1)=="x-airlock-sha256" {print $2}' | tr -d '\r')
BLOBDIR="$DATA/blobs/sha256/${SHA:0:2}"
NPORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NGX=$(mktemp -d)
NGXUSER=; [ "$(id -u)" -eq 0 ] && NGXUSER="user root;" # the data directory is private to its owner
cat > "$NGX/nginx.conf" <<NGINX
$NGXUSER daemon off; worker_processes 1; pid $NGX/nginx.pid; error_log $NGX/error.log;
events { worker_connections 64; }
http { access_log off; sendfile on; tcp_nopush on;
  server { listen 127.0.0.1:$NPORT; location / { root $BLOBDIR; } } }
NGINX
# Inside this { } | tee block a background job must not hold the pipe
# (tee would never end), and the trap cannot see its pid: nginx gets its own
# output file and is stopped at the end of this section.
nginx -c "$NGX/nginx.conf" -p "$NGX" > "$NGX/out.log" 2>&1 &
NGPID=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$NPORT/$SHA" && break; sleep 0.1; done
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
nginx_workers() { pgrep -f "nginx: worker process" | tr '\n' ' '; }
cpu_per_gib() { # url pid...
  local url=$1; shift; local before after
  before=$(cpu_ticks "$@")
  for _ in $(seq 40); do curl -sf -o /dev/null "$url"; done
  after=$(cpu_ticks "$@")
  "$PY" -c "import os; t=($after-$before)/os.sysconf('SC_CLK_TCK'); print(f'{t/(40*50/1024):.2f} s CPU per GiB')"
}
echo "  airlock: $(cpu_per_gib "$URL/files/big/$BIG" $APID)"
echo "  nginx:   $(cpu_per_gib "http://127.0.0.1:$NPORT/$SHA" $(nginx_workers))"
kill "$NGPID"; wait "$NGPID" 2>/dev/null || true
echo

echo "## warm pages: validators and compression (pip and uv send Accept-Encoding: gzip)"
ETAG=$(curl -sfI -H "Accept: $ACCEPT" "$URL/simple/popular/" | awk -F': ' 'tolower($1)=="etag" {print $2}' | tr -d '\r')
echo "  page: $(curl -sf -o /dev/null -w '%{size_download}' -H "Accept: $ACCEPT" "$URL/simple/popular/") bytes; gzip: $(curl -sf -o /dev/null -w '%{size_download}' -H "Accept: $ACCEPT" -H 'Accept-Encoding: gzip' "$URL/simple/popular/") bytes"
echo "  revalidation with If-None-Match: HTTP $(curl -s -o /dev/null -w '%{http_code}' -H "Accept: $ACCEPT" -H "If-None-Match: $ETAG" "$URL/simple/popular/")"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "Accept: $ACCEPT" -H "If-None-Match: $ETAG" "$URL/simple/popular/" > "$OUT/wrk-304.txt"
echo "  warm 304s: $(awk '/Requests\/sec/ {print $2}' "$OUT/wrk-304.txt") req/s, p50 $(awk '$1=="50%" {print $2}' "$OUT/wrk-304.txt")"
echo

echo "## attestation verification (go test -bench, sigstore-go v1.3.0, public-good root)"
go test -run '^$' -bench 'VerifyProvenance' -benchtime 200x ./verify | awk '/Benchmark/ {printf "  %s: %.1f ms/op, %s verifications/s\n", $1, $3/1e6, $5}'
go test -run '^$' -bench 'ColdFetch' -benchtime 30x ./simpleapi | awk '/Benchmark/ {printf "  %s: %.1f ms per cold file request\n", $1, $3/1e6}'
go test -run '^$' -bench 'RenderBigPage' -benchtime 10x ./simpleapi | awk '/Benchmark/ {printf "  first render of a 2,000-file page with the gate applied: %.1f ms\n", $3/1e6}'
echo

echo "## content inspection (internal/cmd/inspectbench)"
go run ./internal/cmd/inspectbench -dir "$OUT"
echo

echo "## peak RSS of airlock over the whole run (VmHWM)"
echo "  $(awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' /proc/$APID/status)"
} | tee "$OUT/results.txt"
rm -rf "$DATA"
