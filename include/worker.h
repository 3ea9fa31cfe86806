/*
 * worker: thread pools for work that must not run on the event loop. `work(arg)` runs on a
 * worker thread; `done(arg)` then runs on the loop thread. Nothing else crosses threads: `arg`
 * belongs to the worker between the two calls, to the loop otherwise.
 *
 * Unlike work never shares threads: CPU work (argon2id, chain verification) has its pool, and
 * blocking I/O (SMTP, SMS webhooks) its own, so a stalled mail server never delays a sign-in, and
 * webhooks (a manager's endpoints, which may hang until their timeout) their own, so a slow
 * receiver never delays a customer's "you're next".
 */
#ifndef CARNET_WORKER_H
#define CARNET_WORKER_H

struct event_base;

typedef void (*worker_fn)(void *arg);

/* The nice value of the CPU pool's threads (worker.c says why). */
#define WORKER_CPU_NICE 10

enum worker_kind {
    WORKER_CPU,     /* short CPU-bound jobs: password hashing, hash-chain verification */
    WORKER_IO,      /* blocking network calls: mail and SMS delivery */
    WORKER_WEBHOOK, /* webhook POSTs */
    WORKER_RESOLVE, /* getaddrinfo of a webhook URL being saved: a manager's save waits on DNS,
                       never behind the sends to a receiver that hangs */
    WORKER_KINDS
};

/* webhook_threads sizes both the webhook and the resolve pools. */
int worker_init(struct event_base *base, int cpu_threads, int io_threads, int webhook_threads);
/* 0, or -1 when out of memory (nothing was queued). */
int worker_submit(enum worker_kind kind, worker_fn work, worker_fn done, void *arg);
void worker_shutdown(void);

/* A pool's load for /metrics: jobs waiting for a thread, jobs running, threads. Any thread. */
struct worker_stats {
    int threads, waiting, busy;
};
void worker_stats(enum worker_kind kind, struct worker_stats *out);
const char *worker_kind_name(enum worker_kind kind); /* "cpu", "io", "webhook", "resolve" */

#endif
