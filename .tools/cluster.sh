#!/usr/bin/env bash
# `make cluster`: a local chain on several "machines": one etcd, two PostgreSQL 15 nodes (pg1,
# pg2) under Patroni with synchronous replication, HAProxy (a port following the leader, one for
# the replica, the public HTTP port) and two carnetd behind it.
#
# Usage:
#   cluster.sh start  [DIR]   a new cluster in DIR (default var/cluster), in the background;
#                             writes DIR/cluster.json and prints the demo logins
#   cluster.sh stop   [DIR]   stop everything start started; no process is left
#   cluster.sh status [DIR]   the processes and Patroni's view of the nodes
#   cluster.sh restart carnetdN [DIR]  drain carnetd N and start it again (a rolling restart's step)
#
# Every start makes a new cluster (the data of the previous one is wiped) on free ports chosen
# then.  Templates live in .cluster/ (README, "Running a cluster").  Like .tools/pg.sh, as root
# PostgreSQL and Patroni run as the "postgres" system user (or "carnet-pg", created on demand),
# and when that user cannot reach DIR (say a checkout under /root) or DIR is too long for a Unix
# socket path, the nodes live in a /tmp/carnet-cluster.XXXXXX directory recorded in DIR/redirect.
#
# Environment: CARNETD (default build/carnetd), CARNET_PG_FSYNC=off (default on),
# CARNET_CLUSTER_READY_PATH (HAProxy's check of carnetd, default /readyz).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# shellcheck source=.tools/pglib.sh
. .tools/pglib.sh
CARNETD=$(realpath -m -- "${CARNETD:-build/carnetd}")
READY_PATH=${CARNET_CLUSTER_READY_PATH:-/readyz}
START_TIMEOUT_S=60
# carnetd's drain (--drain-delay-ms, 2 s) and --shutdown-timeout (10 s) with a margin.
STOP_TIMEOUT_S=20
SOCKET_PATH_MAX=100
NODES="pg1 pg2"
CARNETDS="carnetd1 carnetd2"

unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS PGDATA

say() { echo "cluster.sh: $*" >&2; }
die() { say "$@"; exit 1; }

