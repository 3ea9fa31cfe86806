/*
 * migrate: applies schema/NNN_name.sql files in order, each in its own transaction, recorded in
 * schema_migrations (tables, indexes, constraints, data: append-only once applied). Then loads
 * every schema/api/<domain>.sql file (the functions and their triggers, `create or replace`),
 * sorted by name, in one transaction, on every run. A session advisory lock serialises
 * concurrent carnetd starts: the second waits, finds no migration left and loads the same api
 * files again. Runs before the event loop starts, so it may block.
 */
#ifndef CARNET_MIGRATE_H
#define CARNET_MIGRATE_H

/* Returns the number of numbered migrations applied, or -1 (the reason is logged). */
int migrate_run(const char *conninfo, const char *schema_dir);

#endif
