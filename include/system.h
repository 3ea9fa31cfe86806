/*
 * system: the operational endpoints: /healthz, /metrics, /api/openapi.json.
 */
#ifndef CARNET_SYSTEM_H
#define CARNET_SYSTEM_H

struct evbuffer;
struct req;

/* Loads and merges the API description from <web_root>/openapi/ once. -1 when a part does not
 * parse or has the wrong shape (fatal at start-up); 0 otherwise, also when there is none (then
 * /api/openapi.json is a 404). */
int system_init(const char *web_root);
void system_free(void);

/* Raises the soft RLIMIT_NOFILE to the hard limit (every client is a descriptor: a board, an
 * SSE stream) and logs what it is. */
void system_raise_fd_limit(void);

void system_healthz(struct req *r);
/* 404 when --metrics-listen is set: /metrics is then served on that address only. */
void system_metrics(struct req *r);
/* The text of /metrics, on either address. */
void system_metrics_render(struct evbuffer *out);
void system_openapi(struct req *r);

#endif
