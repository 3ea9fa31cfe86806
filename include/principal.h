/*
 * principal: who is behind a request, as plain data. auth fills it, the dispatcher checks it
 * against the route table, handlers read it. Kept apart from auth.h so the transport (http.h) can
 * carry it inside a request without depending on the module that fills it.
 */
#ifndef CARNET_PRINCIPAL_H
#define CARNET_PRINCIPAL_H

#include <stdbool.h>

struct principal_store {
    char store_id[24];
    unsigned roles;
};

/* A staff name is at most 200 characters (schema/001_core.sql), of up to 4 UTF-8 bytes each: the
 * whole name fits, so it is never cut inside a character (which would not be valid JSON). */
#define PRINCIPAL_NAME_BYTES (200 * 4 + 1)
/* The desk named for this session: at most 40 characters (schema/036_board.sql), whole. */
#define PRINCIPAL_DESK_BYTES (40 * 4 + 1)

struct principal {
    bool authenticated;
    bool admin;
    bool via_cookie;
    char staff_id[24];
    char name[PRINCIPAL_NAME_BYTES];
    char desk[PRINCIPAL_DESK_BYTES]; /* the session's desk, '' when none (a call carries it) */
    char csrf[65]; /* the session's CSRF value, for cookie sessions (empty otherwise) */
    int nstores;
    struct principal_store *stores; /* owned by the request */
};

#endif
