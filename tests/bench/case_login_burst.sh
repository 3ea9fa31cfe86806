# shellcheck shell=bash
# Sourced by run.sh (issue #16 point 7): the p99 of a cheap authenticated GET (/api/auth/me, from
# the session cache) at a light load, alone and while 20 clients sign in back to back (argon2id
# on the CPU workers, which run at nice 10: server/worker.c). Goal line: p99 under 5 ms with the
# burst.
lb_token=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"email":"tech@carnet.test","password":"carnet-demo","bearer":true}' \
    "http://127.0.0.1:$port/api/auth/login" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
lb_conns=${BENCH_LOGIN_BURST_CONNECTIONS:-4}
lb_p99() { # wrk's 99% line, in ms
    awk '$1 == "99%" { v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.2f", v }' "$1"
}
wrk -t1 -c"$lb_conns" -d"${DURATION}s" --latency -H "Authorization: Bearer $lb_token" \
    "http://127.0.0.1:$port/api/auth/me" > "$work/lb_alone.txt"
lb_stop="$work/lb_stop"
rm -f "$lb_stop"
lb_pids=""
for i in $(seq 20); do
    # One loopback address per signer (127.0.0.11 ...): each is a client of its own to the
    # sign-in throttle, which counts an attempt in flight as failed until its password is right.
    # The signers' own curl processes run at nice 19: real ones are phones and tablets, not
    # processes on the server, so what they cost here is the bench's, not carnetd's.
    ( while [ ! -e "$lb_stop" ]; do
          nice -n 19 curl -s -o /dev/null -w '%{http_code}\n' --interface "127.0.0.$((10 + i))" \
              -H 'Content-Type: application/json' \
              -d '{"email":"manager@carnet.test","password":"carnet-demo","bearer":true}' \
              "http://127.0.0.1:$port/api/auth/login" >> "$work/lb_logins.txt"
      done ) &
    lb_pids="$lb_pids $!"
done
sleep 0.5
wrk -t1 -c"$lb_conns" -d"${DURATION}s" --latency -H "Authorization: Bearer $lb_token" \
    "http://127.0.0.1:$port/api/auth/me" > "$work/lb_burst.txt"
touch "$lb_stop"
for p in $lb_pids; do wait "$p" 2>/dev/null; done
lb_a=$(lb_p99 "$work/lb_alone.txt")
lb_b=$(lb_p99 "$work/lb_burst.txt")
lb_ok=$(grep -c '^200$' "$work/lb_logins.txt" || true)
lb_bad=$(grep -vc '^200$' "$work/lb_logins.txt" || true)
echo "login burst: /api/auth/me p99 ${lb_a} ms alone, ${lb_b} ms during 20 parallel sign-ins ($lb_ok signed in, $lb_bad refused) over ${DURATION}s"
printf 'goal|p99 during 20 parallel logins|< 5 ms|%s ms (%s ms without; %d logins)|%s\n' \
    "$lb_b" "$lb_a" "$lb_ok" "$(echo "$lb_b < 5" | bc -l | sed 's/1/met/;s/0/MISSED/')"
