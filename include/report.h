/*
 * report: read-only views across domains for managers and staff: the floor report per local
 * day (waits, service times, no-shows), the store's list of repair orders, and the dashboard's
 * repair, per-staff and chain-wide figures over a range of dates (?from=&to=), each beside the
 * period before, as JSON or CSV (?format=csv). Each handler checks its query string, then makes
 * one SQL call (schema/api/reports.sql).
 */
#ifndef CARNET_REPORT_H
#define CARNET_REPORT_H

struct req;

void report_floor(struct req *r);
void report_repairs(struct req *r);
void report_repair_figures(struct req *r);
void report_staff(struct req *r);
void report_chain(struct req *r);
/* The share of promises kept, per store and for the chain (schema/api/promise.sql). */
void report_promises(struct req *r);
void report_promises_chain(struct req *r);

#endif
