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

\set lk '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
-- Changing one's own password goes through the sign-in throttle (auth_throttle), with the
-- caller's account and address. Per (account, address): the sixth failure within 15 minutes is
-- refused for as long as the oldest takes to leave the window; another address is heard.
select count(*) from (select staff_password_begin(:tech, '192.0.2.20', :'lk')
                      from generate_series(1, 5)) x;
select pg_temp.try(format('select staff_password_begin(%s, %L, %L)', :tech, '192.0.2.20', :'lk'));
select staff_password_begin(:tech, '192.0.2.21', :'lk')::jsonb ? 'hash' as other_address_heard;
-- Per account, across addresses: with 6 failures on the account, an address that failed twice
-- waits 2 s after its own last failure; once the account has many, 30 s and never more. An
-- address that failed once, or never, is not slowed.
delete from login_attempts;
insert into login_attempts (account_mac, address, ok)
select login_mac('tech@carnet.test', :'lk'), a, false
from unnest(array['192.0.2.30', '192.0.2.30', '192.0.2.31', '192.0.2.32', '192.0.2.33',
                  '192.0.2.34']) a;
select pg_temp.try(format('select staff_password_begin(%s, %L, %L)', :tech, '192.0.2.30', :'lk'));
insert into login_attempts (account_mac, address, ok)
select login_mac('tech@carnet.test', :'lk'), '198.51.100.' || g, false from generate_series(1, 100) g;
select pg_temp.try(format('select staff_password_begin(%s, %L, %L)', :tech, '192.0.2.30', :'lk'));
select pg_temp.try(format('select staff_password_begin(%s, %L, %L)', :tech, '192.0.2.31', :'lk'));
select pg_temp.try(format('select staff_password_begin(%s, %L, %L)', :tech, '192.0.2.99', :'lk'));
-- Per address, across accounts: 30 failures, whatever the accounts, close the address.
delete from login_attempts;
insert into login_attempts (account_mac, address, ok)
select login_mac('spray' || g || '@carnet.test', :'lk'), '192.0.2.40', false from generate_series(1, 30) g;
select pg_temp.try(format('select staff_password_begin(%s, %L, %L)', :tech, '192.0.2.40', :'lk'));
-- A success from an address starts its count on that account again: its failures before
-- were the owner's typos.
delete from login_attempts;
insert into login_attempts (account_mac, address, ok)
select login_mac('tech@carnet.test', :'lk'), '192.0.2.50', g = 5 from generate_series(1, 6) g;
select pg_temp.try(format('select staff_password_begin(%s, %L, %L)', :tech, '192.0.2.50', :'lk'));
insert into login_attempts (account_mac, address, ok)
select login_mac('tech@carnet.test', :'lk'), '192.0.2.50', false from generate_series(1, 3);
select pg_temp.try(format('select staff_password_begin(%s, %L, %L)', :tech, '192.0.2.50', :'lk'));
-- Successes and old failures do not count.
update login_attempts set at = now() - interval '15 minutes 1 second';
insert into login_attempts (account_mac, address, ok)
select login_mac('tech@carnet.test', :'lk'), '192.0.2.40', true from generate_series(1, 30) g;
select pg_temp.try(format('select staff_password_begin(%s, %L, %L)', :tech, '192.0.2.40', :'lk'));

rollback;
