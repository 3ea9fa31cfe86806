# shellcheck shell=bash
# Sourced by run.sh: bookings, each of a slot nobody else asks for (issue #16 point 3). The same
# booking_create call through carnetd (wrk, tests/bench/booking.lua) and straight to PostgreSQL
# (pgbench), at 16 and at 64 connections, with carnetd's p99 at 64. A store of its own, open
# around the clock in UTC with four technicians on shift every day for three years, so the k-th
# request of a run books the k-th quarter hour after the run's base time: every booking succeeds
# and takes its own staff lock cells, so what is measured is the booking path, not one slot's
# queue (that is the 1,000 racers test, tests/it/test_booking.py).
# A store of each pass (run.sh runs the whole set twice on one database).
bk_pass=${BENCH_PASS:-1}
bk_store=$(psql -qAt -v ON_ERROR_STOP=1 "$url" <<SQL
insert into stores (code, name, timezone) values ('bench-booking-$bk_pass', 'Bench booking', 'UTC')
returning id;
SQL
)
bk_service=$(psql -qAt -v ON_ERROR_STOP=1 "$url" <<SQL
insert into store_hours select $bk_store, d, '00:00', '24:00' from generate_series(1, 7) d;
with s as (
    insert into staff (email, name, password_hash)
    select 'bench-booking-$bk_pass-' || i || '@carnet.test', 'Bench tech ' || i, password_hash
    from generate_series(1, 4) i, (select password_hash from staff limit 1) p
    returning id)
, r as (insert into staff_roles select id, $bk_store, 'technician' from s)
, k as (insert into staff_skills select id, $bk_store, 'repair' from s)
insert into shifts (store_id, staff_id, starts_at, ends_at)
select $bk_store, s.id, d, d + interval '1 day'
from s, generate_series(date_trunc('day', now() at time zone 'UTC') + interval '1 day',
                        date_trunc('day', now() at time zone 'UTC') + interval '1095 days',
                        interval '1 day') g(d0), lateral (select g.d0 at time zone 'UTC' as d) x;
analyze shifts;
insert into services (store_id, name, duration_min, skill) values ($bk_store, 'Quick look', 15, 'repair')
returning id;
SQL
)
bk_service=$(printf '%s\n' "$bk_service" | tail -1)
# Each run books from its own base, 200 days apart (19,200 quarter hours, more than a run books;
# past that a request would take the next technician of an earlier slot, still a 201).
bk_day0=$(( ($(date -u +%s) / 86400 + 2) * 86400 ))
bk_base() { echo $(( bk_day0 + $1 * 200 * 86400 )); }

# pgbench: client c books quarter hours base + (n * clients + c) * 15 min, n = 0, 1, 2 ...
# (pgbench's variables persist per client between transactions). The personal data stands
# sealed as carnetd sends it (a marker, a blind index, the initial); ';' is ':' (pgbench would
# read ":0000" as a variable).
bk_pgbench() {
    local conns=$1 base
    base=$(bk_base "$2")
    cat > "$work/booking.sql" <<SQL
\\set k :n * $conns + :client_id
\\set n :n + 1
select booking_create($bk_store, jsonb_build_object('service_id', $bk_service,
    'starts_at', to_jsonb(to_timestamp($base + :k * 900)),
    'name', replace('{{pd;0000000000000000;Bench Customer}}', ';', chr(58)), 'initial', 'B.',
    'email', replace('{{pd;0000000000000000;bench@example.com}}', ';', chr(58)),
    'email_bi', md5('bench') || md5('bench'), 'problem', ''),
    md5(random()::text) || md5(random()::text), null, null, 'bench', 'bench-token', null);
SQL
    pgbench -n -M prepared -D n=0 -c "$conns" -j 2 -T "$DURATION" -f "$work/booking.sql" "$url" \
        > "$work/pgb-booking.txt" 2>&1 || { echo "bench: booking pgbench failed:" >&2; cat "$work/pgb-booking.txt" >&2; }
    awk '/^tps = / {print $3; exit}' "$work/pgb-booking.txt"
}

# wrk: the same through carnetd, the clear body a page sends; prints "req/s p99_ms non2xx".
bk_wrk() {
    local conns=$1 base rps p99 bad
    base=$(bk_base "$2")
    BOOKING_BASE=$base BOOKING_SERVICE=$bk_service BOOKING_THREADS=2 \
        wrk -t2 -c"$conns" -d"${DURATION}s" --latency -s tests/bench/booking.lua \
        "http://127.0.0.1:$port/api/stores/$bk_store/appointments" > "$work/wrk-booking.txt"
    rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk-booking.txt")
    # wrk prints the percentile in us, ms or s.
    p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                             print (u == "us" ? v / 1000 : u == "s" ? v * 1000 : v) }' "$work/wrk-booking.txt")
    bad=$(awk '/Non-2xx/ {print $NF}' "$work/wrk-booking.txt")
    echo "$rps ${p99:-0} ${bad:-0}"
}

bk_goal_ratio() {
    local conns=$1 rps=$2 tps=$3 bad=$4 ratio verdict
    ratio=$(echo "$rps / $tps" | bc -l)
    verdict=MISSED
    if [ "$bad" = 0 ] && [ "$(echo "$ratio >= 0.95" | bc -l)" = 1 ]; then verdict=met; fi
    printf 'goal|booking vs pgbench at %d connections|>= 0.95x|%.2fx (%.0f vs %.0f/s%s)|%s\n' \
        "$conns" "$ratio" "$rps" "$tps" "$([ "$bad" = 0 ] || echo ", $bad non-2xx")" "$verdict"
}

tps16=$(bk_pgbench 16 0)
tps64=$(bk_pgbench 64 1)
read -r rps16 p99_16 bad16 < <(bk_wrk 16 2)
read -r rps64 p99_64 bad64 < <(bk_wrk 64 3)
printf '%-30s carnetd %6.0f req/s p99 %6.1f ms | pgbench %6.0f tx/s | at 16 connections\n' \
    "booking (distinct slots)" "$rps16" "$p99_16" "$tps16"
printf '%-30s carnetd %6.0f req/s p99 %6.1f ms | pgbench %6.0f tx/s | at 64 connections\n' \
    "booking (distinct slots)" "$rps64" "$p99_64" "$tps64"
booked=$(psql -qAt "$url" -c "select count(*) from appointments where store_id = $bk_store")
echo "bench: $booked bookings made in the booking store" >&2
bk_goal_ratio 16 "$rps16" "$tps16" "$bad16"
bk_goal_ratio 64 "$rps64" "$tps64" "$bad64"
printf 'goal|booking p99 at 64 connections|< 100 ms|%.1f ms|%s\n' "$p99_64" \
    "$([ "$(echo "$p99_64 < 100" | bc -l)" = 1 ] && [ "$bad64" = 0 ] && echo met || echo MISSED)"
