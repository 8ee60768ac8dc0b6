#!/usr/bin/env bash
# Checks the packaging: the systemd unit (systemd-analyze verify, and its
# exposure score) and the container image (built with podman, started with
# a read-only root filesystem as its non-root user, healthy, and pip
# installs through it from a local fake upstream). Installs systemd and
# podman from Debian's archive when missing. Usage: bash packaging/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
need=()
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
if [ ${#need[@]} -gt 0 ]; then
  echo "packaging: installing ${need[*]} (Debian packages)"
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
WORK=$(mktemp -d)
pids=()
cleanup() {
  podman rm -f airlock-packaging-test >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- systemd unit ---------------------------------------------------------
go build -o "$WORK/airlock" ./cmd/proxy
# verify checks that ExecStart's binary exists: point it at the one built.
sed "s|/usr/local/bin/airlock|$WORK/airlock|" packaging/airlock.service > "$WORK/airlock.service"
systemd-analyze verify "$WORK/airlock.service"
exposure=$(systemd-analyze security --offline=yes "$WORK/airlock.service" | sed -n 's/.*Overall exposure level for airlock.service: \([0-9.]*\).*/\1/p')
echo "packaging: systemd unit verified; exposure level $exposure (0 = locked down, 10 = exposed)"
awk -v e="$exposure" 'BEGIN { exit !(e != "" && e <= 2.0) }' || { echo "packaging: exposure $exposure is above 2.0"; exit 1; }

# --- container image ------------------------------------------------------
TAG=localhost/airlock:packaging-test
bash packaging/build-image.sh "$TAG" >/dev/null
user=$(podman image inspect "$TAG" --format '{{.Config.User}}')
health=$(podman image inspect "$TAG" --format '{{json .HealthCheck}}')
volumes=$(podman image inspect "$TAG" --format '{{json .Config.Volumes}}')
[ "$user" = "65532:65532" ] || { echo "packaging: image runs as '$user', want 65532:65532"; exit 1; }
case "$health" in *'airlock","health"'*) ;; *) echo "packaging: no health check in the image: $health"; exit 1 ;; esac
case "$volumes" in *'/var/lib/airlock'*'/etc/airlock'*|*'/etc/airlock'*'/var/lib/airlock'*) ;; *) echo "packaging: volumes $volumes"; exit 1 ;; esac
size=$(podman image inspect "$TAG" --format '{{.Size}}')
echo "packaging: image $TAG built ($((size >> 20)) MiB), user $user, volumes $volumes"

# This machine (and CI's) runs containers without systemd, in cgroups v1
# hybrid mode and without CAP_SYS_RESOURCE: runc with cgroupfs, and limits
# no higher than the current ones.
RUN=(podman --runtime runc --cgroup-manager cgroupfs)
LIMITS=(--ulimit "nofile=$(ulimit -n):$(ulimit -Hn)" --ulimit "nproc=$(( $(ulimit -u) < 32768 ? $(ulimit -u) : 32768 ))")
go build -o "$WORK/fakepypi" ./internal/cmd/fakepypi
"$WORK/fakepypi" --big-mb 1 --wide-files 1 > "$WORK/fake.json" &
pids+=($!)
for _ in $(seq 100); do [ -s "$WORK/fake.json" ] && break; sleep 0.1; done
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/fake.json" "$1"; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/data" "$WORK/config"
chown 65532:65532 "$WORK/data"
printf 'upstream:\n  url: %s\n  file_hosts: [%s]\nsignals:\n  enabled: false\n' "$(field index)" "$(field file_host)" > "$WORK/config/config.yaml"
# No systemd here to schedule health checks: they are run by hand below.
"${RUN[@]}" run -d --name airlock-packaging-test --read-only --network host --health-interval disable "${LIMITS[@]}" \
  -v "$WORK/data:/var/lib/airlock" -v "$WORK/config:/etc/airlock:ro" \
  -e AIRLOCK_LISTEN="127.0.0.1:$PORT" "$TAG" serve --config /etc/airlock/config.yaml >/dev/null 2> "$WORK/run.err" ||
  { cat "$WORK/run.err"; exit 1; }
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
# The image's own health check, run as the runtime would.
"${RUN[@]}" healthcheck run airlock-packaging-test
[ "$(podman inspect airlock-packaging-test --format '{{.HostConfig.ReadonlyRootfs}}')" = true ]
VENV=${E2E_VENV:-$PWD/.venv-e2e}
"$VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check --target "$WORK/site" \
  --index-url "http://127.0.0.1:$PORT/simple/" epsilon==1.0
[ -d "$WORK/site/epsilon-1.0.dist-info" ] || { echo "packaging: pip did not install through the container"; exit 1; }
# Files the container wrote are its user's, in the data volume.
owner=$(stat -c %u "$WORK/data/airlock.db")
[ "$owner" = 65532 ] || { echo "packaging: data written as uid $owner"; exit 1; }
echo "packaging: container ran read-only as 65532, healthy; pip installed epsilon==1.0 through it"
