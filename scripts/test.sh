#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs the pinned clients into
# a virtual environment and Debian's chromium, then checks formatting, vets, runs every Go test
# with the race detector (unit, integration, end-to-end with pip and uv), and
# gives each fuzz target a short run. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
export E2E_VENV=${E2E_VENV:-$PWD/.venv-e2e}
bash scripts/setup-clients.sh "$E2E_VENV"
# The review page is tested in Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the browser tests"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# PostgreSQL from Debian's archive for the shared-state tests (each test
# makes a throwaway cluster with initdb, as the postgres user when root).
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing postgresql (Debian package) for the database tests"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# nginx balances two replicas in the shared-state test.
if ! command -v nginx >/dev/null 2>&1; then
  echo "installing nginx-light (Debian package) for the replica tests"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nginx-light >/dev/null
fi

# strace watches the running binary send a warm file with sendfile(2).
if ! command -v strace >/dev/null 2>&1; then
  echo "installing strace (Debian package) for the sendfile test"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq strace >/dev/null
fi

# A real S3-compatible server for the blob store's tests: versitygw.
export VERSITYGW=${VERSITYGW:-$(go env GOPATH)/bin/versitygw}
if [ ! -x "$VERSITYGW" ]; then
  echo "installing versitygw v1.8.0 (go install) for the S3 tests"
  GOBIN=$(dirname "$VERSITYGW") go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi

unformatted=$(gofmt -l $(find . -name '*.go' -not -path './.venv*'))
if [ -n "$unformatted" ]; then echo "gofmt needed:"; echo "$unformatted"; exit 1; fi
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
go test -race -count=1 ./...
# The same features on PostgreSQL: every package whose tests open their
# store through internal/storetest (the server, the airlock command, the
# end-to-end installs with pip and uv among them, and any added later)
# again, on a throwaway cluster.
STORE_TEST_BACKEND=postgres go test -count=1 $(go list -f '{{if or .TestImports .XTestImports}}{{.ImportPath}} {{join .TestImports " "}}{{end}}' ./... | awk '/airlock\/internal\/storetest/ {print $1}')
# The container image and the systemd unit.
bash packaging/test.sh

# An execution count, not a duration: a duration can end mid-input, which
# Go reports as "context deadline exceeded" (a flake, not a finding).
FUZZTIME=${FUZZTIME:-20000x}
for target in index:FuzzNormalize index:FuzzParseJSON index:FuzzParseHTML config:FuzzLoad pep440:FuzzParse verify:FuzzParseProvenance verify:FuzzVerifyAttestation inspect:FuzzInspect inspect:FuzzImportsOf inspect:FuzzAsPythonReads pycode:FuzzAnalyze; do
  pkg=${target%%:*}; fn=${target#*:}
  log=$(mktemp)
  go test -run='^$' -fuzz="^$fn\$" -fuzztime="$FUZZTIME" "./$pkg" > "$log" 2>&1 || { cat "$log"; exit 1; }
  echo "fuzz $pkg.$fn: ok ($FUZZTIME)"
done
