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

-- PIN and shared tablets. Setting a PIN: a wrong password changes nothing; a right one stores
-- the hash carnetd made.
delete from login_attempts;
select staff_pin_finish(:tech, false, null, null, '192.0.2.60', 'r', :'lk');
select pin_hash is null as no_pin from staff where id = :tech;
select pg_temp.try(format('select staff_pin_finish(%s, true, %L, %L, %L, %L, %L)', :tech,
                          'not the hash', 'pinhash', '192.0.2.60', 'r', :'lk'));
select staff_pin_finish(:tech, true, (select password_hash from staff where id = :tech),
                        'pinhash', '192.0.2.60', 'r', :'lk');
select pin_hash from staff where id = :tech;
-- A tablet with two sessions; only people with a PIN are listed.
insert into sessions (token_hash, staff_id, expires_at, tablet_hash)
values (repeat('1', 64), :tech, now() + interval '1 hour', repeat('f', 64)),
       (repeat('2', 64), :specialist, now() + interval '1 hour', repeat('f', 64));
select json_agg(x ->> 'name') as listed
from json_array_elements(staff_tablet_list(repeat('f', 64)) -> 'staff') x;
select staff_tablet_list(repeat('e', 64));
-- An idle session of someone with a PIN is locked; without a PIN it ends.
update sessions set last_seen_at = now() - interval '1 hour' where tablet_hash = repeat('f', 64);
select auth_session(repeat('1', 64), 1800)::jsonb - 'staff_id' as tech_idle;
select auth_session(repeat('2', 64), 1800) is null as specialist_idle_ended;
select pg_temp.try(format('select staff_session_lock(%s, %L, %L)', :specialist, repeat('2', 64), 'r'));
-- Unlocking: the session by tablet and staff; the wrong PIN counts, the fifth ends it.
select b - 'attempt' as begin
from (select staff_unlock_begin(null, repeat('f', 64), :tech, '192.0.2.61', :'lk')::jsonb as b) x;
select pg_temp.try(format('select staff_unlock_begin(%L, %L, %s, %L, %L)', null, repeat('f', 64),
                          :specialist, '192.0.2.61', :'lk'));
select pg_temp.try(format('select staff_unlock_begin(%L, %L, %s, %L, %L)', null, repeat('e', 64),
                          :tech, '192.0.2.61', :'lk'));
select staff_unlock_finish(0, repeat('1', 64), false, 'pinhash', null, 'r') as wrong;
select pin_failures, locked_at is not null as locked from sessions where token_hash = repeat('1', 64);
select staff_unlock_finish(0, repeat('1', 64), true, 'pinhash', repeat('3', 64), 'r')::jsonb
       -> 'staff' ->> 'name' as unlocked;
select pin_failures, locked_at is null as open from sessions where token_hash = repeat('3', 64);
select staff_unlock_finish(0, repeat('3', 64), false, 'pinhash', null, 'r')
from generate_series(1, 5);
select count(*) as sessions_left from sessions where staff_id = :tech and tablet_hash = repeat('f', 64);
-- Throttled like sign-in: five wrong PINs of an account from one address.
insert into sessions (token_hash, staff_id, expires_at)
values (repeat('4', 64), :tech, now() + interval '1 hour');
insert into login_attempts (account_mac, address, ok)
select login_mac('pin:tech@carnet.test', :'lk'), '192.0.2.62', false from generate_series(1, 5);
select pg_temp.try(format('select staff_unlock_begin(%L, %L, %L, %L, %L)', repeat('4', 64), null,
                          null, '192.0.2.62', :'lk'));
-- Past its absolute expiry a session cannot be unlocked.
update sessions set expires_at = now() - interval '1 second' where token_hash = repeat('4', 64);
select pg_temp.try(format('select staff_unlock_begin(%L, %L, %L, %L, %L)', repeat('4', 64), null,
                          null, '192.0.2.63', :'lk'));

rollback;
