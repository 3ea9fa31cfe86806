/*
 * migrate: see migrate.h. Only file names of the form NNN_name.sql count as migrations; anything
 * else in the folder (seed data, notes) is ignored. The API's functions live in
 * schema/api/<domain>.sql, one current definition each, and are loaded again after the
 * migrations on every run.
 */
#include "migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgconn.h"

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

static int exec_params(struct pg_conn *pg, const char *sql, const char *param, char **first,
                       const char *what)
{
    char err[MIGRATE_ERR_MAX];
    const char *params[1] = {param};
    if (pgconn_exec_blocking(pg, sql, 1, params, first, err, sizeof(err)) < 0) {
        log_error("migrate: %s: %s", what, err);
        return -1;
    }
    return 0;
}

static int is_applied(struct pg_conn *pg, const char *version)
{
    char *one = NULL;
    int applied;
    if (exec_params(pg, "select 1 from schema_migrations where version = $1", version, &one,
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
    if (exec_params(pg, "insert into schema_migrations(version) values ($1)", name, NULL,
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

/*
 * Loads every schema/api/<domain>.sql file, sorted by name, in one transaction: each function
 * gets its current definition (create or replace), triggers are re-created beside their
 * function. The files are read twice: first with check_function_bodies off, so a file may use a
 * function of a later file (SQL-language bodies are checked at creation); then with it on, so every
 * body is checked against the complete set. Either all of it applies or none.
 */
static int apply_api(struct pg_conn *pg, const char *schema_dir)
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
        exec_files(pg, dir, names, n) < 0) {
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

int migrate_run(const char *conninfo, const char *schema_dir)
{
    char err[MIGRATE_ERR_MAX];
    struct pg_conn *pg = pgconn_connect_blocking(conninfo, err, sizeof(err));
    char **names = NULL;
    size_t n = 0;
    int applied = 0, rc = -1;

    if (!pg) {
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
    if (apply_api(pg, schema_dir) < 0)
        goto unlock;
    rc = applied;
unlock:
    exec_ok(pg, "select pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "unlock");
out:
    free_names(names, n);
    pgconn_close_blocking(pg);
    return rc;
}
