#!/usr/bin/env bash
# Inspection of a release after the previous release was inspected with
# the analysis memo (the store keeps each source file's analysis by its
# content, across releases and restarts): the next release parses only
# what changed. Reads the detection benchmark's cache (bash
# bench/detection.sh fills it); each pair is PREVIOUS NEXT.
# Usage: bash bench/inspection-memo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
c=bench/cache/detection
go build -o bench/out/memobench ./internal/cmd/memobench
for p in botocore-1.44.5:botocore-1.44.6 setuptools-84.2.0:setuptools-84.2.1 pip-26.2.2.post1:pip-26.3 pygments-2.20.0:pygments-2.21.0 sympy-1.13.3:sympy-1.14.0; do
	prev=$(ls $c/${p%%:*}-*none-any.whl | head -1) next=$(ls $c/${p##*:}-*none-any.whl | head -1)
	bench/out/memobench "$prev" "$next"
done | tee bench/out/inspection-memo.txt
