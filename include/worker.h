/*
 * worker: a small thread pool for CPU-heavy work (argon2id) that must not run on the event loop.
 * `work(arg)` runs on a worker thread; `done(arg)` then runs on the loop thread. Nothing else
 * crosses threads: `arg` belongs to the worker between the two calls, to the loop otherwise.
 */
#ifndef CARNET_WORKER_H
#define CARNET_WORKER_H

struct event_base;

typedef void (*worker_fn)(void *arg);

int worker_init(struct event_base *base, int nthreads);
int worker_submit(worker_fn work, worker_fn done, void *arg);
void worker_shutdown(void);

#endif
