#!/usr/bin/env bash
# Advisory feed costs: reading a feed of 15,000 OSV records from a
# directory, matching a file no record names, and a warm file request with
# and without those records loaded. Usage: bash bench/advisories.sh
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
} | tee bench/out/advisories.txt
