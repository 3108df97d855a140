#!/bin/sh
# godrbd's benchmark (tools/drbdbench): two godrbd daemons on 127.0.0.1
# and 127.0.0.2 with fallocated file disks; fio's 1 MiB sequential write
# and 4 KiB write+fsync QD1 through the NBD export for protocols A and C,
# as ratios to the same jobs on a raw file and through nbdkit's file
# plugin (and on two raw files at once: the disk shared by two writers
# as by a pair's two nodes on one machine), the same for a protocol C
# pair whose peer keeps its disk in RAM (/dev/shm: on one machine the
# two nodes otherwise share one disk),
# and the full resync's MB/s as a ratio to one Go TCP stream on
# loopback, all measured in the same run; it says whether protocol C
# reaches 90% of nbdkit. Needs fio and nbdkit; run as root so the page
# cache can be dropped. DRBD_BENCH_SIZE (default 512M) and
# DRBD_BENCH_RUNTIME (seconds, default 5); DRBD_BENCH_ROUNDS (default 1)
# interleaved rounds, reported as medians with the per-round values.
set -eu
cd "$(dirname "$0")/.."
go build -o bin/ ./cmd/godrbd ./cmd/godrbdadm
go run ./tools/drbdbench -bin bin
