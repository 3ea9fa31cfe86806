/*
 * store: the chain's set-up over HTTP: admins create, edit and close stores and see the chain's
 * load today; managers edit their store's details and services. The rules (who may change
 * which field, the checks, the audit) live in schema/api/store.sql.
 */
#ifndef CARNET_STORE_H
#define CARNET_STORE_H

struct req;

/* admins */
void store_create(struct req *r);
void store_chain(struct req *r);

/* managers of the store in the path (admins: every store) */
void store_update(struct req *r);
void store_service_update(struct req *r);

/* staff of the store in the path */
void store_services_all(struct req *r);

/* GET /api/auth/stores: the stores the caller may use, closed ones too (the staff app's picker). */
void store_staff_stores(struct req *r);

#endif
