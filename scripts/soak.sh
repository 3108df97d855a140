#!/bin/sh
# make soak: minutes, not part of make test. SOAK=3m by default.
set -eu
cd "$(dirname "$0")/.."
go run ./tools/beatbench -bin bin/hb-beat -soak "${SOAK:-3m}" soak
