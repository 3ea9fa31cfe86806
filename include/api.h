/*
 * api: the handler kit. The steps every endpoint takes, written once: path ids (404), query
 * integers with bounds (400 naming the field), the JSON body handed to SQL as received, one SQL
 * call whose answer becomes the reply, and the one SQLSTATE -> HTTP mapping.
 *
 * A handler looks like:
 *     const char *store = api_path_id(r, "store");
 *     if (!store || !api_need_body(r))
 *         return;
 *     const char *p[] = {r->who.staff_id, r->id, store, api_body(r)};
 *     api_send(r, &q_add_service, p, 201);
 *
 * api_call holds a reference on the request for as long as its query is pending, so the
 * callback always finds it alive; the callback runs from the loop, never inside api_call.
 */
#ifndef CARNET_API_H
#define CARNET_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "db.h"
#include "worker.h"

struct req;

/* The path parameter `name` when it is a database id (1..18 digits); otherwise replies
 * 404 not_found naming `name` and returns NULL. */
const char *api_path_id(struct req *r, const char *name);

/*
 * The query parameter `name` as an integer in [min, max]: `def` when absent. Writes its decimal
 * text into `out` (for SQL). A present value that is not such an integer replies 400 bad_value
 * naming `name` and returns false.
 */
bool api_query_int(struct req *r, const char *name, long long min, long long max, long long def,
                   char out[24]);
/* Like api_query_int for a yes/no flag ("true"/"false"/"1"/"0"); writes "true"/"false". */
bool api_query_bool(struct req *r, const char *name, bool def, const char **out);

/* A report's `format` query parameter: *csv false for json (the default), true for csv;
 * anything else replies 422 invalid naming `format` and returns false. */
bool api_query_format(struct req *r, bool *csv);

/* True when the request has a JSON object body; otherwise replies 400 missing_body. */
bool api_need_body(struct req *r);
/* The body text for SQL exactly as received (validated as a JSON object by the dispatcher),
 * or "{}" when there is none. Valid for the request's life. */
const char *api_body(struct req *r);

/* A query's answer for a request. `r` is alive; the callback must answer it (or chain another
 * api_call). */
typedef void (*api_cb)(struct req *r, const struct db_result *res);

/* Sends `stmt` with `params` (copied) and calls `cb(r, result)` later, from the loop. */
void api_call(struct req *r, struct sql_stmt *stmt, const char *const *params, api_cb cb);
/* api_call whose answer is the reply: the JSON value of the first column, with `status`
 * (200/201) on success; a NULL or missing row is 404; a failure is the mapped error. */
void api_send(struct req *r, struct sql_stmt *stmt, const char *const *params, int status);
/* api_send (200) of a read that may be answered by a standby (db_query_read): a statement that
 * writes nothing, for a caller that need not see its own writes. */
void api_send_read(struct req *r, struct sql_stmt *stmt, const char *const *params);
/*
 * A read that writes its own audit row (a record read). With a usable standby
 * (--read-database-url), `read` (a statement that writes nothing and refuses what `both`
 * refuses) goes there by db_query_read and `audit` (which writes the row, and refuses the same)
 * to the primary, both at once; the read's answer leaves only once the audit row is written, and
 * an audit that fails answers its error instead: no read goes out unaudited. Otherwise `both`
 * (audit and read in one call) is api_send (200) on the primary.
 */
struct api_stmt {
    struct sql_stmt *stmt;
    const char *const *params;
};
void api_send_audited_read(struct req *r, struct api_stmt both, struct api_stmt read,
                           struct api_stmt audit);
/* api_call for a read that a standby may answer (db_query_read). */
void api_call_read(struct req *r, struct sql_stmt *stmt, const char *const *params, api_cb cb);

/* api_call whose answer, a JSON object {"filename", "csv"} (report_csv in SQL), is the reply:
 * 200 text/csv as an attachment of that file name; a failure is the mapped error. */
void api_send_csv(struct req *r, struct sql_stmt *stmt, const char *const *params);

/*
 * A ranged report: `ranged` or, with format=csv, `csv` take (actor, store unless no_store, from,
 * to, N when count_ranged (the range's default length), request id, then the CSV's table). The
 * store is the one in the path; no_store is a report of no store (the chain's). A report with a
 * `count` also has a first form, kept for its callers: ?<count>=N alone sends `first` (actor,
 * store, N, request id); from, to or format=csv still ask for the ranged one.
 */
struct api_report {
    const char *count;
    long long count_max, count_default;
    bool count_ranged, no_store;
    struct sql_stmt *first, *ranged, *csv;
};
void api_send_report(struct req *r, const struct api_report *rep);

/* Reply with the JSON value the SQL function built (first column of the first row). */
void api_reply_result(struct req *r, int status, const struct db_result *res);
/* For a handler that adds to the JSON object the SQL function built: that object, parsed (the
 * caller owns it). On a failure, a NULL or missing row, or an answer that is not a JSON object,
 * replies as api_reply_result would or 500, and returns NULL. */
