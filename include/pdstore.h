/*
 * pdstore: keeps personal data sealed under the current data key (seal.h). It asks the
 * database for values that are not (pd_due: written in clear before migration 017 or by the
 * demo seed, or sealed under an older key during a rotation), seals them, computes their blind
 * index, and hands them back (pd_store), which replaces a value only if it has not changed since
 * it was read. Several carnetd may run it at once: the worst case is the same value sealed twice.
 */
#ifndef CARNET_PDSTORE_H
#define CARNET_PDSTORE_H

#include <stddef.h>

struct event_base;

/* How often each carnetd that runs jobs looks for unsealed values, and how many per column it
 * takes in one round. */
#define PDSTORE_INTERVAL_MS 2000
#define PDSTORE_BATCH 100
/* Rounds at start-up before serving (each up to PDSTORE_BATCH values per column). */
#define PDSTORE_STARTUP_ROUNDS 20

/* Over a blocking connection (start-up, and `--rotate-data-key`), looking at everything: rounds
 * until nothing is due or `max_rounds` have run (0: no limit). Returns the values sealed, or -1
 * with `err`. */
long pdstore_run_blocking(const char *conninfo, int max_rounds, char *err, size_t errlen);
int pdstore_init(struct event_base *base, int interval_ms);
void pdstore_stop(void);

#endif
