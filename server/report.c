/*
 * report: the manager's floor report and the store's repair list.
 *
 * Both are reads of the store in the path (the dispatcher checked the caller's role there), so
 * C only refuses malformed query strings, naming the field, before the one SQL call; the SQL
 * functions in schema/007_reports.sql shape the whole reply.
 */
#include "report.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "repair.h"
#include "util.h"

#define REPORT_DAYS_DEFAULT "14"
#define REPORT_DAYS_MAX 90
#define REPAIR_LIST_DEFAULT "100"
#define REPAIR_LIST_MAX 500
/* Besides the repair states, the list takes this filter: every state that is not over. */
#define REPAIR_FILTER_OPEN "open"

static struct sql_stmt q_floor = SQL_STMT("report_floor", "select report_floor($1, $2, $3, $4)", 4);
static struct sql_stmt q_repairs =
    SQL_STMT("report_repairs", "select report_repairs($1, $2, $3, $4, $5)", 5);

/* Reads a whole number from 1 to `max` in query parameter `name` (or `dflt` when absent) into
 * `out`; replies 400 naming the field and returns -1 otherwise. */
static int query_count(struct req *r, const char *name, const char *dflt, int max, const char **out)
{
    const char *v = http_query(r, name);
    if (!v)
        v = dflt;
    /* Three more digits than any limit here would need: a longer string is no count. */
    if (!util_is_digits(v, 6) || atoi(v) < 1 || atoi(v) > max) {
        http_reply_error(r, 400, "invalid", name, "%s is from 1 to %d", name, max);
        return -1;
    }
    *out = v;
    return 0;
}

void report_floor(struct req *r)
{
    const char *params[4];
    params[1] = http_param(r, "store");
    if (!util_is_digits(params[1], 18)) {
        http_reply_error(r, 404, "not_found", "store", "no such store");
        return;
    }
    if (query_count(r, "days", REPORT_DAYS_DEFAULT, REPORT_DAYS_MAX, &params[2]) < 0)
        return;
    params[0] = r->who.staff_id;
    params[3] = r->id;
    api_send(r, &q_floor, params, 200);
}

void report_repairs(struct req *r)
{
    const char *params[5];
    enum repair_state st;
    params[1] = http_param(r, "store");
    if (!util_is_digits(params[1], 18)) {
        http_reply_error(r, 404, "not_found", "store", "no such store");
        return;
    }
    params[2] = http_query(r, "state");
    if (params[2] && !*params[2])
        params[2] = NULL; /* "?state=" is the form's "all states" */
    if (params[2] && strcmp(params[2], REPAIR_FILTER_OPEN) != 0 &&
        repair_state_parse(params[2], &st) < 0) {
        http_reply_error(r, 422, "invalid", "state", "state is open or a repair state");
        return;
    }
    if (query_count(r, "limit", REPAIR_LIST_DEFAULT, REPAIR_LIST_MAX, &params[3]) < 0)
        return;
    params[0] = r->who.staff_id;
    params[4] = r->id;
    api_send(r, &q_repairs, params, 200);
}
