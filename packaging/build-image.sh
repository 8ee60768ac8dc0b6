#!/usr/bin/env bash
# Builds Airlock's container image with podman: a static binary (cgo for
# tree-sitter, linked statically; pure-Go DNS and user lookups), the CA
# bundle and packaging/Containerfile. Usage: bash packaging/build-image.sh [TAG]
# Prints the context directory it used.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG=${1:-airlock:latest}
export GOTOOLCHAIN=local
CTX=$(mktemp -d)
trap 'rm -rf "$CTX"' EXIT
CGO_ENABLED=1 go build -buildvcs=auto -trimpath -tags netgo,osusergo \
  -ldflags '-s -w -linkmode external -extldflags -static' -o "$CTX/airlock" ./cmd/proxy
cp /etc/ssl/certs/ca-certificates.crt "$CTX/"
mkdir -p "$CTX/data" "$CTX/config"
cp config.example.yaml "$CTX/config/config.example.yaml"
cp packaging/Containerfile "$CTX/"
# Docker format: OCI images carry no HEALTHCHECK.
podman build --quiet --format docker -t "$TAG" "$CTX"
