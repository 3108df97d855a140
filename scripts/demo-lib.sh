# Sourced by the demo scripts.

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds
wait_for() {
	local limit=$1 what=$2; shift 2
	local end=$((SECONDS + limit))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $end ]; then echo "demo: $what did not happen within ${limit}s" >&2; exit 1; fi
		sleep 0.05
	done
}
