-- 013_least_privilege: carnetd serves as a role that owns nothing and may only execute the
-- API's entry points (schema/api/privileges.sql, applied by migrate after every load of the
-- api files; README, "Database roles").
--
-- PostgreSQL lets PUBLIC execute every function its creator makes. privilege_apply revokes that
-- on each migrate; a function the owner creates by hand between two migrates is covered too:
-- from now on the migration role's new functions start with no grant to PUBLIC.
alter default privileges revoke execute on functions from public;
