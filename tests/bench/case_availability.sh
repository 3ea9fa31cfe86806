# shellcheck shell=bash
# Sourced by run.sh: the customer's month view, four weeks of free slots for one service, with
# its pgbench twin (the same function call carnetd makes).
store=$(psql -qAt "$url" -c "select id from stores where code = 'paris-opera'")
service=$(psql -qAt "$url" -c "select min(id) from services where store_id = $store")
from=$(date -u +%F)
to=$(date -u -d '+27 days' +%F)
run_case "availability (28 days)" \
    "/api/stores/$store/availability?service=$service&from=$from&to=$to" \
    "select booking_availability('$store', '$service', '$from', '$to');"
