#!/usr/bin/env bash
# Manage a private PostgreSQL 15 cluster for development and tests.
#
# Usage:
#   pg.sh start   DIR [PORT]  init if needed, start, ensure the roles and database "carnet";
#                             prints only the administrator's URL on stdout
#   pg.sh stop    DIR         fast shutdown (fine if not running)
#   pg.sh restart DIR         fast shutdown, then start on the same port
#   pg.sh url     DIR [ROLE]  print the URL of database "carnet" for ROLE: admin (default),
#                             owner (CARNET_MIGRATE_URL) or app (DATABASE_URL)
#   pg.sh destroy DIR         stop and delete DIR
#
# Layout of DIR: data/ (the cluster), run/ (Unix socket), log/postgres.log,
# port (the TCP port, reused on every start).  Clients connect over TCP to
# 127.0.0.1 with trust authentication, as one of three roles: "carnet", the
# superuser (tests' set-up, seeds of the test data); "carnet_owner", which owns
# the database and everything in it and runs the migrations; "carnet_app", which
# carnetd serves as: it owns nothing and may only execute the API's functions
# (README, "Database roles").
#
# PostgreSQL refuses to run as root, so under root every server-side command
# runs as the "postgres" system user (or "carnet-pg", created on demand).  When
# that user cannot reach DIR (say, a checkout under /root, mode 700) or DIR is
# too long for a Unix socket path, the cluster lives in a /tmp/carnet-pg.XXXXXX
# directory instead and DIR/redirect records where.
#
# Environment: CARNET_PG_FSYNC=off trades durability for speed (default on).
set -euo pipefail

# shellcheck source=.tools/pglib.sh
. "$(dirname "$0")/pglib.sh"
START_TIMEOUT_S=60
REAP_TIMEOUT_DS=300  # tenths of a second
# sun_path holds 108 bytes; keep a margin for ".s.PGSQL.<port>".
SOCKET_PATH_MAX=100

# Settings from the caller's environment must not redirect our own clients.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGPASSWORD PGSERVICE PGOPTIONS PGDATA

say() { echo "pg.sh: $*" >&2; }
die() { say "$@"; exit 1; }

