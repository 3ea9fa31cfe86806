/*
 * customer: what the stores hold about one person, found by email or phone, and its erasure
 * (GDPR articles 15 and 17), and the erasure requests customers make from their links.
 * The rules (scope, what is erased, how the health record stays verifiable) are in
 * schema/api/customers.sql.
 */
#ifndef CARNET_CUSTOMER_H
#define CARNET_CUSTOMER_H

struct req;

/* GET /api/customers?email=|phone= */
void customer_access(struct req *r);
/* POST /api/customers/erase {"email"} or {"phone"} */
void customer_erase(struct req *r);
/* POST /api/manage/{token}/erasure-request */
void customer_request_from_booking(struct req *r);
/* POST /api/repair-status/{token}/erasure-request */
void customer_request_from_repair(struct req *r);
/* GET /api/stores/{store}/erasure-requests */
void customer_erasure_requests(struct req *r);

#endif
