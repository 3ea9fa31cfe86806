/*
 * rota: the week grid of a store's shifts, weekly shift patterns, moving one shift, copying a
 * week, and editing or removing closures. The rota_* functions of schema/api/rota.sql own the
 * rules (local wall-clock patterns, exceptions, bookings that rely on a shift).
 */
#ifndef CARNET_ROTA_H
#define CARNET_ROTA_H

struct req;

/* staff of the store in the path */
void rota_week(struct req *r);

/* managers */
void rota_add_pattern(struct req *r);
void rota_update_pattern(struct req *r);
void rota_update_shift(struct req *r);
void rota_copy_week(struct req *r);
void rota_update_closure(struct req *r);
void rota_delete_closure(struct req *r);

#endif
