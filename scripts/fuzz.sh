#!/bin/sh
# Runs every fuzz target of the module for $1 (default 2s) each.
set -eu
cd "$(dirname "$0")/.."
t=${1:-2s}
n=0
for f in $(grep -rl --include='*_test.go' '^func Fuzz' lib cmd 2>/dev/null | sort); do
	pkg=./$(dirname "$f")
	for fn in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		echo "fuzz: $pkg $fn ($t)"
		go test -run='^$' -fuzz="^$fn\$" -fuzztime="$t" "$pkg" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; rm -f /tmp/fuzz.$$.log; exit 1; }
		n=$((n + 1))
	done
done
rm -f /tmp/fuzz.$$.log
echo "fuzz: $n passed, 0 failed"
