#!/usr/bin/env bash
# `make bench`: read endpoints through carnetd (wrk) against the same SQL straight to PostgreSQL
# (pgbench), in one run on one throwaway database that the script fills itself.
#
# Each case: a name, an HTTP path (may use values the fill step prints), and the SQL that the
# endpoint runs. The ratio carnetd/pgbench says what the HTTP layer and the pool cost on top of
# the query. Both sides get the same client concurrency and duration.
#
# Every case prints its goals of issue #16 as lines "goal|name|goal|measured|met or MISSED"
# (tests/bench/case_*.sh); the whole set runs twice (BENCH_PASSES) on the same database and
# carnetd, and the end is one table: each goal, its figure in each pass, the spread between them.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${BENCH_DURATION:-8}
CONNS=${BENCH_CONNECTIONS:-32}
POOL=${BENCH_POOL:-8}
PROCS=${BENCH_PROCS:-$(nproc)}   # carnetd processes sharing the port (one loop each)
PASSES=${BENCH_PASSES:-2}
# Thousands of streams (the chain day, the SSE storm): carnetd and the load generator may use
# every descriptor the hard limit allows.
ulimit -n "$(ulimit -Hn)"
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

# ratio: carnetd's req/s over pgbench's tx/s at the same concurrency, of the last run_case
ratio=0
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
    ratio=$(echo "$rps / $tps" | bc -l)
    rps_last=$rps tps_last=$tps
    printf '%-30s carnetd %8.0f req/s | pgbench -c%d %8.0f tx/s ratio %.2f | pgbench -c%d %8.0f tx/s ratio %.2f\n' \
        "$name" "$rps" "$CONNS" "$tps" "$(echo "$rps / $tps" | bc -l)" \
        "$((PROCS * POOL))" "$tps2" "$(echo "$rps / $tps2" | bc -l)"
}

echo "bench: $CONNS connections, ${DURATION}s each, $PROCS carnetd x pool $POOL, $(nproc) cores (carnetd, PostgreSQL and the load share them)"
one_pass() {
    run_case "healthz (select 1)" "/healthz" "select 1;"
    printf 'goal|healthz vs pgbench select 1|>= 0.60x|%.2fx (%.0f vs %.0f/s)|%s\n' "$ratio" "$rps_last" "$tps_last" "$([ "$(echo "$ratio >= 0.60" | bc)" = 1 ] && echo met || echo MISSED)"
    for f in tests/bench/case_*.sh; do
        [ -e "$f" ] || continue
        # shellcheck source=/dev/null
        . "$f"
    done
}
for pass in $(seq "$PASSES"); do
    echo "bench: pass $pass of $PASSES"
    BENCH_PASS=$pass one_pass | tee "$work/pass$pass.txt"
done

# The goal table: a goal's row in each pass, side by side; the spread between the first
# numbers of the measured texts, relative to the larger.
echo
echo "bench: goals of issue #16 ($(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $PASSES passes)"
/usr/bin/python3 - "$work" "$PASSES" <<'PY'
import re, sys
work, passes = sys.argv[1], int(sys.argv[2])
rows, order = {}, []
for p in range(1, passes + 1):
    for line in open("%s/pass%d.txt" % (work, p)):
        f = line.rstrip("\n").split("|")
        if len(f) != 5 or f[0] != "goal":
            continue
        if f[1] not in rows:
            rows[f[1]] = {"goal": f[2]}
            order.append(f[1])
        rows[f[1]][p] = (f[3], f[4])
def first_number(t):
    m = re.search(r"-?[0-9][0-9,]*(\.[0-9]+)?", t)
    return float(m.group(0).replace(",", "")) if m else None
print("| goal | target | " + " | ".join("run %d" % p for p in range(1, passes + 1))
      + " | spread | result |")
print("|---|---|" + "---|" * passes + "---|---|")
missed = 0
for name in order:
    r = rows[name]
    cells, nums, verdicts = [], [], []
    for p in range(1, passes + 1):
        m, v = r.get(p, ("(not run)", "MISSED"))
        cells.append("%s (%s)" % (m, v))
        nums.append(first_number(m))
        verdicts.append(v)
    spread = "-"
    if len(nums) > 1 and all(n is not None for n in nums):
        top = max(abs(n) for n in nums)
        spread = "%.0f %%" % (100 * (max(nums) - min(nums)) / top) if top else "0 %"
    ok = all(v == "met" for v in verdicts)
    missed += not ok
    print("| %s | %s | %s | %s | %s |" % (name, r["goal"], " | ".join(cells), spread,
                                          "met" if ok else "MISSED"))
print("\nbench: %d of %d goals met in every pass" % (len(order) - missed, len(order)))
PY
