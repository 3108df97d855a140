#!/bin/sh
# Installs the Debian packages the tests need, when they are missing and we
# are root. Each component lists its packages in .ci/packages.d/*.txt.
set -eu
cd "$(dirname "$0")/.."
pkgs=$(cat .ci/packages.d/*.txt 2>/dev/null | sed 's/#.*//' | tr -s ' \n' '\n' | sort -u | grep . || true)
[ -n "$pkgs" ] || exit 0
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
if [ "$(id -u)" != 0 ]; then
	echo "test-deps: not root, cannot install:$missing (tests that need them will say so)" >&2
	exit 0
fi
echo "test-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
