#!/usr/bin/env bash
# Advisory feed costs: reading a feed of 15,000 OSV records from a
# directory, matching a file no record names, a warm file request with
# and without those records loaded, and what hostile feeds over HTTP cost
# (time and peak RSS: a zip of 1,000,000 records, a 501 MB zip, the largest
# feed accepted, a real-sized one). Usage: bash bench/advisories.sh
# (results in bench/out/advisories.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
mkdir -p bench/out
{
  echo "# Airlock advisories $(date -u +%Y-%m-%dT%H:%MZ)"
  go test ./advisories -run '^$' -bench 'Load15000|MatchMiss' -benchtime 5x -count 3 | grep '^Benchmark'
  go test ./advisories -run '^$' -bench 'MatchMiss' -benchtime 2000000x -count 3 | grep '^Benchmark'
  go test ./simpleapi -run '^$' -bench 'WarmFileAdvisories' -benchtime 5000x -count 5 | grep '^Benchmark'
  go build -o bench/out/feedbench ./internal/cmd/feedbench
  scratch=$(mktemp -d)
  for c in real-20k max-100k records-1m zip-501mb; do
    bench/out/feedbench -case "$c" -dir "$scratch" -write
    bench/out/feedbench -case "$c" -dir "$scratch"
  done
  rm -rf "$scratch"
} | tee bench/out/advisories.txt
