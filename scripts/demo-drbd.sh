#!/usr/bin/env bash
# make demo, part 2: a godrbd pair on 127.0.0.1 and 127.0.0.2 with file
# disks on this one machine. alice becomes Primary and syncs bob; data
# written through alice's NBD export (nbdcopy, Debian's libnbd-bin, when
# installed) is read back on bob after alice is killed with SIGKILL and
# bob is promoted; alice comes back as the sync target.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
DEMO=$(mktemp -d /tmp/drbd-demo.XXXXXX)
PORT=${DEMO_DRBD_PORT:-$((20000 + RANDOM % 20000))}
declare -A pid
cleanup() {
	for n in "${!pid[@]}"; do kill "${pid[$n]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$DEMO"
}
trap cleanup EXIT INT TERM

. scripts/demo-lib.sh
adm() { local n=$1; shift; "$BIN/godrbdadm" -c "$DEMO/drbd.conf" --node "$n" --rundir "$DEMO/$n/run" "$@"; }
is() { [ "$(adm "$1" "$2" r0)" = "$3" ]; }
start() {
	"$BIN/godrbd" --rundir "$DEMO/$1/run" --statedir "$DEMO/$1/state" --node "$1" run >"$DEMO/$1.log" 2>&1 &
	pid[$1]=$!
	wait_for 10 "$1's godrbd" test -S "$DEMO/$1/run/godrbd.sock"
}

say "Two nodes, one drbd.conf: protocol C, 64 MiB file disks, port $PORT"
for n in alice bob; do
	mkdir -p "$DEMO/$n"
	truncate -s 64M "$DEMO/$n/disk"
done
cat >"$DEMO/drbd.conf" <<CONF
global { usage-count no; disable-ip-verification; }
common { disk { c-plan-ahead 0; resync-rate 200M; } }
resource r0 {
  protocol C;
  on alice { device /dev/drbd0; disk $DEMO/alice/disk; address 127.0.0.1:$PORT; meta-disk internal; }
  on bob   { device /dev/drbd0; disk $DEMO/bob/disk;   address 127.0.0.2:$PORT; meta-disk internal; }
}
CONF
sed 's/^/    /' "$DEMO/drbd.conf"

say "godrbdadm create-md r0; godrbdadm up r0 (on both)"
for n in alice bob; do
	start "$n"
	adm "$n" create-md r0 2>&1 | sed "s/^/  $n: /"
	adm "$n" up r0
done
wait_for 10 "the connection" is alice cstate Connected
adm alice status r0 | sed '/^$/d; s/^/  /'

say "godrbdadm primary --force r0 on alice: bob syncs"
adm alice primary --force r0
adm bob wait-sync r0
adm alice status r0 | sed '/^$/d; s/^/  /'

nbd=$DEMO/alice/run/r0.nbd
if command -v nbdcopy >/dev/null; then
	say "Writing 16 MiB through alice's NBD export (nbdcopy)"
	head -c 16M /dev/urandom >"$DEMO/data"
	nbdcopy "$DEMO/data" "nbd+unix:///?socket=$nbd"
	echo "  written: $(sha256sum <"$DEMO/data" | cut -c1-16)…"
else
	say "nbdcopy not installed (Debian libnbd-bin): no data written"
fi

say "kill -9 alice (the Primary); bob sees the peer go and is promoted"
kill -9 "${pid[alice]}"
wait "${pid[alice]}" 2>/dev/null || true
unset 'pid[alice]'
wait_for 10 "bob to lose alice" is bob cstate WFConnection
adm bob primary r0
adm bob status r0 | sed '/^$/d; s/^/  /'
if command -v nbdcopy >/dev/null; then
	nbdcopy "nbd+unix:///?socket=$DEMO/bob/run/r0.nbd" "$DEMO/back"
	echo "  read on bob: $(head -c 16M "$DEMO/back" | sha256sum | cut -c1-16)…"
	if cmp -s -n 16M "$DEMO/data" "$DEMO/back"; then
		echo "  every byte alice acknowledged is on bob"
	else
		echo "demo: the data on bob differs" >&2
		exit 1
	fi
fi

say "alice comes back: godrbdadm up r0; it is the sync target now"
rm -f "$DEMO/alice/run/godrbd.sock"
start alice
adm alice up r0
adm alice wait-sync r0
adm alice status r0 | sed '/^$/d; s/^/  /'
grep -h "uuid_compare\|Split-Brain" "$DEMO/alice.log" | sed 's/.*msg="\([^"]*\)".*/  log: \1/' || true
echo "  blocks alice received back: $(adm alice status --json r0 | grep -o '"godrbd-resync-blocks-received": [0-9]*' | grep -o '[0-9]*$')"

say "Done; both godrbd stopped and $DEMO removed."
