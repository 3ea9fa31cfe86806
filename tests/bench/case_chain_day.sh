# shellcheck shell=bash
# shellcheck disable=SC2086 # $cpids is a list of pids, split on purpose
# Sourced by run.sh: the chain day (issue #16 point 9). 200 stores (fill_chain.sql); 1,000 staff
# tablets and 200 boards on SSE; 2,000 customers join a line and follow it on SSE; then for
# BENCH_CHAIN_SECONDS (120) 20 bookings/s, 2 check-ins/s, 2 calls/s and 1 diagnosis/s spread
# over the stores, by build/bench/loadgen. Prints p50/p99 and errors per kind, carnetd's RSS,
# SSE events received, the CPU each party used in the timed part (what limits it) and the pool waits of /metrics.
chain_s=${BENCH_CHAIN_SECONDS:-120}
chain_file="$work/chain.txt"
if [ ! -e "$chain_file" ]; then
    # Staff sessions are written here, as the login would write them, with tokens only this
    # script knows (1,000 argon2id logins would take minutes): the table keeps the BLAKE2b hash.
    psql -qAt -F ' ' "$url" -c "select r.store_id, r.staff_id from staff_roles r
        join stores s on s.id = r.store_id
        where s.code like 'chain-%' and r.role = 'specialist' order by 1, 2" |
        /usr/bin/python3 -c '
import hashlib, secrets, sys
with open(sys.argv[1], "w") as t, open(sys.argv[2], "w") as c:
    for line in sys.stdin:
        store, staff = line.split()
        tok = secrets.token_hex(32)
        h = hashlib.blake2b(tok.encode(), digest_size=32).hexdigest()
        t.write("T %s %s\n" % (store, tok))
        c.write("%s,%s\n" % (h, staff))
' "$chain_file" "$work/sessions.csv"
    psql -q -v ON_ERROR_STOP=1 "$url" -c "create temp table s (h text, id bigint)" \
        -c "\\copy s from '$work/sessions.csv' csv" \
        -c "insert into sessions (token_hash, staff_id, expires_at)
            select h, id, now() + interval '1 day' from s"
    psql -qAt -F ' ' "$url" >> "$chain_file" -c "
        select 'V', store_id, id from services s where store_id in
            (select id from stores where code like 'chain-%');
        select 'D', id, 'CHAIN' || lpad(substr(code, 7), 5, '0') from stores where code like 'chain-%';"
fi
# the bookings still to check in (a pass checks in about 240 of the 1,000)
cp "$chain_file" "$work/chain_pass.txt"
psql -qAt -F ' ' "$url" >> "$work/chain_pass.txt" -c "
    select 'A', a.store_id, a.id from appointments a join stores s on s.id = a.store_id
    where s.code like 'chain-%' and a.status = 'booked' and a.starts_at < now() + interval '1 hour'
    order by a.id"