usage() {
    sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

pg_pick_run_user

# Run a command as the cluster user, from "/" so that an unreadable working
# directory (e.g. /root) does not produce warnings.
as_user() {
    if [ -n "$run_user" ]; then
        (cd / && runuser -u "$run_user" -- "$@")
    else
        "$@"
    fi
}

# --- paths ------------------------------------------------------------------

DIR=""   # the directory the caller named; holds port and maybe redirect
HOME_DIR=""  # where data/, run/ and log/ live (DIR, or the redirect target)

set_dirs() {
    DIR=$(realpath -m -- "$1")
    [ "$DIR" != "/" ] || die "refusing to use / as the cluster directory"
    HOME_DIR=$DIR
    if [ -f "$DIR/redirect" ]; then
        HOME_DIR=$(cat "$DIR/redirect")
    fi
}

# True when the cluster user can create and reach files in $1.
usable_by_user() {
    local dir=$1 socket_suffix=/run/.s.PGSQL.65535
    [ $((${#dir} + ${#socket_suffix})) -le "$SOCKET_PATH_MAX" ] || return 1
    [ -z "$run_user" ] && return 0
    as_user test -x "$(dirname -- "$dir")"
}

# Decide where the cluster lives, creating directories as needed.  Called by
# start only; the other commands use whatever set_dirs found.
prepare_dirs() {
    mkdir -p -- "$DIR"
    if [ "$HOME_DIR" != "$DIR" ] && [ ! -d "$HOME_DIR" ]; then
        say "redirect target $HOME_DIR is gone; creating a new cluster"
        rm -f -- "$DIR/redirect"
        HOME_DIR=$DIR
    fi
    if [ "$HOME_DIR" = "$DIR" ] && ! usable_by_user "$DIR"; then
        HOME_DIR=$(mktemp -d /tmp/carnet-pg.XXXXXX)
        printf '%s\n' "$HOME_DIR" >"$DIR/redirect"
        say "${run_user:-the current user} cannot use $DIR (unreachable or path too long);" \
            "the cluster lives in $HOME_DIR (recorded in $DIR/redirect)"
    fi
    mkdir -p -- "$HOME_DIR/run" "$HOME_DIR/log"
    if [ -n "$run_user" ]; then
        chown -R "$run_user:" "$HOME_DIR"
    fi
}

# --- cluster ----------------------------------------------------------------

# A postmaster killed with SIGKILL stays a zombie until its parent (init)
# reaps it; pg_ctl and the next postmaster both take a zombie for a live
# server.  Some container inits reap lazily, so wait for it to go.
wait_for_reaping() {
    local pid state waited=0
    pid=$(head -n 1 "$HOME_DIR/data/postmaster.pid" 2>/dev/null) || return 0
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    while state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) && [ "$state" = Z ]; do
        [ "$waited" -lt "$REAP_TIMEOUT_DS" ] || die "postmaster $pid is a zombie nobody reaps"
        sleep 0.1
        waited=$((waited + 1))
    done
}

running() {
    [ -f "$HOME_DIR/data/PG_VERSION" ] || return 1
    wait_for_reaping
    as_user "$PG_BIN/pg_ctl" status -D "$HOME_DIR/data" >/dev/null 2>&1
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# url_for PORT [admin|owner|app]
url_for() {
    local role
    case "${2:-admin}" in
        admin) role=$PG_ROLE ;;
        owner) role=$OWNER_ROLE ;;
        app) role=$APP_ROLE ;;
        *) die "unknown role '$2' (admin, owner or app)" ;;
    esac
    echo "postgresql://$role@$PG_HOST:$1/$PG_DB"
}

init_cluster() {
    local data=$HOME_DIR/data ilog=$HOME_DIR/log/initdb.log locale
    for locale in C.UTF-8 C; do
        rm -rf -- "$data"
        if as_user "$PG_BIN/initdb" -D "$data" -U "$PG_ROLE" --auth=trust -E UTF8 \
            --locale="$locale" >"$ilog" 2>&1; then
            say "initialised cluster in $data (locale $locale)"
            # Our settings live in their own file, rewritten on every start.
            echo "include_if_exists = 'carnet.conf'" >>"$data/postgresql.conf"
            return 0
        fi
        say "initdb with locale $locale failed"
    done
    cat "$ilog" >&2
    die "initdb failed; see $ilog"
}

write_config() {
    local port=$1 conf=$HOME_DIR/data/carnet.conf
    cat >"$conf" <<CONF
# Written by .tools/pg.sh on every start; edits here are lost.
listen_addresses = '$PG_HOST'
port = $port
unix_socket_directories = '$HOME_DIR/run'
fsync = ${CARNET_PG_FSYNC:-on}
max_connections = 200
shared_buffers = 128MB
logging_collector = off
log_destination = 'stderr'
CONF
    if [ -n "$run_user" ]; then
        chown "$run_user:" "$conf"
    fi
}

cmd_start() {
    local port=${1:-} log
    prepare_dirs
    log=$HOME_DIR/log/postgres.log

    if running; then
        # The port the server really listens on is line 4 of postmaster.pid.
        port=$(sed -n 4p "$HOME_DIR/data/postmaster.pid")
        [ -z "${1:-}" ] || [ "$1" = "$port" ] ||
            say "already running on port $port; ignoring requested port $1"
    else
        if [ -z "$port" ] && [ -s "$DIR/port" ]; then
            port=$(cat "$DIR/port")
        fi
        if [ -z "$port" ]; then
            port=$(free_port)
        fi
        case "$port" in
            '' | *[!0-9]*) die "invalid port '$port'" ;;
        esac
        [ -f "$HOME_DIR/data/PG_VERSION" ] || init_cluster
        write_config "$port"
        if ! as_user "$PG_BIN/pg_ctl" start -s -w -t "$START_TIMEOUT_S" \
            -D "$HOME_DIR/data" -l "$log" >&2; then
            tail -n 20 "$log" >&2 || true
            die "PostgreSQL failed to start; see $log"
        fi
        say "PostgreSQL running on $PG_HOST:$port (data in $HOME_DIR/data)"
    fi
    printf '%s\n' "$port" >"$DIR/port"
    ensure_roles "$port"
    ensure_database "$port"
    url_for "$port"
}

cmd_stop() {
    if running; then
        # CARNET_PG_STOP_MODE=immediate: a crash, as a test of what survives one wants it.
        as_user "$PG_BIN/pg_ctl" stop -s -m "${CARNET_PG_STOP_MODE:-fast}" -w \
            -t "$START_TIMEOUT_S" -D "$HOME_DIR/data" >&2
        say "stopped PostgreSQL in $HOME_DIR/data"
    fi
}

cmd_url() {
    [ -s "$DIR/port" ] || die "no cluster in $DIR (no port file); run: pg.sh start $DIR"
    url_for "$(cat "$DIR/port")" "$@"
}

cmd_destroy() {
    [ -e "$DIR" ] || return 0
    # Guard against deleting a directory that was never a cluster of ours.
    if [ -n "$(ls -A -- "$DIR")" ] && [ ! -e "$DIR/port" ] && [ ! -e "$DIR/data" ] &&
        [ ! -e "$DIR/redirect" ]; then
        die "$DIR does not look like a pg.sh cluster; not deleting it"
    fi
    cmd_stop
    if [ "$HOME_DIR" != "$DIR" ]; then
        rm -rf -- "$HOME_DIR"
    fi
    rm -rf -- "$DIR"
    say "destroyed $DIR"
}

[ $# -ge 2 ] || usage
command=$1
set_dirs "$2"
shift 2

case "$command" in
    start)
        [ $# -le 1 ] || usage
        cmd_start "$@"
        ;;
    stop) cmd_stop ;;
    restart)
        cmd_stop
        cmd_start
        ;;
    url)
        [ $# -le 1 ] || usage
        cmd_url "$@"
        ;;
    destroy) cmd_destroy ;;
    *) usage ;;
esac
