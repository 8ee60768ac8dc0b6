#!/usr/bin/env bash
# The detection benchmark: false holds on real, widely used releases
# (downloaded from PyPI into bench/cache/detection, git-ignored; every file
# of the newest release older than 14 days of each project in
# bench/detection-projects.txt) and recall on the synthetic malicious shapes
# of internal/malcorpus. Needs the network to PyPI; not part of the tests.
# Usage: bash bench/detection.sh   (results also in bench/out/detection.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
mkdir -p bench/out
go run ./internal/cmd/detectbench -projects bench/detection-projects.txt -cache bench/cache/detection "$@" | tee bench/out/detection.txt
