#!/usr/bin/env bash
# make demo: three hb-beat nodes on 127.0.0.1-3 on this one machine, no
# root needed. They find each other, exchange a message, then node3 is
# killed with SIGKILL and the others report it dead within deadtime.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/bin
DEMO=$(mktemp -d /tmp/hb-demo.XXXXXX)
PORT=${DEMO_PORT:-$((20000 + RANDOM % 20000))}
pids=()
cleanup() {
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$DEMO"
}
trap cleanup EXIT INT TERM

. scripts/demo-lib.sh
# node I PROG ARGS...: run PROG as node I; env execs PROG, so $! after
# `node ... &` is PROG's own PID
node() { local i=$1; shift; env HA_CONFDIR="$DEMO/node$i/conf" HA_STATEDIR="$DEMO/node$i/state" HA_RUNDIR="$DEMO/node$i/run" HA_NODENAME="node$i" "$@"; }

say "Three nodes, one ha.cf (keepalive 200ms, deadtime 1s), ucast on loopback, port $PORT"
for i in 1 2 3; do
	mkdir -p "$DEMO/node$i/conf"
	cat > "$DEMO/node$i/conf/ha.cf" <<CONF
keepalive 200ms
deadtime 1
warntime 500ms
initdead 3
udpport $PORT
ucast lo 127.0.0.1
ucast lo 127.0.0.2
ucast lo 127.0.0.3
node node1 node2 node3
auto_failback on
CONF
	printf 'auth 1\n1 sha1 demo-secret\n' > "$DEMO/node$i/conf/authkeys"
	chmod 600 "$DEMO/node$i/conf/authkeys"
done
sed 's/^/    /' "$DEMO/node1/conf/ha.cf"
node 1 "$BIN/hb-beat" check

say "Starting hb-beat on node1, node2, node3 (each bound to its own 127.0.0.x)"
for i in 1 2 3; do
	env HA_CONFDIR="$DEMO/node$i/conf" HA_STATEDIR="$DEMO/node$i/state" HA_RUNDIR="$DEMO/node$i/run" HA_NODENAME="node$i" \
		"$BIN/hb-beat" run --bind 127.0.0.$i >"$DEMO/node$i.log" 2>&1 &
	pids+=($!)
	echo "  node$i: pid $!, log $DEMO/node$i.log"
done
all_active() { [ "$(node 1 "$BIN/hb-beat" nodes --output-as json | grep -c '"status": "active"')" = 3 ]; }
wait_for 10 "all three nodes active" all_active

say "hb-beat nodes (on node1)"
node 1 "$BIN/hb-beat" nodes
say "hb-beat cl-status, for runbooks written against cl_status"
for args in "hbstatus" "listnodes" "nodestatus node2" "listhblinks node3" "hbparameter -p deadtime"; do
	printf '  $ cl_status %-24s -> ' "$args"
	# shellcheck disable=SC2086
	node 1 "$BIN/hb-beat" cl-status $args | tr '\n\t' '  '
	echo
done

say "A cluster message from node2, received once on node1"
env HA_RUNDIR="$DEMO/node1/run" "$BIN/hb-beat" recv --type demo -n 1 >"$DEMO/recv.out" &
recv=$!
has_receiver() { node 1 "$BIN/hb-beat" status --output-as json | grep -q '"receivers": 1'; }
wait_for 5 "the receiver on node1" has_receiver
node 2 "$BIN/hb-beat" send demo text="hello from node2"
wait "$recv"
sed 's/^/  node1 received: /' "$DEMO/recv.out"

say "Killing node3 with SIGKILL; node1 watches"
steady() { node 1 "$BIN/hb-beat" nodes --output-as json | grep -q '"deadtime_ms": 1000'; }
wait_for 10 "peers past their startup grace" steady
env HA_RUNDIR="$DEMO/node1/run" "$BIN/hb-beat" watch >"$DEMO/watch.out" &
pids+=($!)
wait_for 5 "the watcher" grep -q "node node3 active" "$DEMO/watch.out"
echo "  kill -9 node3 at $(date +%T.%3N)"
kill -9 "${pids[2]}"
node3_dead() { [ "$(node 1 "$BIN/hb-beat" cl-status nodestatus node3 || true)" = dead ]; }
wait_for 5 "node3 dead on node1" node3_dead
grep -E "node3 (dead|active)|node3:lo" "$DEMO/watch.out" | tail -2 | sed 's/^/  node1 saw: /'
grep -h "is dead" "$DEMO/node1.log" "$DEMO/node2.log" | sed 's/^/  log: /'

say "hb-beat nodes (on node2)"
node 2 "$BIN/hb-beat" nodes

say "Stopping node2 cleanly: node1 marks it dead at once"
kill -TERM "${pids[1]}"
node2_dead() { [ "$(node 1 "$BIN/hb-beat" cl-status nodestatus node2 || true)" = dead ]; }
wait_for 3 "node2 dead on node1" node2_dead
grep -E "node2 dead" "$DEMO/watch.out" | sed 's/^/  node1 saw: /'
say "Done; everything started here is stopped and $DEMO removed."
