/*
 * migrate: see migrate.h. Only file names of the form NNN_name.sql count as migrations; anything
 * else in the folder (seed data, notes) is ignored. The API's functions live in
 * schema/api/<domain>.sql, one current definition each, and are loaded again after the
 * migrations on every run, followed by the serving role's privileges (privilege_apply in
 * schema/api/privileges.sql) in the same transaction: a function is never visible replaced but
 * not yet granted, or granted to a role that should not have it.
 */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgconn.h"
/* MIGRATE_SQL_CALLS: the text of every query of carnetd's serving connections, one a line,
 * generated at build time from the sources in server/ (.tools/sql_calls.py). */
#include "sql_calls.h"

#define MIGRATE_LOCK_KEY "7262737"
#define MIGRATE_API_DIR "api"

static int is_api_file(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && name[0] != '.' && strcmp(name + len - 4, ".sql") == 0;
}

static int is_migration(const char *name)
{
    size_t len = strlen(name);
    return len > 8 && isdigit((unsigned char)name[0]) && isdigit((unsigned char)name[1]) &&
           isdigit((unsigned char)name[2]) && name[3] == '_' && strcmp(name + len - 4, ".sql") == 0;
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

#define MIGRATE_ERR_MAX 1024

static int exec_ok(struct pg_conn *pg, const char *sql, const char *what)
{
    char err[MIGRATE_ERR_MAX];
    if (pgconn_exec_blocking(pg, sql, 0, NULL, NULL, err, sizeof(err)) < 0) {
        log_error("migrate: %s: %s", what, err);
        return -1;
    }
    return 0;
}

static int exec_params(struct pg_conn *pg, const char *sql, int nparams, const char *const *params,
                       char **first, const char *what)
{
    char err[MIGRATE_ERR_MAX];
    if (pgconn_exec_blocking(pg, sql, nparams, params, first, err, sizeof(err)) < 0) {
        log_error("migrate: %s: %s", what, err);
        return -1;
    }
    return 0;
}

static int is_applied(struct pg_conn *pg, const char *version)
{
    char *one = NULL;
    int applied;
    if (exec_params(pg, "select 1 from schema_migrations where version = $1", 1, &version, &one,
                    "schema_migrations") < 0)
        return -1;
    applied = one != NULL;
    free(one);
    return applied;
}

static int apply_one(struct pg_conn *pg, const char *dir, const char *name)
{
    char path[4096];
    char *sql = NULL;
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
    if (exec_params(pg, "insert into schema_migrations(version) values ($1)", 1, &name, NULL,
                    "record") < 0)
        goto rollback;
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

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The names in `dir` that `keep` accepts, sorted; *out is malloc'd (free_names). -1 on error. */
static int list_dir(const char *dir, int (*keep)(const char *), char ***out, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;

    if (!d) {
        log_error("migrate: cannot open %s", dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (!keep(e->d_name))
            continue;
        if (n == cap) {
            char **grown;
            cap = cap ? cap * 2 : 16;
            grown = realloc(names, cap * sizeof(char *));
            if (!grown)
                goto fail;
            names = grown;
        }
        names[n] = strdup(e->d_name);
        if (!names[n])
            goto fail;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(char *), cmp_names);
    *out = names;
    *count = n;
    return 0;
fail:
    log_error("migrate: out of memory listing %s", dir);
    closedir(d);
    free_names(names, n);
    return -1;
}

static int exec_files(struct pg_conn *pg, const char *dir, char **names, size_t n)
{
    char path[4096];
    for (size_t i = 0; i < n; i++) {
        char *sql;
        int rc;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (!(sql = read_file(path))) {
            log_error("migrate: cannot read %s", path);
            return -1;
        }
        rc = exec_ok(pg, sql, names[i]);
        free(sql);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* The serving role's grants and the entry points' security definer (privilege_apply). A reason
 * the wall is not up (carnetd serves as the owner or a superuser) is logged, not fatal: an old
 * single-role deployment keeps working. */
static int apply_privileges(struct pg_conn *pg, const char *serving_role)
{
    const char *params[2] = {serving_role, MIGRATE_SQL_CALLS};
    char *why = NULL;

    if (exec_params(pg, "select privilege_apply($1, $2)", 2, params, &why, "privileges") < 0)
        return -1;
    if (why)
        log_warning("migrate: %s (see README, Database roles)", why);
    else
        log_info("migrate: %s may execute the API's entry points and nothing else", serving_role);
    free(why);
    return 0;
}

/*
 * Loads every schema/api/<domain>.sql file, sorted by name, in one transaction: each function
 * gets its current definition (create or replace), triggers are re-created beside their
 * function. The files are read twice: first with check_function_bodies off, so a file may use a
 * function of a later file (SQL-language bodies are checked at creation); then with it on, so every
 * body is checked against the complete set. Then the privileges. Either all of it applies or none.
 */
static int apply_api(struct pg_conn *pg, const char *schema_dir, const char *serving_role)
{
    char dir[4096];
    char **names = NULL;
    size_t n = 0;
    int rc = -1;

    snprintf(dir, sizeof(dir), "%s/%s", schema_dir, MIGRATE_API_DIR);
    if (list_dir(dir, is_api_file, &names, &n) < 0)
        return -1;
    if (exec_ok(pg, "begin", "begin") < 0)
        goto out;
    if (exec_ok(pg, "set local check_function_bodies = off", "settings") < 0 ||
        exec_files(pg, dir, names, n) < 0 ||
        exec_ok(pg, "set local check_function_bodies = on", "settings") < 0 ||
        exec_files(pg, dir, names, n) < 0 || apply_privileges(pg, serving_role) < 0) {
        exec_ok(pg, "rollback", "rollback");
        goto out;
    }
    if (exec_ok(pg, "commit", "commit") < 0)
        goto out;
    log_info("migrate: loaded %zu api files", n);
    rc = 0;
out:
    free_names(names, n);
    return rc;
}

/* The name of the role `conninfo` logs in as (malloc'd), or NULL with the reason logged. */
static char *serving_role_of(const char *conninfo)
{
    char err[MIGRATE_ERR_MAX];
    struct pg_conn *pg = pgconn_connect_blocking(conninfo, err, sizeof(err));
    char *role = NULL;

    if (!pg) {
        log_error("migrate: cannot connect as the serving role: %s", err);
        return NULL;
    }
    if (exec_params(pg, "select current_user", 0, NULL, &role, "serving role") == 0 && !role)
        log_error("migrate: the serving role has no name");
    pgconn_close_blocking(pg);
    return role;
}

int migrate_run(const char *conninfo, const char *serving_conninfo, const char *schema_dir)
{
    char err[MIGRATE_ERR_MAX];
    struct pg_conn *pg = NULL;
    char **names = NULL;
    char *serving_role = NULL;
    size_t n = 0;
    int applied = 0, rc = -1;

    /* The same connection string: an old single-role deployment, nobody to grant to. */
    if (serving_conninfo && strcmp(serving_conninfo, conninfo) != 0 &&
        !(serving_role = serving_role_of(serving_conninfo)))
        goto out;
    if (!(pg = pgconn_connect_blocking(conninfo, err, sizeof(err)))) {
        log_error("migrate: cannot connect: %s", err);
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
    if (list_dir(schema_dir, is_migration, &names, &n) < 0)
        goto unlock;
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
    if (apply_api(pg, schema_dir, serving_role) < 0)
        goto unlock;
    rc = applied;
unlock:
    exec_ok(pg, "select pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "unlock");
out:
    free_names(names, n);
    free(serving_role);
    pgconn_close_blocking(pg);
    return rc;
}

void migrate_check_serving(const char *conninfo)
{
    char err[MIGRATE_ERR_MAX];
    struct pg_conn *pg = pgconn_connect_blocking(conninfo, err, sizeof(err));
    char *why = NULL;

    if (!pg) {
        log_warning("migrate: cannot check the serving role: %s", err);
        return;
    }
    if (exec_params(pg,
                    "select format('carnetd serves as %s, which %s: its credentials can disable "
                    "the record''s triggers and rewrite any table', current_user, why)"
                    " from (select case when rolsuper then 'is a superuser'"
                    "  when exists (select 1 from pg_class c"
                    "   where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')"
                    "   and pg_has_role(current_user, c.relowner, 'member'))"
                    "  then 'owns the tables (or is a member of their owner)' end as why"
                    "  from pg_roles where rolname = current_user) x where why is not null",
                    0, NULL, &why, "serving role") == 0 &&
        why)
        log_warning("%s (see README, Database roles)", why);
    free(why);
    pgconn_close_blocking(pg);
}
