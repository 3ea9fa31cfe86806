/*
 * acceptpause: a listener that cannot accept (EMFILE: out of descriptors; libevent would retry
 * at once and spin) pauses for a moment, new connections waiting in the backlog, and says so
 * once in a while. The public listener (http.c) and --metrics-listen's (metrics.c) share it.
 * `who` names it in the log (kept, not copied). Free it before its socket goes (its timer would
 * enable a freed listener).
 */
#ifndef CARNET_ACCEPTPAUSE_H
#define CARNET_ACCEPTPAUSE_H

struct event_base;
struct evhttp_bound_socket;
struct accept_pause;

struct accept_pause *accept_pause_new(struct event_base *base, struct evhttp_bound_socket *sock,
                                      const char *who);
void accept_pause_free(struct accept_pause *p);

#endif
