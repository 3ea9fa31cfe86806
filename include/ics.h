/*
 * ics: calendar feeds (issue #14). A feed is a private URL, /api/stores/{store}/calendar/
 * <token>.ics, that a calendar client polls: the store's appointments, or one staff member's
 * shifts and appointments. Staff make, list and revoke feeds; the token is minted and hashed by
 * link.c like a customer's link, reaches its maker once in the answer, and is stored only
 * hashed. The feed is generated on each fetch from what ics_feed_read (schema/api/ics.sql)
 * gathers, written here as RFC 5545 text: the writer below is pure, for the unit tests.
 */
#ifndef CARNET_ICS_H
#define CARNET_ICS_H

#include <jansson.h>
#include <stddef.h>

struct evbuffer;
struct req;

/* RFC 5545 3.1: content lines are at most 75 octets, continued after CRLF and one space. */
#define ICS_LINE_OCTETS 75

/* Appends `s` as a TEXT value: backslash, semicolon, comma and newline escaped, carriage
 * returns and other control characters dropped. 0, or -1 when out of memory. */
int ics_escape(struct evbuffer *out, const char *s);
/* Appends one content line of `len` bytes, folded at ICS_LINE_OCTETS octets (never inside a
 * UTF-8 sequence), and its CRLF. 0, or -1 when out of memory. */
int ics_fold(struct evbuffer *out, const char *line, size_t len);
/*
 * Appends the whole VCALENDAR for `feed` (the JSON ics_feed_read answers: name, timezone, zones,
 * events) to `out`; event UIDs end with "@" and `host`. 0, or -1 when out of memory or when
 * `feed` lacks a member it needs.
 */
int ics_render(struct evbuffer *out, json_t *feed, const char *host);

/* The handlers (routes.c). */
void ics_feed_get(struct req *r);
void ics_feeds_list(struct req *r);
void ics_feed_create(struct req *r);
void ics_feed_revoke(struct req *r);

#endif