json_t *api_result_object(struct req *r, const struct db_result *res);
/* The first value of a result parsed as JSON, personal data opened (seal.h); NULL when it does
 * not parse. For callers that read a result rather than reply with it. */
json_t *api_result_json(struct req *r, const struct db_result *res);
/*
 * Personal data on its way in (seal.h): sets obj[key] to `plain` sealed, and when `bi_kind` is
 * "email" or "phone" obj[bi_key] to its blind index; a NULL `plain` sets both to JSON null.
 * 0, or -1 when out of memory. The domain handlers check the clear value first: SQL sees only
 * the marker.
 */
int api_seal_member(json_t *obj, const char *key, const char *plain, const char *bi_kind,
                    const char *bi_key);
/*
 * For a customer's body with free text in member `key` (personal data: a decline reason, a
 * survey comment): the body as text for SQL (malloc'd; no body counts as {}) with that member
 * trimmed of blanks and sealed, or left out when it is blank or null. The text is checked in
 * clear first: not text, a NUL in it or more than `max` characters once trimmed is 422 invalid
 * on `key`, and with `required` a blank or missing one is 422 required, both saying `rule`.
 * Otherwise (and when out of memory) replies and returns NULL.
 */
char *api_body_sealed_text(struct req *r, const char *key, size_t max, bool required,
                           const char *rule);
/* What a public board shows of a person: the first letter of `name` (leading spaces skipped),
 * upper-cased (ASCII and Latin-1 letters), and a dot, e.g. "Z." for "zoé". Empty when the name
 * is blank. Computed before sealing and stored beside the sealed name. */
#define API_INITIAL_MAX 8
void api_initial(const char *name, char out[API_INITIAL_MAX]);
/* A customer's phone as typed ("+33 6 12-34-56-78") in the one form it is stored and indexed
 * in ("+33612345678"): a '+' then 7 to 15 digits once spaces, dashes, dots and parentheses are
 * gone. False when it is not a phone; `out` needs API_PHONE_MAX bytes. */
#define API_PHONE_MAX 17
bool api_phone_normalise(const char *in, char *out, size_t outlen);
/* `s` folded for comparing names: ASCII and Latin-1 capitals to small letters, every run of
 * white space as one space, none at either end (malloc'd), or NULL when out of memory. */
char *api_name_fold(const char *s);
/* True when a string anywhere in `j` (a member's name or a value, at any depth) holds the
 * opening of a sealed-data marker (seal.h). Text from outside must not: see dispatch.c. */
bool api_json_has_marker(json_t *j);
/* An optional string member of the JSON body: *out NULL when absent or null; -1 (after
 * replying 422 invalid with the member's name) when not text or longer than `max` bytes. */
int api_opt_string(struct req *r, const char *field, size_t max, const char **out);
/* Turns a failed result into the one right error reply (503, 409, 422 ...). */
void api_reply_db_error(struct req *r, const struct db_result *res);
/* The same mapping from the fields of a SQL error (SQLSTATE, message, detail, hint, constraint;
 * any may be NULL, an empty hint counts as none): for errors a function returns as data, such as
 * the first answer of an idempotent booking (raising would roll back what it stored). */
void api_reply_sql_error(struct req *r, const char *sqlstate, const char *primary,
                         const char *detail, const char *hint, const char *constraint);

/*
 * Runs `work(r->state)` on a worker thread of `kind`, then `done(r)` on the loop (unless the
 * request was answered meanwhile). The request is held in between; `work` may touch only the
 * handler's state, never the request. On failure to queue, replies 503 itself.
 */
void api_offload(struct req *r, enum worker_kind kind, worker_fn work, void (*done)(struct req *r));

/*
 * Idempotency-Key, one rule for every write that takes one: 1 to API_IDEM_KEY_MAX visible ASCII
 * characters. api_idempotency reads it for a write whose SQL keeps the first answer per key
 * (schema/api/idempotency.sql): 0 when the request has none (both outputs ""); 1 with
 * `key_hash` a keyed hash (seal.h, the data key) of `label`, `scope` and the key, and
 * `fingerprint` a keyed hash of the request under that key (method, path, and the JSON body
 * with its keys sorted, so the same request sent again matches however its client orders
 * members); -1 after replying: 400 invalid for a malformed key, or out of memory. The database
 * sees neither the key nor the body in clear, and cannot test guesses against the hashes.
 */
#define API_IDEM_KEY_MAX 255
#define API_IDEM_HASH_HEX 64
bool api_idem_key_ok(const char *key);
int api_idempotency(struct req *r, const char *label, const char *scope,
                    char key_hash[API_IDEM_HASH_HEX + 1], char fingerprint[API_IDEM_HASH_HEX + 1]);

/* Maps a SQLSTATE to an HTTP status: CAnnn is nnn; exposed for unit tests. */
int api_status_for_sqlstate(const char *sqlstate);

#endif
