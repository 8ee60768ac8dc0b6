#!/usr/bin/env bash
# Two Airlock replicas on PostgreSQL + S3 (versitygw) behind nginx, next to
# one bbolt instance, against the local fake upstream: warm page and warm
# file requests per second (wrk) and the cold fill of a 1 MiB file.
# Usage: bash bench/replicas.sh   (results in bench/out/replicas.txt)
# Needs what scripts/test.sh installs: postgresql, nginx-light, versitygw;
# and wrk (installed here from Debian's archive if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-32}
OUT=bench/out
mkdir -p "$OUT"
command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
go build -o "$OUT/airlock" ./cmd/proxy
go build -o "$OUT/fakepypi" ./internal/cmd/fakepypi
VGW=${VERSITYGW:-$(go env GOPATH)/bin/versitygw}
PGBIN=$(dirname "$(readlink -f "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")")
W=$(mktemp -d)
chmod 755 "$W"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$OUT/fakepypi" --big-mb 1 --wide-files 1 > "$W/fake.json" & pids+=($!)
for _ in $(seq 100); do [ -s "$W/fake.json" ] && break; sleep 0.1; done
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$W/fake.json" "$1"; }
INDEX=$(field index); FILEHOST=$(field file_host); BIG=$(field big_file)

PGPORT=$(port); mkdir -p "$W/pg"; chown postgres "$W/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$W/pg" -U airlock --auth=trust -E UTF8 --no-instructions >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$W/pg" -o "-p $PGPORT -k $W/pg -c listen_addresses=127.0.0.1" -l "$W/pg/log" -w start >/dev/null
DSN="postgres://airlock@127.0.0.1:$PGPORT/postgres?sslmode=disable"
S3PORT=$(port); mkdir -p "$W/s3/airlock"
"$VGW" --access bench --secret bench-secret --port "127.0.0.1:$S3PORT" posix "$W/s3" > "$W/vgw.log" 2>&1 & pids+=($!)
sleep 1

common=(AIRLOCK_UPSTREAM_URL=$INDEX AIRLOCK_UPSTREAM_FILE_HOSTS=$FILEHOST AIRLOCK_LOG_LEVEL=warn AIRLOCK_SIGNALS_ENABLED=false
  AIRLOCK_BACKGROUND_WORKERS=0 HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1)
shared=(AIRLOCK_DATABASE_URL=$DSN AIRLOCK_BLOBS_URL=s3://airlock/files AIRLOCK_BLOBS_ENDPOINT=http://127.0.0.1:$S3PORT
  AIRLOCK_BLOBS_PATH_STYLE=true AIRLOCK_BLOBS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret)
env "${common[@]}" "${shared[@]}" "$OUT/airlock" migrate >/dev/null
start() { # name port env...
  local name=$1 p=$2; shift 2
  env "${common[@]}" "$@" "$OUT/airlock" serve --listen "127.0.0.1:$p" --data-dir "$W/$name" 2> "$W/$name.log" & pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && return; sleep 0.1; done
  echo "$name did not start"; cat "$W/$name.log"; exit 1
}
P1=$(port); P2=$(port); P0=$(port); LB=$(port)
start bolt "$P0"
start r1 "$P1" "${shared[@]}"
start r2 "$P2" "${shared[@]}"
cat > "$W/nginx.conf" <<NGINX
user root; daemon off; worker_processes 1; pid $W/nginx.pid; error_log $W/nginx.err;
events { worker_connections 1024; }
http { access_log off;
  upstream airlock { server 127.0.0.1:$P1; server 127.0.0.1:$P2; keepalive 64; }
  server { listen 127.0.0.1:$LB; location / { proxy_pass http://airlock; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGINX
nginx -c "$W/nginx.conf" -p "$W" > "$W/nginx.out" 2>&1 & pids+=($!)
sleep 0.5
ACCEPT='Accept: application/vnd.pypi.simple.v1+json'
warm() { # label url
  curl -sf -o /dev/null -H "$ACCEPT" "$2"; curl -sf -o /dev/null -H "$ACCEPT" "$2"
  wrk -t2 -c"$CONNS" -d"$DURATION" --latency -H "$ACCEPT" "$2" | awk -v l="$1" '/Requests\/sec/ {r=$2} /50%/ {p=$2} /99%/ {q=$2} END {printf "  %-44s %9s req/s  p50 %s  p99 %s\n", l, r, p, q}'
}
cold() { # label base project file
  local s e
  curl -sf -o /dev/null "$2/simple/$3/"
  s=$(date +%s.%N); curl -sf -o /dev/null "$2/files/$3/$4"; e=$(date +%s.%N)
  python3 -c "print(f'  {\"$1\":44s} {($e-$s)*1000:7.1f} ms')"
}
{
echo "# Airlock replicas $(date -u +%Y-%m-%dT%H:%MZ): wrk $DURATION, $CONNS connections"
echo "## cold fill of a 1 MiB wheel (first request; page already listed)"
cold "one bbolt instance" "http://127.0.0.1:$P0" big "$BIG"
cold "two replicas (PostgreSQL + S3) via nginx" "http://127.0.0.1:$LB" big "$BIG"
echo "## warm project page (popular, 300 files)"
warm "one bbolt instance" "http://127.0.0.1:$P0/simple/popular/"
warm "one replica on PostgreSQL + S3, direct" "http://127.0.0.1:$P1/simple/popular/"
warm "two replicas via nginx" "http://127.0.0.1:$LB/simple/popular/"
echo "## warm file (1 MiB wheel)"
warm "one bbolt instance" "http://127.0.0.1:$P0/files/big/$BIG"
warm "one replica on PostgreSQL + S3, direct" "http://127.0.0.1:$P1/files/big/$BIG"
warm "two replicas via nginx" "http://127.0.0.1:$LB/files/big/$BIG"
} | tee "$OUT/replicas.txt"
