#!/bin/sh
# Compares lib/drbd/nbd's server with nbdkit's file plugin on the same
# file, with fio's nbd engine (datapath.md §2.1 jobs, shortened).
# Needs fio and nbdkit; run as root so the page cache can be dropped.
# NBD_BENCH_SIZE (default 1G) and NBD_BENCH_RUNTIME (seconds, default 8).
set -eu
cd "$(dirname "$0")/.."
NBD_BENCH=1 go test -count=1 -run '^TestBenchAgainstNbdkit$' -v -timeout 30m ./lib/drbd/nbd/ | grep -v '^=== RUN'