rss_kb() { local p t=0; for p in "$@"; do
    t=$((t + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done; echo "$t"; }

wal0=$(psql -qAt "$url" -c "select pg_current_wal_lsn()")
: > "$work/chain_samples.txt"; : > "$work/chain_out.txt"
# shellcheck disable=SC2086
LOADGEN_CARNETD=$(echo $cpids | tr ' ' ,) LOADGEN_PG="pg:$pgdir" \
    build/bench/loadgen chain "$port" "$work/chain_pass.txt" "$chain_s" "${BENCH_PASS:-1}" \
    > "$work/chain_out.txt" 2> "$work/chain_err.txt" &
lg=$!
# every 2 s once the streams are set up: carnetd's RSS and the pool's waiting requests (one
# carnetd answers each /metrics)
while kill -0 "$lg" 2>/dev/null; do
    grep -q streams_wanted "$work/chain_out.txt" || { sleep 0.5; continue; }
    # shellcheck disable=SC2086
    w=$(curl -s --max-time 1 "http://127.0.0.1:$port/metrics" |
        awk '/^carnet_db_pool_waiting/ {s += $2} END {print s + 0}')
    echo "$(rss_kb $cpids) $w" >> "$work/chain_samples.txt"
    sleep 2
done
wait "$lg" || { echo "bench: loadgen chain failed" >&2; cat "$work/chain_err.txt" >&2; }
wal=$(psql -qAt "$url" -c "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal0')")
head -5 "$work/chain_err.txt" >&2
cpu_c=$(sed -n 's/.*cpu_carnetd_s=\([0-9.]*\).*/\1/p' "$work/chain_out.txt")
cpu_p=$(sed -n 's/.*cpu_postgres_s=\([0-9.]*\).*/\1/p' "$work/chain_out.txt")
cpu_l=$(sed -n 's/.*cpu_loadgen_s=\([0-9.]*\).*/\1/p' "$work/chain_out.txt")
machine=$(sed -n 's/.*machine_busy_pct=\([0-9]*\).*/\1/p' "$work/chain_out.txt")
rss_max=$(awk '$1 > m {m = $1} END {print m + 0}' "$work/chain_samples.txt")
wait_max=$(awk '$2 > m {m = $2} END {print m + 0}' "$work/chain_samples.txt")
echo "chain day ($chain_s s, pass ${BENCH_PASS:-1}):"
sed 's/^/  /' "$work/chain_out.txt"
kv() { sed -n "s/^$1 .*$2=\([0-9.]*\).*/\1/p" "$work/chain_out.txt"; }
errs=0; ops=0
for k in booking checkin call diagnosis line_join; do
    errs=$((errs + $(kv "$k" errors))); ops=$((ops + $(kv "$k" n) + $(kv "$k" errors)))
done
want=$(sed -n 's/.*streams_wanted=\([0-9]*\).*/\1/p' "$work/chain_out.txt")
held=$(sed -n 's/.*streams_open_at_end=\([0-9]*\).*/\1/p' "$work/chain_out.txt")
events=$(sed -n 's/^sse_events=\([0-9]*\).*/\1/p' "$work/chain_out.txt")
printf '  carnetd RSS max %s MB (%s processes); pool waiting max %s; WAL %s MB (%s kB/s)\n' \
    "$((rss_max / 1024))" "$(echo $cpids | wc -w)" "$wait_max" "$((wal / 1048576))" "$((wal / 1024 / chain_s))"
printf '  CPU s over the run: carnetd %.1f, postgres %.1f, loadgen %.1f (of %d cores x %d s); machine %s %% busy\n' \
    "$cpu_c" "$cpu_p" "$cpu_l" "$(nproc)" "$chain_s" "$machine"
busy=$(echo "100 * ($cpu_c + $cpu_p + $cpu_l) / ($(nproc) * $chain_s)" | bc)
top=$(printf '%s carnetd\n%s postgres\n%s loadgen\n' "$cpu_c" "$cpu_p" "$cpu_l" | sort -rn | head -1 | cut -d' ' -f2)
if [ "$busy" -ge 80 ]; then
    limit="CPU, mostly $top"
elif [ "${machine:-0}" -ge 90 ]; then
    limit="the shared machine: cores ${machine} % busy, $busy % of them ours (most: $top)"
else
    limit="no core saturated ($busy % busy; most CPU: $top)"
fi
[ "$wait_max" -gt 0 ] && limit="$limit; up to $wait_max requests waited for a pool connection"
echo "  limits it: $limit"
echo "CHAIN_WAL_BYTES=$wal CHAIN_SECONDS=$chain_s CHAIN_RSS_KB=$rss_max" >> "$work/figures.txt"
for k in booking checkin call diagnosis; do
    printf '  %-10s p50 %6s ms  p99 %6s ms  errors %s\n' "$k" "$(kv "$k" p50_ms)" "$(kv "$k" p99_ms)" "$(kv "$k" errors)"
done
echo "goal|chain day: errors|0 of $ops operations|$errs errors (p99 booking $(kv booking p99_ms) ms, check-in $(kv checkin p99_ms), call $(kv call p99_ms), diagnosis $(kv diagnosis p99_ms); limit: $limit)|$([ "$errs" -eq 0 ] && echo met || echo MISSED)"
echo "goal|chain day: streams held|all $want|$held held, $events events, RSS $((rss_max / 1024)) MB|$([ "${held:-0}" -ge "${want:-1}" ] && echo met || echo MISSED)"
# What a row costs on disk with its indexes (after the chain days: real rows, sealed), for the
# README's capacity plan.
psql -qAt -F ' ' "$url" -c "analyze appointments, visits, record_entries, audit_log, outbox, diagnostic_values" \
    -c "select relname, reltuples::bigint, pg_total_relation_size(oid) / greatest(reltuples, 1)::bigint
        from pg_class where relname in ('appointments', 'visits', 'record_entries', 'audit_log',
                                        'outbox', 'diagnostic_values') order by 1" |
    awk '{printf "  %-18s %9d rows %6d B/row with indexes\n", $1, $2, $3}'
