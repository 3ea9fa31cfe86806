/*
 * migrate: applies schema/NNN_name.sql files in order, each in its own transaction, recorded in
 * schema_migrations. A session advisory lock serialises concurrent carnetd starts: the second
 * waits, then finds nothing left to do. Runs before the event loop starts, so it may block.
 */
#ifndef CARNET_MIGRATE_H
#define CARNET_MIGRATE_H

/* Returns the number of migrations applied, or -1 (the reason is logged). */
int migrate_run(const char *conninfo, const char *schema_dir);

#endif
