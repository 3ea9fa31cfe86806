/*
 * migrate: applies schema/NNN_name.sql files in order, each in its own transaction, recorded in
 * schema_migrations (tables, indexes, constraints, data: append-only once applied). Then loads
 * every schema/api/<domain>.sql file (the functions and their triggers, `create or replace`),
 * sorted by name, in one transaction, on every run. A session advisory lock serialises
 * concurrent carnetd starts: the second waits, finds no migration left and loads the same api
 * files again. Runs before the event loop starts, so it may block.
 *
 * Migrations run as the owner role, which owns every table and function; carnetd serves as
 * another role that owns nothing (README, "Database roles").
 */
#ifndef CARNET_MIGRATE_H
#define CARNET_MIGRATE_H

/*
 * Connects with `conninfo` (the owner role's), applies what is missing, reloads the api files and
 * applies the privileges of the role `serving_conninfo` logs in as (schema/api/privileges.sql):
 * EXECUTE on the functions carnetd's queries call, nothing else. When both strings are the same
 * (or serving_conninfo is NULL) carnetd serves as the owner: the functions are set up the same
 * way but nobody is granted anything, and a warning says so. Returns the number of numbered
 * migrations applied, or -1 (the reason is logged).
 */
int migrate_run(const char *conninfo, const char *serving_conninfo, const char *schema_dir);

/* For a carnetd that does not migrate: logs a warning when the role `conninfo` logs in as is a
 * superuser or owns the tables, i.e. could rewrite the record. Never fails start-up. */
void migrate_check_serving(const char *conninfo);

#endif
