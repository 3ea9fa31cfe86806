/*
 * report: the manager's floor report, the store's repair list, and the dashboard's figures.
 *
 * The store reads are of the store in the path (the dispatcher checked the caller's role there),
 * and the chain's is for admins, so C only refuses malformed query strings, naming the field,
 * before the one SQL call; the SQL functions in schema/api/reports.sql shape the whole reply,
 * dates included: a range (from, to, the period before) is parsed and checked once, in SQL
 * (report_range). A CSV is the same call wrapped in report_csv, so every report's CSV is made
 * by one function.
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
static struct sql_stmt q_floor_period =
    SQL_STMT("report_floor_period", "select report_floor_period($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_floor_csv =
    SQL_STMT("report_floor_csv",
             "select report_csv(report_floor_period($1, $2, $3, $4, $5, $6), $7, 'days')", 7);
static struct sql_stmt q_figures =
    SQL_STMT("report_repairs_period", "select report_repairs_period($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_figures_csv =
    SQL_STMT("report_repairs_csv",
             "select report_csv(report_repairs_period($1, $2, $3, $4, $5), $6, 'figures')", 6);
static struct sql_stmt q_staff =
    SQL_STMT("report_staff", "select report_staff($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_staff_csv = SQL_STMT(
    "report_staff_csv", "select report_csv(report_staff($1, $2, $3, $4, $5), $6, 'staff')", 6);
static struct sql_stmt q_chain = SQL_STMT("report_chain", "select report_chain($1, $2, $3, $4)", 4);
static struct sql_stmt q_chain_csv = SQL_STMT(
    "report_chain_csv", "select report_csv(report_chain($1, $2, $3, $4), $5, 'stores')", 5);
static struct sql_stmt q_promises =
    SQL_STMT("promise_report", "select promise_report($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_promises_csv =
    SQL_STMT("promise_report_csv",
             "select report_csv(promise_report($1, $2, $3, $4, $5), $6, 'repairs')", 6);
static struct sql_stmt q_promises_chain =
    SQL_STMT("promise_report_chain", "select promise_report_chain($1, $2, $3, $4)", 4);
static struct sql_stmt q_promises_chain_csv =
    SQL_STMT("promise_report_chain_csv",
             "select report_csv(promise_report_chain($1, $2, $3, $4), $5, 'stores')", 5);

/* ?days=N (the last N days, without the period before) is the report's first form, kept for
 * its callers; from, to or format=csv ask for the ranged one, whose default length is still N. */
void report_floor(struct req *r)
{
    static const struct api_report floor = {.count = "days",
                                            .count_max = REPORT_DAYS_MAX,
                                            .count_default = REPORT_DAYS_DEFAULT,
                                            .count_ranged = true,
                                            .first = &q_floor,
                                            .ranged = &q_floor_period,
                                            .csv = &q_floor_csv};
    api_send_report(r, &floor);
}

void report_repair_figures(struct req *r)
{
    static const struct api_report figures = {.ranged = &q_figures, .csv = &q_figures_csv};
    api_send_report(r, &figures);
}

void report_staff(struct req *r)
{
    static const struct api_report staff = {.ranged = &q_staff, .csv = &q_staff_csv};
    api_send_report(r, &staff);
}

/* No store in the path: the route lets admins only in, and report_chain checks it again. */
void report_chain(struct req *r)
{
    static const struct api_report chain = {
        .no_store = true, .ranged = &q_chain, .csv = &q_chain_csv};
    api_send_report(r, &chain);
}

void report_promises(struct req *r)
{
    static const struct api_report promises = {.ranged = &q_promises, .csv = &q_promises_csv};
    api_send_report(r, &promises);
}

void report_promises_chain(struct req *r)
{
    static const struct api_report chain = {
        .no_store = true, .ranged = &q_promises_chain, .csv = &q_promises_chain_csv};
    api_send_report(r, &chain);
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
