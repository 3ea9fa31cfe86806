#!/usr/bin/env bash
# `make bench`: read endpoints through carnetd (wrk) against the same SQL straight to PostgreSQL
# (pgbench), in one run on one throwaway database that the script fills itself.
#
# Each case: a name, an HTTP path (may use values the fill step prints), and the SQL that the
# endpoint runs. The ratio carnetd/pgbench says what the HTTP layer and the pool cost on top of
# the query. Both sides get the same client concurrency and duration.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${BENCH_DURATION:-8}
CONNS=${BENCH_CONNECTIONS:-32}
POOL=${BENCH_POOL:-8}
PROCS=${BENCH_PROCS:-$(nproc)}   # carnetd processes sharing the port (one loop each)
work=$(mktemp -d /tmp/carnet-bench.XXXXXX)
chmod 755 "$work"
pgdir="$work/pg"
cleanup() {
    for p in ${cpids:-}; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    .tools/pg.sh destroy "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# $url is the superuser's (seeds, fills, pgbench); carnetd migrates as the owner role and serves
# as the role that may only execute the API's functions (README, Database roles).
url=$(CARNET_PG_FSYNC=off .tools/pg.sh start "$pgdir" 2>/dev/null)
(umask 077 && head -c 32 /dev/urandom > "$work/data.key")
export CARNET_DATA_KEY_FILE="$work/data.key"
app_url=$(.tools/pg.sh url "$pgdir" app)
build/carnetd --migrate --migrate-url "$(.tools/pg.sh url "$pgdir" owner)" \
    --database-url "$app_url" --log-level warning
for f in schema/seed/*.sql; do psql -q -v ON_ERROR_STOP=1 "$url" -f "$f" >/dev/null; done
# Domain fills (large data sets) print KEY=VALUE lines used in the cases below.
declare -A V=()
for f in tests/bench/fill_*.sql; do
    [ -e "$f" ] || continue
    echo "bench: filling with $f ..." >&2
    while IFS='=' read -r k v; do [ -n "$k" ] && V[$k]=$v; done \
        < <(psql -qAt -v ON_ERROR_STOP=1 "$url" -f "$f" | grep '=' || true)
done

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cpids=""
for _ in $(seq "$PROCS"); do
    build/carnetd --skip-migrate --no-jobs --reuse-port --database-url "$app_url" \
        --listen "127.0.0.1:$port" --pool-size "$POOL" --log-level warning --queue-max 100000 &
    cpids="$cpids $!"
done
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

subst() { local s=$1 k; for k in "${!V[@]}"; do s=${s//\{$k\}/${V[$k]}}; done; printf '%s' "$s"; }

run_case() {
    local name=$1 path sql rps tps
    path=$(subst "$2")
    sql=$(subst "$3")
    printf '%s\n' "$sql" > "$work/q.sql"
    if [ -n "${WRK_HEADER:-}" ]; then
        curl -sf -H "$WRK_HEADER" "http://127.0.0.1:$port$path" >/dev/null || { echo "bench: $path fails" >&2; return 1; }
        wrk -t2 -c"$CONNS" -d"${DURATION}s" -H "$WRK_HEADER" "http://127.0.0.1:$port$path" > "$work/wrk.txt"
    else
        curl -sf "http://127.0.0.1:$port$path" >/dev/null || { echo "bench: $path fails" >&2; return 1; }
        wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port$path" > "$work/wrk.txt"
    fi
    rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
    if grep -q 'Non-2xx' "$work/wrk.txt"; then echo "bench: $name had errors:" >&2; cat "$work/wrk.txt" >&2; fi
    pgbench -n -M prepared -c "$CONNS" -j 2 -T "$DURATION" -f "$work/q.sql" "$url" > "$work/pgb.txt" 2>&1
    tps=$(awk '/^tps = / {print $3; exit}' "$work/pgb.txt")
    # pgbench again with as many connections as carnetd's pools hold in all: the same database
    # concurrency, so the ratio isolates what HTTP and the pool cost.
    pgbench -n -M prepared -c "$((PROCS * POOL))" -j 2 -T "$DURATION" -f "$work/q.sql" "$url" > "$work/pgb2.txt" 2>&1
    tps2=$(awk '/^tps = / {print $3; exit}' "$work/pgb2.txt")
    printf '%-30s carnetd %8.0f req/s | pgbench -c%d %8.0f tx/s ratio %.2f | pgbench -c%d %8.0f tx/s ratio %.2f\n' \
        "$name" "$rps" "$CONNS" "$tps" "$(echo "$rps / $tps" | bc -l)" \
        "$((PROCS * POOL))" "$tps2" "$(echo "$rps / $tps2" | bc -l)"
    # For a case's goal line: the last case's figures at the same client concurrency.
    CASE_RPS=$rps CASE_TPS=$tps
}

echo "bench: $CONNS connections, ${DURATION}s each, $PROCS carnetd x pool $POOL, $(nproc) cores (carnetd, PostgreSQL and the load share them)"
run_case "healthz (select 1)" "/healthz" "select 1;"
# Issue #16, point 6: the HTTP layer costs at most 40 % of a bare `select 1` (same concurrency).
awk -v r="$CASE_RPS" -v t="$CASE_TPS" 'BEGIN {
    x = r / t; printf "goal|healthz vs pgbench select 1|>= 0.60x|%.2fx (%d vs %d/s)|%s\n",
        x, r, t, (x >= 0.60 ? "met" : "MISSED") }'
for f in tests/bench/case_*.sh; do
    [ -e "$f" ] || continue
    # shellcheck source=/dev/null
    . "$f"
done
