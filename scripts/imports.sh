#!/usr/bin/env bash
# Prints each package of the house with its lines of Go (tests excluded)
# and how many of the project's packages it imports, most imports first.
# internal/layout's test holds every package to at most eight.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
printf '%-36s %6s %8s\n' package lines imports
for p in $(go list ./... | grep -v /e2e); do
	n=$(go list -f '{{join .Imports "\n"}}' "$p" | grep -c "^$mod/" || true)
	files=$(go list -f '{{range .GoFiles}}{{$.Dir}}/{{.}} {{end}}' "$p")
	l=0
	[ -n "$files" ] && l=$(cat $files | wc -l)
	printf '%-36s %6d %8d\n' "${p#"$mod"/}" "$l" "$n"
done | sort -k3,3nr -k1,1
