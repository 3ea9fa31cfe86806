# shellcheck shell=bash
# Sourced by run.sh: the customer's 28-day month view (issue 16, point 5) through carnetd's
# cache, against today's throughput: pgbench calling booking_availability, the function every
# uncached request runs, in the same run. Requests turn over the store's active services (each
# (store, service, day) is cached apart); the best pgbench figure of -c CONNS and -c PROCS*POOL
# is the one compared.
m_store=$(psql -qAt "$url" -c "select id from stores where code = 'paris-opera'")
m_services=$(psql -qAt "$url" -c "select string_agg(id::text, ',' order by id) from services
                                  where store_id = $m_store and active")
m_n=$(awk -F, '{print NF}' <<<"$m_services")
m_from=$(date -u +%F)
m_to=$(date -u -d '+27 days' +%F)
cat > "$work/month.lua" <<LUA
local s = {$m_services}
local i = 0
request = function()
    i = i + 1
    return wrk.format("GET", "/api/stores/$m_store/availability?service=" .. s[(i % #s) + 1] ..
                      "&from=$m_from&to=$m_to")
end
LUA
for m_svc in ${m_services//,/ }; do
    curl -sf "http://127.0.0.1:$port/api/stores/$m_store/availability?service=$m_svc&from=$m_from&to=$m_to" \
        >/dev/null || echo "bench: month view of service $m_svc fails" >&2
done
wrk -t2 -c"$CONNS" -d"${DURATION}s" -s "$work/month.lua" "http://127.0.0.1:$port" > "$work/month-wrk.txt"
grep -q 'Non-2xx' "$work/month-wrk.txt" && { echo "bench: month view had errors:" >&2; cat "$work/month-wrk.txt" >&2; }
m_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/month-wrk.txt")
printf '\\set i random(1, %d)\nselect booking_availability(%s, (array[%s])[:i]::text, %s, %s);\n' \
    "$m_n" "$m_store" "$m_services" "'$m_from'" "'$m_to'" > "$work/month.sql"
m_tps=0
for m_c in "$CONNS" "$((PROCS * POOL))"; do
    pgbench -n -M prepared -c "$m_c" -j 2 -T "$DURATION" -f "$work/month.sql" "$url" > "$work/month-pgb.txt" 2>&1
    m_t=$(awk '/^tps = / {print $3; exit}' "$work/month-pgb.txt")
    echo "bench: month view, pgbench -c$m_c: ${m_t:-?} tx/s" >&2
    m_tps=$(echo "if (${m_t:-0} > $m_tps) ${m_t:-0} else $m_tps" | bc -l)
done
m_ratio=$(echo "${m_rps:-0} / ($m_tps + 0.000001)" | bc -l)
printf '%-30s carnetd %8.0f req/s (cached) | pgbench best %8.0f tx/s ratio %.1f\n' \
    "month view (28 days, cached)" "${m_rps:-0}" "$m_tps" "$m_ratio"
m_met=$(echo "$m_ratio >= 10" | bc -l)
printf 'goal|month view cached vs pgbench booking_availability|>= 10x|%.1fx (%.0f vs %.0f/s)|%s\n' \
    "$m_ratio" "${m_rps:-0}" "$m_tps" "$([ "$m_met" = 1 ] && echo met || echo MISSED)"
