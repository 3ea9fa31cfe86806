-- Staff accounts: who may act on whom, roles per store, disable/enable, the audit log.
begin;
\ir _helpers.sql

select json_array_length(staff_list(:manager, :paris, 'req-1') -> 'staff') as staff_in_paris;
select pg_temp.try(format('select staff_list(%s, %s, %L)', :manager, 999999, 'r'));

-- Create: roles must be given in this store, an email once.
select s ->> 'name' as name, s -> 'roles' as roles
from staff_create(:manager, :paris, '{"email": "new@carnet.test", "name": "Nina New",
                                      "roles": ["specialist"]}', 'hash', 'req-2') s;
select (select id from staff where email = 'new@carnet.test') as nina \gset
select pg_temp.try(format('select staff_create(%s, %s, %L, %L, %L)', :manager, :paris,
    '{"email": "NEW@carnet.test", "name": "Again", "roles": ["specialist"]}', 'hash', 'r'));
select pg_temp.try(format('select staff_create(%s, %s, %L, %L, %L)', :manager, :paris,
    '{"email": "none@carnet.test", "name": "No roles", "roles": []}', 'hash', 'r'));
select pg_temp.try(format('select staff_create(%s, %s, %L, %L, %L)', :manager, :paris,
    '{"email": "boss@carnet.test", "name": "Boss", "roles": ["manager"], "admin": true}',
    'hash', 'r'));

-- A manager acts on staff of their store only, never on an admin.
select staff_set_roles(:manager, :paris, :nina, '["specialist", "technician"]', 'req-3')
       -> 'roles' as roles;
select pg_temp.try(format('select staff_set_roles(%s, %s, %s, %L, %L)', :manager, :paris, :nina,
                          '["wizard"]', 'r'));
select pg_temp.try(format('select staff_set_roles(%s, %s, %s, %L, %L)', :manager, :lyon, :nina,
                          '["specialist"]', 'r'));
select pg_temp.try(format('select staff_disable(%s, %s, %s, %L)', :manager, :paris,
                          :lyon_manager, 'r'));
select pg_temp.try(format('select staff_disable(%s, %s, %s, %L)', :manager, :paris, :admin, 'r'));
select pg_temp.try(format('select staff_disable(%s, %s, %s, %L)', :manager, :paris, :manager,
                          'r'));
select staff_disable(:manager, :paris, :nina, 'req-4') ->> 'disabled' as disabled;
select staff_enable(:manager, :paris, :nina, 'req-5') ->> 'disabled' as disabled;

-- The audit log: managers and admins only; a manager sees entries of their stores.
select pg_temp.try(format('select staff_audit_list(%s, null, null, 10, null)', :specialist));
select e ->> 'action' as action
from json_array_elements(staff_audit_list(:manager, 'staff', :'nina', 10, null) -> 'entries') e
order by (e ->> 'id')::bigint;

rollback;
