-- Staff accounts: managers and admins create staff, set their roles per store, reset passwords,
-- disable and re-enable accounts; staff change their own password; managers and admins read the
-- audit log.
--
-- Who may act on whom (the dispatcher already checked the caller is a manager of {store} or an
-- admin; these functions check it again and add what depends on the target):
--   * an admin may act on anyone, in any store, and may create other admins;
--   * a manager may act only on staff who hold a role in the manager's store, never on an
--     admin, and may grant roles only in that store (the store of the path);
--   * nobody disables their own account (it would lock the store out by mistake).
-- A manager asking about staff of another store gets 404, not 403: the answer must not reveal
-- which people work elsewhere.
--
-- Passwords arrive here only as argon2id hashes made by carnetd on a worker thread.

-- Audit entries about an object that belongs to a store carry that store, so a manager can be
-- shown the entries about their own stores and no others. Entries without a store (written with
-- the five-argument carnet_audit) are shown to admins only.
alter table audit_log add column store_id bigint references stores(id);
create index audit_log_store_idx on audit_log (store_id, id);

-- Most domains audit with the five-argument carnet_audit, which knows no store. So that their
-- entries reach the right managers anyway, an entry without a store takes the store of its
-- object when the object type names a table with a bigint id and a store_id column: the table
-- registered in audit_object_tables, else type, type || 's' or type || 'es' ('appointment' 42
-- -> appointments.store_id of row 42). Objects of no store (a device's health record, a staff
-- account) keep none. A lookup that fails (odd id type, no such row, no such table) leaves the
-- store empty and never fails the audited operation.
create table audit_object_tables (
    object_type text primary key,
    table_name text not null
);
-- Object types whose table is not simply their plural. Names, not regclass: the table may come
-- from a migration this database does not have.
insert into audit_object_tables values ('repair', 'repair_orders');
