/*
 * linkstock: the links the database puts in messages (a thread's, a survey's, a standby offer's)
 * are minted inside SQL transactions, where the data key is not. So carnetd keeps a small stock
 * of ready links in the database — each a token's hash and the token sealed under the data key
 * (seal.h) — and SQL takes one (link_stock_take) instead of minting a token it would have to
 * write down in clear. Several carnetd top the same stock up; SQL keeps it at its target.
 */
#ifndef CARNET_LINKSTOCK_H
#define CARNET_LINKSTOCK_H

#include <stddef.h>

struct event_base;

/* How many ready links the stock holds. */
#define LINKSTOCK_TARGET 256
/* How often each carnetd looks at the stock. */
#define LINKSTOCK_INTERVAL_MS 1000

/* Start-up, before serving: fills the stock over a blocking connection, and drops ready links
 * sealed under another key. -1 with the reason in `err`. */
int linkstock_fill_blocking(const char *conninfo, char *err, size_t errlen);
/* Tops the stock up from the loop every `interval_ms`, at once again while it is short. */
int linkstock_init(struct event_base *base, int interval_ms);
void linkstock_stop(void);

#endif
