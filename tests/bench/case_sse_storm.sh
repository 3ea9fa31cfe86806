# shellcheck shell=bash
# Sourced by run.sh: the SSE storm (issue #16 point 1). BENCH_STORM_CLIENTS (10,000) board
# streams of five stores open at once, as when carnetd restarts and every screen reconnects,
# against one carnetd of its own with default options (pool, --queue-max), as deployed. Counts the
# streams that opened (200 and their first bytes) and the refusals; then a walk-in joins each
# store's line, and the time for that event to reach 99 % of all the clients is measured; and
# carnetd's RSS growth per idle client. The load generator is build/bench/loadgen (storm mode).
storm_n=${BENCH_STORM_CLIENTS:-10000}
storm_stores=$(psql -qAt "$url" -c "select string_agg(id::text, ',' order by id)
    from (select id from stores where code like 'chain-%' order by id limit 5) s")
storm_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
build/carnetd --skip-migrate --no-jobs --database-url "$app_url" --listen "127.0.0.1:$storm_port" \
    --log-level error 2> "$work/storm_carnetd.log" &
storm_pid=$!
# its start-up (link stock, sealing pass) may take a while on a busy machine
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$storm_port/healthz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$storm_port/healthz" >/dev/null ||
    { echo "bench: the storm's carnetd is not up after 60 s:" >&2; tail -5 "$work/storm_carnetd.log" >&2; }
sleep 1 # RSS settles after start-up
build/bench/loadgen storm "$storm_port" "$storm_n" "$storm_stores" "$storm_pid" \
    > "$work/storm_out.txt" 2> "$work/storm_err.txt" || cat "$work/storm_err.txt" >&2
kill "$storm_pid" 2>/dev/null; wait "$storm_pid" 2>/dev/null || true
echo "SSE storm ($storm_n clients on 5 boards, one carnetd with default options, pass ${BENCH_PASS:-1}):"
sed 's/^/  /' "$work/storm_out.txt"
sk() { sed -n "s/.*[ ^]\?$1=\(-\?[0-9.]*\).*/\1/p" "$work/storm_out.txt" | head -1; }
opened=$(sk opened); non200=$(sk non200); other=$(sk failed_other)
p99=$(sk event_p99_all_ms); reached=$(sk event_reached); per=$(sk rss_per_client_b)
echo "goal|SSE storm: streams|all $storm_n get their stream|$opened of $storm_n ($non200 non-200 of which $(sk status_503) × 503, $(sk status_200_silent) × 200 without a byte, $other failed otherwise)|$([ "${opened:-0}" -ge "$storm_n" ] && echo met || echo MISSED)"
if [ "${p99#-}" != "$p99" ]; then
    echo "goal|SSE storm: one event to 99 %|< 500 ms|not reached: $reached of $storm_n got it (last after ${p99#-} ms)|MISSED"
else
    echo "goal|SSE storm: one event to 99 %|< 500 ms|$p99 ms ($reached of $storm_n got it)|$([ "$(echo "$p99 < 500" | bc)" = 1 ] && echo met || echo MISSED)"
fi
echo "goal|SSE storm: RSS per idle client|<= 5 KB|$(echo "scale=1; ${per:-0} / 1024" | bc) KB ($(sk open_idle) idle streams)|$([ "$(echo "${per:-0} <= 5120" | bc)" = 1 ] && echo met || echo MISSED)"
echo "STORM_PER_CLIENT_B=$per STORM_OPENED=$opened" >> "$work/figures.txt"
