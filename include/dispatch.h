/*
 * dispatch: the pipeline every request goes through, in one place:
 *     route -> authenticate -> authorise -> handler
 * with the web root as the route table's fallback row. http.c hands each parsed request to
 * dispatch_request; auth continues it through the callback it is given; the route's access
 * (roles, and the {store} of the path) is checked here before any handler runs.
 */
#ifndef CARNET_DISPATCH_H
#define CARNET_DISPATCH_H

struct req;

/* The http_request_cb given to http_init. */
void dispatch_request(struct req *r);

#endif
