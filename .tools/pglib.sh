# shellcheck shell=bash
# Shared by .tools/pg.sh, .tools/cluster.sh and .tools/run.sh (sourced, defines only): the
# database roles, the cluster user, and the demo logins, written once so that `make run` and
# `make cluster` make the same database.
#
# pg_pick_run_user sets run_user; psql_admin needs the caller's `as_user` (how to run a command as
# run_user) and `say`.

PG_BIN=/usr/lib/postgresql/15/bin
PG_ROLE=carnet
OWNER_ROLE=carnet_owner
APP_ROLE=carnet_app
PG_DB=carnet
PG_HOST=127.0.0.1
FALLBACK_USER=carnet-pg

# The user that owns and runs the cluster: empty when we are not root.  PostgreSQL refuses to
# run as root, so under root it is "postgres" (or "carnet-pg", created on demand).
# shellcheck disable=SC2034 # run_user is read by the scripts that source this file
pg_pick_run_user() {
    run_user=""
    if [ "$(id -u)" -eq 0 ]; then
        if getent passwd postgres >/dev/null; then
            run_user=postgres
        else
            if ! getent passwd "$FALLBACK_USER" >/dev/null; then
                say "creating system user $FALLBACK_USER"
                useradd --system --no-create-home --shell /usr/sbin/nologin "$FALLBACK_USER"
            fi
            run_user=$FALLBACK_USER
        fi
    fi
}

# psql_admin PORT SQL [DATABASE]
psql_admin() {
    as_user "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$1" \
        -U "$PG_ROLE" -d "${3:-template1}" -tA -c "$2"
}

# Roles are cluster-wide: every database of the cluster (the tests make one per module) has
# the same two.  Neither is a superuser; the serving role is not a member of the owner.
ensure_roles() {
    local port=$1 role
    for role in "$OWNER_ROLE" "$APP_ROLE"; do
        if [ "$(psql_admin "$port" "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != 1 ]; then
            psql_admin "$port" "CREATE ROLE $role LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE" >&2
            say "created role $role"
        fi
    done
}

# A database made before the roles existed has its tables and functions owned by the superuser
# that ran the migrations; the owner role takes them over (REASSIGN OWNED cannot move what the
# bootstrap superuser owns).  Extension members stay with the extension.
ADOPT_SQL="
DO \$\$
DECLARE
    o record;
BEGIN
    FOR o IN SELECT c.oid::regclass AS obj FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
               AND c.relowner <> '$OWNER_ROLE'::regrole
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                               AND d.objid = c.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO $OWNER_ROLE', o.obj);
    END LOOP;
    -- Sequences of identity columns moved with their table; these are the free-standing ones.
    FOR o IN SELECT c.oid::regclass AS obj FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'
               AND c.relowner <> '$OWNER_ROLE'::regrole
    LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO $OWNER_ROLE', o.obj);
    END LOOP;
    FOR o IN SELECT p.oid::regprocedure AS obj FROM pg_proc p
             WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> '$OWNER_ROLE'::regrole
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                               AND d.objid = p.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO $OWNER_ROLE', o.obj);
    END LOOP;
    FOR o IN SELECT t.oid::regtype AS obj FROM pg_type t
             WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'r')
               AND t.typowner <> '$OWNER_ROLE'::regrole
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                               AND d.objid = t.oid AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO $OWNER_ROLE', o.obj);
    END LOOP;
END
\$\$"

ensure_database() {
    local port=$1
    if [ "$(psql_admin "$port" "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
        psql_admin "$port" "CREATE DATABASE $PG_DB OWNER $OWNER_ROLE" >&2
        say "created database $PG_DB"
    elif [ "$(psql_admin "$port" "SELECT pg_get_userbyid(datdba) FROM pg_database
                                  WHERE datname = '$PG_DB'")" != "$OWNER_ROLE" ]; then
        psql_admin "$port" "ALTER DATABASE $PG_DB OWNER TO $OWNER_ROLE" >&2
        say "database $PG_DB now belongs to $OWNER_ROLE"
    fi
    # Cheap when there is nothing to move, and it finishes a take-over that was interrupted.
    psql_admin "$port" "$ADOPT_SQL" "$PG_DB" >&2
}

pg_demo_logins() {
    cat <<EOT
  Demo logins (password: carnet-demo)
    admin@carnet.test       admin of every store
    manager@carnet.test     manager + specialist, Paris Opéra
    specialist@carnet.test  specialist, Paris Opéra
    tech@carnet.test        technician, Paris Opéra
    lyon@carnet.test        manager, Lyon Part-Dieu
EOT
}
