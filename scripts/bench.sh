#!/usr/bin/env bash
# Runs every benchmark once in one run and writes docs/benchmarks.md with the
# raw `go test -bench` output per package, the machine and the date.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/benchmarks.md
tmp=$(mktemp)
pkgs=$(go list ./... | while read -r p; do
  d=$(go list -f '{{.Dir}}' "$p")
  grep -lq '^func Benchmark' "$d"/*_test.go 2>/dev/null && echo "$p"
done)
{
  echo "# Benchmarks"
  echo
  echo "Written by \`make bench\` ($(date -u +%Y-%m-%d), $(go version | cut -d' ' -f3), $(nproc) cores, $(uname -m))."
  echo "Command: \`go test -run '^\$' -bench . -benchmem -benchtime=${BENCHTIME:-1s} <pkg>\` per package."
  echo
  for p in $pkgs; do
    echo "## $p"
    echo
    echo '```'
    go test -run '^$' -bench . -benchmem -benchtime="${BENCHTIME:-1s}" "$p" 2>&1 | grep -E '^(Benchmark|goos|goarch|cpu|ok|FAIL|---)' || true
    echo '```'
    echo
  done
} > "$tmp"
mv "$tmp" "$out"
echo "wrote $out"
