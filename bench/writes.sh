#!/usr/bin/env bash
# Write capacity of the store: decisions (record, state index and audit
# entry in one transaction) from 8 goroutines per core, on bbolt and on a
# durable PostgreSQL (fsync and synchronous commit on) written by two
# stores at once, as two replicas would. Writes are serialized on both, so
# this is what a whole mirror can decide per second.
# Usage: bash bench/writes.sh   (results in bench/out/writes.txt)
# Needs PostgreSQL (scripts/test.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
mkdir -p bench/out
{
  echo "# Airlock store writes $(date -u +%Y-%m-%dT%H:%MZ)"
  go test ./storage -run '^$' -bench 'DecisionWrites' -benchtime 3s -count 3 | grep '^Benchmark'
} | tee bench/out/writes.txt
