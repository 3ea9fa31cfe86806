/*
 * staff: staff accounts managed by managers and admins (create, roles per store, password reset,
 * disable/enable), a staff member's change of their own password, and the audit log reader.
 * New passwords are hashed with argon2id on a worker thread; only the hash reaches PostgreSQL.
 */
#ifndef CARNET_STAFF_H
#define CARNET_STAFF_H

struct req;

void staff_list(struct req *r);
void staff_create(struct req *r);
void staff_set_roles(struct req *r);
void staff_reset_password(struct req *r);
void staff_disable(struct req *r);
void staff_enable(struct req *r);
void staff_change_password(struct req *r);
void staff_set_pin(struct req *r);
void staff_audit(struct req *r);

#endif
