#!/usr/bin/env bash
# local.sh runs blockd-load against the topology the README's throughput
# figures were measured on, on this machine: the development broker (kfake)
# and the provider sandboxes (20 ms of latency) each in its own process, and
# INSTANCES blockd processes (blockd dev, pointed at them, so that no
# embedded part shares blockd's CPU) on a fresh PostgreSQL database.
#
#   bash cmd/blockd-load/local.sh [-i INSTANCES] [-b BLOCKD] [-e VAR=value]... -- [blockd-load flags]
#
# -b runs a blockd binary built elsewhere (another commit, to compare) for
# the blockd processes; the broker and sandboxes are always this tree's.
#
# e.g. bash cmd/blockd-load/local.sh -- -n 20000 -keys 10000
#      bash cmd/blockd-load/local.sh -- -n 5000 -keys 5000 -rate 250
#      bash cmd/blockd-load/local.sh -i 2 -- -n 20000 -keys 10000
#
# It prints blockd-load's summary line, then the CPU seconds the broker, the
# sandboxes and the whole machine spent during the run. Everything it
# starts is stopped at the end; the database is dropped.
set -euo pipefail

instances=1
blockd_bin=
extra_env=()
while [[ $# -gt 0 && $1 != -- ]]; do
	case $1 in
	-i) instances=$2; shift 2 ;;
	-b) blockd_bin=$(realpath "$2"); shift 2 ;;
	-e) extra_env+=("$2"); shift 2 ;;
	*) echo "usage: $0 [-i INSTANCES] [-b BLOCKD] [-e VAR=value]... -- [blockd-load flags]" >&2; exit 2 ;;
	esac
done
[[ ${1:-} == -- ]] && shift

repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/blockd-local.XXXXXX)
pids=()
db="blockd_local_$$"
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" postgres >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$repo" && go build -o "$work/blockd" ./cmd/blockd && go build -o "$work/blockd-load" ./cmd/blockd-load)
head -c 32 /dev/urandom >"$work/token.key"
service="${blockd_bin:-$work/blockd}"

BLOCKD_DATA_DIR="$work" BLOCKD_EMBEDDED_KAFKA_ADDR=127.0.0.1:9092 "$work/blockd" broker >"$work/broker.log" 2>&1 &
broker=$!; pids+=("$broker")
BLOCKD_SANDBOX_LATENCY=20ms "$work/blockd" sandbox >"$work/sandbox.log" 2>&1 &
sandbox=$!; pids+=("$sandbox")
sleep 2

for i in $(seq 1 "$instances"); do
	env BLOCKD_DATA_DIR="$work" BLOCKD_KAFKA_BROKERS=127.0.0.1:9092 BLOCKD_TOPIC_PARTITIONS=12 \
		BLOCKD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable" \
		BLOCKD_HTTP_ADDR="127.0.0.1:$((18080 + 2 * i))" BLOCKD_ADMIN_ADDR="127.0.0.1:$((18081 + 2 * i))" \
		BLOCKD_PROVIDERS=finnotech BLOCKD_FINNOTECH_URL=http://127.0.0.1:8181 BLOCKD_FINNOTECH_ALLOW_HTTP=true \
		BLOCKD_FINNOTECH_CLIENT_ID=blockd-sandbox BLOCKD_FINNOTECH_CLIENT_SECRET=sandbox-secret \
		BLOCKD_FINNOTECH_TOKEN=sandbox-token BLOCKD_FINNOTECH_REFRESH_TOKEN=refresh-sandbox-token \
		BLOCKD_FINNOTECH_BANK=062 BLOCKD_FINNOTECH_NID=0012345678 BLOCKD_TOKEN_KEY_FILE="$work/token.key" \
		"${extra_env[@]}" "$service" dev >"$work/blockd-$i.log" 2>&1 &
	pids+=("$!")
	if [[ $i == 1 ]]; then first=$!; fi
	for _ in $(seq 1 60); do
		curl -sf "127.0.0.1:$((18080 + 2 * i))/readyz" >/dev/null && break
		sleep 0.5
	done
done
sleep 2

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
machine() { awk '/^cpu /{print $2 + $3 + $4, $5}' /proc/stat; }
b0=$(cpu "$broker"); s0=$(cpu "$sandbox"); read -r busy0 idle0 < <(machine)
pid=$first
[[ $instances -gt 1 ]] && pid=-1
"$work/blockd-load" -progress 0 -pid "$pid" "$@" 2>&1 | tail -1
b1=$(cpu "$broker"); s1=$(cpu "$sandbox"); read -r busy1 idle1 < <(machine)
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 100 }'; }
echo "instances=$instances broker_cpu_s=$(seconds "$b0" "$b1") sandbox_cpu_s=$(seconds "$s0" "$s1") machine_busy_s=$(seconds "$busy0" "$busy1") machine_idle_s=$(seconds "$idle0" "$idle1")"
