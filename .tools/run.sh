#!/usr/bin/env bash
# `make run`: a private PostgreSQL under var/ unless DATABASE_URL is set, migrations, the demo
# seed, then carnetd in the foreground on 127.0.0.1:PORT.
#
# Two roles (README, "Database roles"): the migrations and the seed run as the owner
# (CARNET_MIGRATE_URL), carnetd serves as a role that may only execute the API's functions
# (DATABASE_URL) and is not handed the owner's credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.tools/pglib.sh
. .tools/pglib.sh
pgdir=${1:-var/pg}
port=${2:-8080}
if [ -z "${DATABASE_URL:-}" ]; then
    .tools/pg.sh start "$pgdir" >/dev/null
    DATABASE_URL=$(.tools/pg.sh url "$pgdir" app)
    CARNET_MIGRATE_URL=$(.tools/pg.sh url "$pgdir" owner)
    echo "PostgreSQL: private cluster in $pgdir (carnetd serves as $DATABASE_URL, migrates as" \
        "$CARNET_MIGRATE_URL); stop it with: .tools/pg.sh stop $pgdir" >&2
fi
export DATABASE_URL
# The data key that seals customer links (README, Personal data): made once, owner-only.
if [ -z "${CARNET_DATA_KEY_FILE:-}" ]; then
    mkdir -p var
    CARNET_DATA_KEY_FILE=var/data.key
    if [ ! -e "$CARNET_DATA_KEY_FILE" ]; then
        (umask 077 && head -c 32 /dev/urandom > "$CARNET_DATA_KEY_FILE")
        echo "data key: created $CARNET_DATA_KEY_FILE (keep it, and keep it out of backups of the database)" >&2
    fi
fi
export CARNET_DATA_KEY_FILE
owner_url=${CARNET_MIGRATE_URL:-$DATABASE_URL}
CARNET_MIGRATE_URL=$owner_url build/carnetd --migrate --log-level warning
for f in schema/seed/*.sql; do psql -q -v ON_ERROR_STOP=1 "$owner_url" -f "$f"; done
unset CARNET_MIGRATE_URL
mkdir -p var
cat <<EOT

  Carnet is running on http://127.0.0.1:$port
    staff app:       http://127.0.0.1:$port/staff/
    book online:     http://127.0.0.1:$port/
EOT
pg_demo_logins
echo
exec build/carnetd --skip-migrate --listen "127.0.0.1:$port" --outbox-dir var/outbox
