/*
 * report: read-only views across domains for managers and staff: the floor report per local
 * day (waits, service times, no-shows) and the store's list of repair orders. Each handler
 * checks its query string, then makes one SQL call (schema/007_reports.sql).
 */
#ifndef CARNET_REPORT_H
#define CARNET_REPORT_H

struct req;

void report_floor(struct req *r);
void report_repairs(struct req *r);

#endif
