-- Privileges: what privilege_apply grants, what it refuses to do, and the audit log's wall.
begin;
\ir _helpers.sql

-- A serving role of our own (rolled back with the rest), and the owner that migrate runs as.
create role privtest_app nologin;
set local role carnet_owner;

-- Only the functions the queries name become entry points; a keyword or a function of
-- pg_catalog named the same way is no function of ours.
select privilege_apply('privtest_app', E'select booking_list_stores()\nselect device_record($1, $2, $3, $4, $5)\nselect coalesce(now(), now())') is null as wall_up;
select p.proname, has_function_privilege('privtest_app', p.oid, 'execute') as may_execute,
       p.prosecdef as definer, p.proconfig
from pg_proc p
where p.proname in ('booking_list_stores', 'device_record', 'record_append', 'privilege_apply',
                    'carnet_fail')
order by 1;
-- Nothing of ours is left to PUBLIC.
select count(*) as public_may_execute
from pg_proc p
where p.pronamespace = 'public'::regnamespace
  and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                  and d.objid = p.oid and d.deptype = 'e')
  and (p.proacl is null or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0));

-- A function C stops calling is revoked on the next run; tables stay out of reach.
grant select on audit_log to privtest_app;
select privilege_apply('privtest_app', 'select booking_list_stores()') is null as wall_up;
select has_function_privilege('privtest_app', 'device_record'::regproc, 'execute') as device_record,
       has_table_privilege('privtest_app', 'audit_log', 'select') as audit_log_select;

-- As that role: the entry point runs (as the owner), nothing else does.
set local role privtest_app;
select booking_list_stores() is not null as listed;
select pg_temp.try($$select record_append(1, 'note', '{}', null)$$);
select pg_temp.try($$update diagnostic_values set value = 0$$);
select pg_temp.try($$delete from repair_orders$$);
select pg_temp.try($$alter table record_entries disable trigger all$$);
set local role carnet_owner;

-- Roles that could rewrite the record get no grants, and say why.
select privilege_apply(null, '');
select privilege_apply('carnet_owner', '');
select privilege_apply('carnet', '');
select pg_temp.try($$select privilege_apply('no_such_role', '')$$);

-- An object the migration role cannot alter is named before anything changes.
reset role;
create function public.privtest_stray() returns int language sql as 'select 1';
alter function public.privtest_stray() owner to privtest_app;
set local role carnet_owner;
select pg_temp.try($$select privilege_apply('privtest_app', '')$$);
reset role;
drop function public.privtest_stray();

-- A superuser that runs the migrations is warned about.
select privilege_apply('privtest_app', '');

-- The audit log is append-only, even for the owner.
set local role carnet_owner;
select pg_temp.try($$insert into audit_log (action, object_type) values ('test', 'privileges')$$);
select pg_temp.try($$update audit_log set action = 'nothing'$$);
select pg_temp.try($$delete from audit_log$$);
select pg_temp.try($$truncate audit_log$$);
reset role;

rollback;
