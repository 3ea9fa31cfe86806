/*
 * report: the manager's floor report and the store's repair list.
 *
 * Both are reads of the store in the path (the dispatcher checked the caller's role there), so
 * C only refuses malformed query strings, naming the field, before the one SQL call; the SQL
 * functions in schema/007_reports.sql shape the whole reply.
 */
#include "report.h"

#include <string.h>

#include "api.h"
#include "http.h"
#include "repair.h"

#define REPORT_DAYS_DEFAULT 14
#define REPORT_DAYS_MAX 90
#define REPAIR_LIST_DEFAULT 100
#define REPAIR_LIST_MAX 500
/* Besides the repair states, the list takes this filter: every state that is not over. */
#define REPAIR_FILTER_OPEN "open"

static struct sql_stmt q_floor = SQL_STMT("report_floor", "select report_floor($1, $2, $3, $4)", 4);
static struct sql_stmt q_repairs =
    SQL_STMT("report_repairs", "select report_repairs($1, $2, $3, $4, $5)", 5);

void report_floor(struct req *r)
{
    const char *store = api_path_id(r, "store");
    char days[24];
    if (!store || !api_query_int(r, "days", 1, REPORT_DAYS_MAX, REPORT_DAYS_DEFAULT, days))
        return;
    const char *params[4] = {r->who.staff_id, store, days, r->id};
    api_send(r, &q_floor, params, 200);
}

void report_repairs(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *state;
    enum repair_state st;
    char limit[24];

    if (!store)
        return;
    state = http_query(r, "state");
    if (state && !*state)
        state = NULL; /* "?state=" is the form's "all states" */
    if (state && strcmp(state, REPAIR_FILTER_OPEN) != 0 && repair_state_parse(state, &st) < 0) {
        http_reply_error(r, 422, "invalid", "state", "state is open or a repair state");
        return;
    }
    if (!api_query_int(r, "limit", 1, REPAIR_LIST_MAX, REPAIR_LIST_DEFAULT, limit))
        return;
    const char *params[5] = {r->who.staff_id, store, state, limit, r->id};
    api_send(r, &q_repairs, params, 200);
}
