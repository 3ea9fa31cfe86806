/*
 * migrate: see migrate.h. Only file names of the form NNN_name.sql count; anything else in the
 * folder (seed data, notes) is ignored.
 */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MIGRATE_LOCK_KEY "7262737"

static int is_migration(const char *name)
{
    size_t len = strlen(name);
    return len > 8 && isdigit((unsigned char)name[0]) && isdigit((unsigned char)name[1]) &&
           isdigit((unsigned char)name[2]) && name[3] == '_' &&
           strcmp(name + len - 4, ".sql") == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long len;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
        goto out;
    buf = malloc((size_t)len + 1);
    if (!buf)
        goto out;
    if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[len] = '\0';
out:
    fclose(f);
    return buf;
}

static int exec_ok(PGconn *pg, const char *sql, const char *what)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        log_error("migrate: %s: %s", what, PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : -1;
}

static int is_applied(PGconn *pg, const char *version)
{
    const char *params[1] = {version};
    PGresult *res = PQexecParams(pg, "select 1 from schema_migrations where version = $1", 1,
                                 NULL, params, NULL, NULL, 0);
    int applied = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        applied = PQntuples(res) > 0;
    else
        log_error("migrate: %s", PQresultErrorMessage(res));
    PQclear(res);
    return applied;
}

static int apply_one(PGconn *pg, const char *dir, const char *name)
{
    char path[4096];
    const char *params[1] = {name};
    char *sql = NULL;
    PGresult *res;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    sql = read_file(path);
    if (!sql) {
        log_error("migrate: cannot read %s", path);
        return -1;
    }
    if (exec_ok(pg, "begin", "begin") < 0)
        goto out;
    if (exec_ok(pg, sql, name) < 0)
        goto rollback;
    res = PQexecParams(pg, "insert into schema_migrations(version) values ($1)", 1, NULL, params,
                       NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_error("migrate: record %s: %s", name, PQresultErrorMessage(res));
        PQclear(res);
        goto rollback;
    }
    PQclear(res);
    if (exec_ok(pg, "commit", "commit") < 0)
        goto out;
    log_info("migrate: applied %s", name);
    rc = 0;
    goto out;
rollback:
    exec_ok(pg, "rollback", "rollback");
out:
    free(sql);
    return rc;
}

int migrate_run(const char *conninfo, const char *schema_dir)
{
    PGconn *pg = PQconnectdb(conninfo);
    DIR *d = NULL;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int applied = 0, rc = -1;

    if (PQstatus(pg) != CONNECTION_OK) {
        log_error("migrate: cannot connect: %s", PQerrorMessage(pg));
        goto out;
    }
    if (exec_ok(pg, "set client_min_messages = warning", "settings") < 0 ||
        exec_ok(pg, "select pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "lock") < 0)
        goto out;
    if (exec_ok(pg,
                "create table if not exists schema_migrations ("
                " version text primary key,"
                " applied_at timestamptz not null default now())",
                "schema_migrations") < 0)
        goto unlock;
    d = opendir(schema_dir);
    if (!d) {
        log_error("migrate: cannot open %s", schema_dir);
        goto unlock;
    }
    while ((e = readdir(d)) != NULL) {
        if (!is_migration(e->d_name))
            continue;
        if (n == cap) {
            char **grown;
            cap = cap ? cap * 2 : 16;
            grown = realloc(names, cap * sizeof(char *));
            if (!grown)
                goto unlock;
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (!names[n])
            goto unlock;
        n++;
    }
    qsort(names, n, sizeof(char *), cmp_names);
    for (size_t i = 0; i < n; i++) {
        int done = is_applied(pg, names[i]);
        if (done < 0)
            goto unlock;
        if (done)
            continue;
        if (apply_one(pg, schema_dir, names[i]) < 0)
            goto unlock;
        applied++;
    }
    rc = applied;
unlock:
    exec_ok(pg, "select pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "unlock");
out:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    PQfinish(pg);
    return rc;
}
