# shellcheck shell=bash
# Sourced by run.sh (issue #16 point 4): an authenticated read through carnetd, now one round
# trip (the session comes from carnetd's session cache, server/authcache.c), against its one
# SQL call through pgbench: a day's appointments of the demo store (booking_day, audited with an
# asynchronous commit), as a signed-in specialist. Goal lines: the ratio, and the share of
# authenticated requests that skipped auth_session (from /metrics of the processes sampled).
auth_token=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"email":"specialist@carnet.test","password":"carnet-demo","bearer":true}' \
    "http://127.0.0.1:$port/api/auth/login" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
auth_ids=$(psql -qAt "$url" -c "select s.id || ' ' || st.id || ' ' || to_char(now() at time zone st.timezone, 'YYYY-MM-DD')
                               from staff s, stores st
                               where s.email = 'specialist@carnet.test' and st.code = 'paris-opera'")
read -r auth_staff auth_store auth_day <<<"$auth_ids"
auth_path="/api/stores/$auth_store/appointments?date=$auth_day"
printf 'select booking_day(%s, %s, %s, %s);\n' "$auth_staff" "$auth_store" "'$auth_day'" "'bench'" \
    > "$work/auth.sql"
auth_conns=${BENCH_AUTH_CONNECTIONS:-64}
curl -sf -H "Authorization: Bearer $auth_token" "http://127.0.0.1:$port$auth_path" >/dev/null \
    || echo "bench: $auth_path fails" >&2
wrk -t2 -c"$auth_conns" -d"${DURATION}s" -H "Authorization: Bearer $auth_token" \
    "http://127.0.0.1:$port$auth_path" > "$work/auth_wrk.txt"
auth_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/auth_wrk.txt")
if grep -q 'Non-2xx' "$work/auth_wrk.txt"; then echo "bench: auth read had errors:" >&2; cat "$work/auth_wrk.txt" >&2; fi
pgbench -n -M prepared -c "$auth_conns" -j 2 -T "$DURATION" -f "$work/auth.sql" "$url" > "$work/auth_pgb.txt" 2>&1
auth_tps=$(awk '/^tps = / {print $3; exit}' "$work/auth_pgb.txt")
grep -Eq 'aborted|error' "$work/auth_pgb.txt" && { echo "bench: pgbench on booking_day:" >&2; tail -5 "$work/auth_pgb.txt" >&2; }
# What each request cost before the cache: the session check, then the query.
auth_hash=$(printf '%s' "$auth_token" | /usr/bin/python3 -c 'import hashlib,sys; print(hashlib.blake2b(sys.stdin.read().encode(), digest_size=32).hexdigest())')
{ printf "select auth_session('%s', 1800);\n" "$auth_hash"; cat "$work/auth.sql"; } > "$work/auth2.sql"
pgbench -n -M prepared -c "$auth_conns" -j 2 -T "$DURATION" -f "$work/auth2.sql" "$url" > "$work/auth_pgb2.txt" 2>&1
auth_tps2=$(awk '/^tps = / {print $3; exit}' "$work/auth_pgb2.txt")
printf 'auth read: pgbench -c%d of the two calls a request made before the session cache (auth_session, then booking_day): %.0f tx/s\n' \
    "$auth_conns" "$auth_tps2"
auth_ratio=$(echo "$auth_rps / $auth_tps" | bc -l)
printf 'auth read (booking_day)        carnetd %8.0f req/s | pgbench -c%d one call %8.0f tx/s ratio %.2f\n' \
    "$auth_rps" "$auth_conns" "$auth_tps" "$auth_ratio"
printf 'goal|authenticated read vs pgbench|>= 0.85x (one round trip: the handler'"'"'s query only)|%.2fx (%.0f vs %.0f/s, %d conns)|%s\n' \
    "$auth_ratio" "$auth_rps" "$auth_tps" "$auth_conns" \
    "$(echo "$auth_ratio >= 0.85" | bc -l | sed 's/1/met/;s/0/MISSED/')"
# Each carnetd counts for itself; a few /metrics reads reach several of them (SO_REUSEPORT).
auth_share=$(for _ in 1 2 3 4 5 6 7 8; do curl -sf "http://127.0.0.1:$port/metrics"; done | awk '
    /^carnet_auth_cache_hits_total / {h=$2}
    /^carnet_auth_cache_misses_total / {m=$2}
    /^carnet_auth_cache_bypassed_total / {b=$2; t=h+m+b; if (t>0 && (min=="" || h/t<min)) {min=h/t; mh=h; mt=t}}
    END {if (min=="") print "0 0 0"; else printf "%.4f %d %d\n", min, mh, mt}')
read -r auth_hit auth_h auth_t <<<"$auth_share"
printf 'goal|one round trip per authenticated request|>= 95%% of requests skip auth_session|%.1f%% (%d of %d, lowest of the processes sampled)|%s\n' \
    "$(echo "$auth_hit * 100" | bc -l)" "$auth_h" "$auth_t" \
    "$(echo "$auth_hit >= 0.95" | bc -l | sed 's/1/met/;s/0/MISSED/')"