usage() {
    sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

pg_pick_run_user

# As the cluster user, from "/"; setpriv replaces itself with the command, so $! of a command
# started in the background with it is the command's own pid.
as_user() {
    if [ -n "$run_user" ]; then
        (cd / && HOME=/ setpriv --reuid="$run_user" --regid="$run_user" --init-groups -- "$@")
    else
        "$@"
    fi
}

# --- state -------------------------------------------------------------------------------

STATE=""     # the directory the caller named: pids, ports, cluster.json, carnetd, haproxy, etcd
NODE_HOME="" # where the PostgreSQL nodes live (STATE, or the redirect target)

set_dirs() {
    STATE=$(realpath -m -- "$1")
    [ "$STATE" != "/" ] || die "refusing to use / as the cluster directory"
    NODE_HOME=$STATE
    if [ -f "$STATE/redirect" ]; then
        NODE_HOME=$(cat "$STATE/redirect")
    fi
}

usable_by_user() {
    local dir=$1 socket_suffix=/pg1/run/.s.PGSQL.65535
    [ $((${#dir} + ${#socket_suffix})) -le "$SOCKET_PATH_MAX" ] || return 1
    [ -z "$run_user" ] && return 0
    as_user test -x "$(dirname -- "$dir")"
}

alive() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$state" != Z ]
}

# pid_of NAME: the pid start recorded for NAME (empty if none).
pid_of() {
    [ -f "$STATE/pids" ] || return 0
    awk -v n="$1" '$1 == n { print $2 }' "$STATE/pids"
}

record_pid() { echo "$1 $2" >>"$STATE/pids"; }

# port_of NAME: a port start chose.
port_of() { awk -v n="$1" '$1 == n { print $2 }' "$STATE/ports"; }

# The postmaster of node NAME, from its postmaster.pid (empty when it is not running).
postmaster_pid() {
    local pidfile=$NODE_HOME/$1/data/postmaster.pid pid
    pid=$(head -n 1 "$pidfile" 2>/dev/null) || return 0
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    if alive "$pid"; then echo "$pid"; fi
}

any_alive() {
    local name pid
    [ -f "$STATE/pids" ] || return 1
    while read -r name pid; do
        if alive "$pid"; then return 0; fi
    done <"$STATE/pids"
    return 1
}

# render TEMPLATE OUT KEY=VALUE...: the template with every @KEY@ replaced.
render() {
    local template=$1 out=$2
    shift 2
    python3 - "$template" "$out" "$@" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for pair in sys.argv[3:]:
    key, value = pair.split("=", 1)
    text = text.replace("@" + key + "@", value)
left = sorted(set(re.findall(r"@[A-Z0-9_]+@", re.sub(r"(?m)^\s*#.*$", "", text))))
if left:
    sys.exit("unfilled fields in %s: %s" % (sys.argv[1], " ".join(left)))
open(sys.argv[2], "w").write(text)
PY
}

# wait_until SECONDS WHAT COMMAND...: run COMMAND every 0.2 s until it succeeds (WHAT: for the reader).
wait_until() {
    local deadline=$((SECONDS + $1))
    shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }

# --- start -------------------------------------------------------------------------------

start_bg() { # start_bg NAME LOG COMMAND...: COMMAND in its own session, in the background
    local name=$1 log=$2
    shift 2
    setsid "$@" >"$log" 2>&1 </dev/null &
    record_pid "$name" "$!"
}

start_bg_user() {
    local name=$1 log=$2
    shift 2
    if [ -n "$run_user" ]; then
        (cd / && HOME=/ exec setsid setpriv --reuid="$run_user" --regid="$run_user" \
            --init-groups -- "$@" >"$log" 2>&1 </dev/null) &
    else
        setsid "$@" >"$log" 2>&1 </dev/null &
    fi
    record_pid "$name" "$!"
}

fail_start() {
    say "$1; logs in $STATE (and $NODE_HOME/pg*/log); stopping what started"
    cmd_stop || true
    exit 1
}

# start_carnetd NAME: one carnetd on its port, serving through HAProxy's primary port.
start_carnetd() {
    local name=$1
    mkdir -p "$STATE/$name/outbox"
    # --reconnect-max-ms 1000: after a failover the new primary is reachable through HAProxy
    # within seconds; a longer back-off would only delay the first write that succeeds.
    # --metrics-listen: /metrics (load, lag, fd headroom) on the loopback only, not through the
    # public port.
    start_bg "$name" "$STATE/$name/carnetd.log" "$CARNETD" --skip-migrate \
        --listen "127.0.0.1:$(port_of "$name")" --database-url "$(cat "$STATE/database_url")" \
        --data-key-file "$STATE/data.key" --outbox-dir "$STATE/$name/outbox" \
        --web-root "$ROOT/web" --schema-dir "$ROOT/schema" \
        --public-url "http://127.0.0.1:$(port_of public)" --reconnect-max-ms 1000 \
        --metrics-listen "127.0.0.1:$(port_of "${name}_metrics")" --log-level warning
}

# A rolling restart's step: NAME drains (SIGTERM: readiness fails, HAProxy takes it out, then
# in-flight requests finish), then starts again on its port; returns once it is ready.
cmd_restart() {
    local name=$1
    case " $CARNETDS " in *" $name "*) ;; *) die "restart: one of $CARNETDS" ;; esac
    [ -n "$(pid_of "$name")" ] || die "no $name in $STATE"
    stop_pid "$name" TERM "$STOP_TIMEOUT_S"
    # The log of the new process goes after the old one's.
    mv "$STATE/$name/carnetd.log" "$STATE/$name/carnetd.log.$(date +%s)"
    awk -v n="$name" '$1 != n' "$STATE/pids" >"$STATE/pids.tmp" && mv "$STATE/pids.tmp" "$STATE/pids"
    start_carnetd "$name"
    wait_until "$START_TIMEOUT_S" "$name" \
        http_ok "http://127.0.0.1:$(port_of "$name")$READY_PATH" || die "$name is not ready"
    write_json "$(cat "$STATE/database_url")"
    say "$name restarted (pid $(pid_of "$name"))"
}

cmd_start() {
    [ -x "$CARNETD" ] || die "no $CARNETD; build it first (make build/carnetd)"
    if any_alive; then
        die "a cluster is running in $STATE; stop it first: .tools/cluster.sh stop $STATE"
    fi
    # A new cluster every time: the previous one's data goes.
    if [ "$NODE_HOME" != "$STATE" ] && [ -d "$NODE_HOME" ]; then
        rm -rf -- "$NODE_HOME"
    fi
    if [ -e "$STATE" ]; then
        [ -z "$(ls -A -- "$STATE")" ] || [ -e "$STATE/ports" ] || [ -e "$STATE/redirect" ] ||
            die "$STATE is not empty and does not look like a cluster of ours; not wiping it"
        rm -rf -- "$STATE"
    fi
    mkdir -p -- "$STATE"
    NODE_HOME=$STATE
    if ! usable_by_user "$STATE"; then
        NODE_HOME=$(mktemp -d /tmp/carnet-cluster.XXXXXX)
        printf '%s\n' "$NODE_HOME" >"$STATE/redirect"
        if [ -n "$run_user" ]; then chown "$run_user:" "$NODE_HOME"; fi
        say "${run_user:-the current user} cannot use $STATE (unreachable or path too long);" \
            "the PostgreSQL nodes live in $NODE_HOME"
    fi
    : >"$STATE/pids"

    # Every port at once, each socket held until all are chosen, so no two are the same.
    python3 - >"$STATE/ports" <<'PY'
import socket
names = ["etcd", "etcd_peer", "pg1", "pg1_rest", "pg2", "pg2_rest", "primary", "replica",
         "public", "carnetd1", "carnetd2", "carnetd1_metrics", "carnetd2_metrics"]
socks = []
for name in names:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
    print(name, s.getsockname()[1])
PY

    # etcd
    mkdir -p "$STATE/etcd"
    render .cluster/etcd.yml.in "$STATE/etcd/etcd.yml" ETCD_DIR="$STATE/etcd" \
        ETCD_PORT="$(port_of etcd)" ETCD_PEER_PORT="$(port_of etcd_peer)"
    start_bg etcd "$STATE/etcd/etcd.log" etcd --config-file "$STATE/etcd/etcd.yml"
    wait_until "$START_TIMEOUT_S" etcd http_ok "http://127.0.0.1:$(port_of etcd)/health" ||
        fail_start "etcd did not start"

    # Patroni: pg1 first, so it bootstraps and leads; pg2 then clones it and becomes its
    # synchronous standby.
    local node
    for node in $NODES; do
        mkdir -p "$NODE_HOME/$node/log" "$NODE_HOME/$node/run"
        render .cluster/patroni.yml.in "$NODE_HOME/$node/patroni.yml" NAME="$node" \
            NODE_DIR="$NODE_HOME/$node" REST_PORT="$(port_of "${node}_rest")" \
            PG_PORT="$(port_of "$node")" ETCD_PORT="$(port_of etcd)" \
            FSYNC="${CARNET_PG_FSYNC:-on}"
        if [ -n "$run_user" ]; then chown -R "$run_user:" "$NODE_HOME/$node"; fi
        chmod 700 "$NODE_HOME/$node"
        start_bg_user "patroni_$node" "$STATE/patroni_$node.log" \
            patroni "$NODE_HOME/$node/patroni.yml"
        if [ "$node" = pg1 ]; then
            wait_until "$START_TIMEOUT_S" "pg1 leads" \
                http_ok "http://127.0.0.1:$(port_of pg1_rest)/primary" ||
                fail_start "pg1 did not become the leader"
        fi
    done
    wait_until "$START_TIMEOUT_S" "pg2 is the synchronous standby" \
        http_ok "http://127.0.0.1:$(port_of pg2_rest)/sync" ||
        fail_start "pg2 did not become the synchronous standby"

    # HAProxy
    mkdir -p "$STATE/haproxy"
    local servers="" name
    for name in $CARNETDS; do
        servers="$servers    server $name 127.0.0.1:$(port_of "$name") check"$'\n'
    done
    render .cluster/haproxy.cfg.in "$STATE/haproxy/haproxy.cfg" \
        PRIMARY_PORT="$(port_of primary)" REPLICA_PORT="$(port_of replica)" \
        PUBLIC_PORT="$(port_of public)" PG1_PORT="$(port_of pg1)" PG1_REST="$(port_of pg1_rest)" \
        PG2_PORT="$(port_of pg2)" PG2_REST="$(port_of pg2_rest)" CLUSTER_DIR="$ROOT/.cluster" \
        READY_PATH="$READY_PATH" CARNETD_SERVERS="$servers"
    haproxy -c -q -f "$STATE/haproxy/haproxy.cfg" || fail_start "haproxy.cfg does not check"
    start_bg haproxy "$STATE/haproxy/haproxy.log" haproxy -db -f "$STATE/haproxy/haproxy.cfg"
    wait_until "$START_TIMEOUT_S" "the primary port" psql_admin "$(port_of primary)" "SELECT 1" ||
        fail_start "PostgreSQL does not answer on HAProxy's primary port"

    # Database, roles, migrations and the demo seed, as `make run` does, through the primary port.
    local primary owner_url app_url
    primary=$(port_of primary)
    owner_url="postgresql://carnet_owner@127.0.0.1:$primary/carnet"
    # read-write: a connection that lands on a node that is no longer the primary is refused by
    # libpq and retried, never used for a write.
    app_url="postgresql://carnet_app@127.0.0.1:$primary/carnet?target_session_attrs=read-write&connect_timeout=3"
    # Roles and database as .tools/pg.sh makes them (README, "Database roles").
    ensure_roles "$primary"
    ensure_database "$primary"
    (umask 077 && head -c 32 /dev/urandom >"$STATE/data.key")
    CARNET_DATA_KEY_FILE="$STATE/data.key" CARNET_MIGRATE_URL=$owner_url DATABASE_URL=$app_url \
        "$CARNETD" --migrate --log-level warning || fail_start "migrations failed"
    local f
    for f in schema/seed/*.sql; do
        psql -X -q -v ON_ERROR_STOP=1 "$owner_url" -f "$f" >/dev/null ||
            fail_start "seed $f failed"
    done

    # carnetd
    local public_url
    public_url="http://127.0.0.1:$(port_of public)"
    printf '%s\n' "$app_url" >"$STATE/database_url"
    for name in $CARNETDS; do start_carnetd "$name"; done
    for name in $CARNETDS; do
        wait_until "$START_TIMEOUT_S" "$name" \
            http_ok "http://127.0.0.1:$(port_of "$name")$READY_PATH" ||
            fail_start "$name is not ready"
    done
    wait_until "$START_TIMEOUT_S" "the public port" http_ok "$public_url$READY_PATH" ||
        fail_start "HAProxy's public port does not reach carnetd"

    write_json "$app_url"
    cat <<EOT

  Carnet cluster is running on $public_url (two carnetd behind HAProxy)
    staff app:       $public_url/staff/
    book online:     $public_url/
    state:           $STATE/cluster.json
    nodes:           patronictl -c $NODE_HOME/pg1/patroni.yml list
    stop it:         make cluster-stop (or .tools/cluster.sh stop $STATE)
EOT
    pg_demo_logins
    echo
}

write_json() {
    local app_url=$1 node name args=()
    for name in $CARNETDS; do
        args+=("carnetd" "$(pid_of "$name")" "http://127.0.0.1:$(port_of "$name")"
            "http://127.0.0.1:$(port_of "${name}_metrics")/metrics")
    done
    for node in $NODES; do
        args+=("postgres" "$node" "$(postmaster_pid "$node")" "$(port_of "$node")"
            "http://127.0.0.1:$(port_of "${node}_rest")")
    done
    python3 - "$STATE/cluster.json" "$(port_of public)" "$(pid_of haproxy)" \
        "$(port_of primary)" "$(port_of replica)" "$app_url" "${args[@]}" <<'PY'
import json, sys
out, public, hpid, primary, replica, dburl, *rest = sys.argv[1:]
doc = {"carnet_url": "http://127.0.0.1:" + public, "carnetd": [], "postgres": [],
       "haproxy": {"pid": int(hpid), "primary_port": int(primary), "replica_port": int(replica)},
       "database_url": dburl}
i = 0
while i < len(rest):
    if rest[i] == "carnetd":
        doc["carnetd"].append({"pid": int(rest[i + 1]), "url": rest[i + 2],
                               "metrics_url": rest[i + 3]})
        i += 4
    else:
        doc["postgres"].append({"name": rest[i + 1], "pid": int(rest[i + 2] or 0),
                                "port": int(rest[i + 3]), "patroni_url": rest[i + 4]})
        i += 5
with open(out + ".tmp", "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
import os
os.replace(out + ".tmp", out)
PY
}

# --- stop --------------------------------------------------------------------------------

# stop_pid NAME SIGNAL SECONDS: signal NAME's process, wait for it, SIGKILL it after SECONDS.
stop_pid() {
    local name=$1 sig=$2 limit=$(($3 * 10)) pid n=0
    pid=$(pid_of "$name")
    [ -n "$pid" ] && alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    while alive "$pid"; do
        n=$((n + 1))
        if [ "$n" -ge "$limit" ]; then
            say "$name ($pid) did not stop in $3 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
            break
        fi
        sleep 0.1
    done
}

cmd_stop() {
    [ -f "$STATE/pids" ] || return 0
    local name node pid
    # Both drain at once; only these jobs are waited for (start's own children are not ours to
    # wait for when start calls stop after a failure).
    local waits=()
    for name in $CARNETDS; do
        stop_pid "$name" TERM "$STOP_TIMEOUT_S" &
        waits+=("$!")
    done
    wait "${waits[@]}"
    stop_pid haproxy TERM 10
    # The replica first, so stopping the leader does not hand it over.
    for node in pg2 pg1; do
        # Patroni waits for PostgreSQL's shutdown; a leader waits for its replica to catch up.
        stop_pid "patroni_$node" TERM 30
    done
    for node in $NODES; do
        pid=$(postmaster_pid "$node")
        if [ -n "$pid" ]; then
            say "$node's postmaster ($pid) outlived Patroni; stopping it"
            as_user "$PG_BIN/pg_ctl" stop -s -m immediate -w -D "$NODE_HOME/$node/data" >&2 ||
                kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    stop_pid etcd TERM 10
    if any_alive; then
        die "processes still alive after stop: $(cat "$STATE/pids")"
    fi
    say "stopped the cluster in $STATE"
}

# After a stop: the /tmp node home (when the nodes could not live in STATE) goes too, so runs do
# not pile them up. CARNET_CLUSTER_KEEP=1 keeps it (tests/cluster/run.py, for a failed run's logs).
remove_node_home() {
    case "$NODE_HOME" in /tmp/carnet-cluster.*) ;; *) return 0 ;; esac
    if [ -d "$NODE_HOME" ] && [ -z "${CARNET_CLUSTER_KEEP:-}" ]; then
        rm -rf -- "$NODE_HOME"
        rm -f -- "$STATE/redirect"
        say "removed $NODE_HOME"
    fi
}

cmd_status() {
    [ -f "$STATE/pids" ] || die "no cluster in $STATE"
    local name pid rc=0
    while read -r name pid; do
        if alive "$pid"; then
            printf '%-16s %-8s running\n' "$name" "$pid"
        else
            printf '%-16s %-8s stopped\n' "$name" "$pid"
            rc=1
        fi
    done <"$STATE/pids"
    if alive "$(pid_of etcd)"; then
        patronictl -c "$NODE_HOME/pg1/patroni.yml" list 2>/dev/null || rc=1
    fi
    return "$rc"
}

if [ $# -lt 1 ]; then usage; fi
if [ "$1" = restart ]; then
    if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
    set_dirs "${3:-var/cluster}"
    cmd_restart "$2"
    exit 0
fi
[ $# -le 2 ] || usage
set_dirs "${2:-var/cluster}"
case "$1" in
    start) cmd_start ;;
    stop) cmd_stop && remove_node_home ;;
    status) cmd_status ;;
    *) usage ;;
esac
