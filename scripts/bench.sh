#!/bin/sh
# make bench: every benchmark, each printing ratios against a baseline
# measured in the same run.
set -eu
cd "$(dirname "$0")/.."
go run ./tools/beatbench -bin bin/hb-beat bench
for pkg in $(go list ./... ); do
	if grep -ql '^func Benchmark' $(go list -f '{{range .TestGoFiles}}{{$.Dir}}/{{.}} {{end}}' "$pkg") /dev/null 2>/dev/null; then
		go test -run '^$' -bench . -benchmem "$pkg"
	fi
done
# NBD export against nbdkit's file plugin on the same file (fio)
scripts/bench-nbd.sh
# godrbd through its NBD export (protocols A, C) against a raw file, nbdkit; resync against TCP
scripts/bench-drbd.sh
