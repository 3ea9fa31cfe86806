# shellcheck shell=bash
# Sourced by run.sh: the health-record read (first page of 50) of a device with 500 entries
# among >= 1 million, as a signed-in technician. The pgbench twin runs the one statement carnetd
# runs per request, the record query: the session comes from carnetd's session cache
# (server/authcache.c; case_auth.sh shows the share of requests that skip auth_session).
token=$(curl -sf -H 'Content-Type: application/json' \
    -d '{"email":"tech@carnet.test","password":"carnet-demo","bearer":true}' \
    "http://127.0.0.1:$port/api/auth/login" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
echo "bench: ${V[ENTRIES]} health-record entries in the database" >&2
WRK_HEADER="Authorization: Bearer $token" run_case "health record (500 of ${V[ENTRIES]})" \
    "/api/devices/{SERIAL}?limit=50" \
    "select device_record({TECH}, '{SERIAL}', null, 50, 'bench');"
