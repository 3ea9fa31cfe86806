-- Core: the error convention, roles, sign-in and sessions.
begin;
\ir _helpers.sql

-- carnet_fail raises CAnnn: code in MESSAGE, field in DETAIL, sentence in HINT.
select pg_temp.try($$select carnet_fail(404, 'not_found', 'store', 'no such store')$$);
select pg_temp.try($$select carnet_fail(409, 'conflict', null, 'taken')$$);
-- carnet_fail_extra puts the field beside the extra members, as JSON.
select pg_temp.try($$select carnet_fail_extra(409, 'slot_taken', 'starts_at', 'taken',
                                              '{"nearest": []}')$$);

-- Roles.
select carnet_role_bit('specialist') as specialist, carnet_role_bit('technician') as technician,
       carnet_role_bit('manager') as manager, carnet_role_bit('nobody') as nobody;
select carnet_staff_can(:manager, :paris, '{manager}') as manager_in_paris,
       carnet_staff_can(:manager, :lyon, '{manager}') as manager_in_lyon,
       carnet_staff_can(:specialist, :paris, '{manager}') as specialist_as_manager;
select pg_temp.try(format('select carnet_require(%s, %s, %L)', :specialist, :paris, '{manager}'));
select pg_temp.try(format('select carnet_require(%s, %s, %L)', :manager, :paris, '{manager}'));

-- carnetd's key for the accounts' tags in login_attempts (it derives one from the data key).
\set lk '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'
-- Sign-in: begin records an attempt and hands out the hash of a known account, only the
-- attempt for an unknown one.
select auth_login_begin('Manager@Carnet.test', '192.0.2.1', :'lk')::jsonb as b \gset
select (:'b'::jsonb ->> 'staff_id')::bigint = :manager as known;
select (:'b'::jsonb ->> 'attempt')::bigint as attempt \gset
select b ->> 'staff_id' is null and b ->> 'hash' is null and b ? 'attempt' as unknown
from (select auth_login_begin('nobody@carnet.test', '192.0.2.1', :'lk')::jsonb as b) x;
-- finish opens a session only with the hash begin saw, and settles that one attempt.
select auth_login_finish(:attempt, :manager, repeat('a', 64), 3600, 'not the hash', null) is null
       as wrong_hash;
select ok from login_attempts where id = :attempt;
select auth_login_finish(:attempt, :manager, repeat('a', 64), 3600,
                         (select password_hash from staff where id = :manager), null) ->> 'name' as name;
select ok from login_attempts where id = :attempt;
select s ->> 'name' as name, s -> 'stores' as stores
from auth_session(repeat('a', 64), 1800) s;
select auth_session(repeat('b', 64), 1800) is null as no_such_session;
select auth_logout(repeat('a', 64));
select auth_session(repeat('a', 64), 1800) is null as logged_out;

-- An attempt whose password was never checked is voided; a settled one stays.
select (auth_login_begin('tech@carnet.test', '192.0.2.7', :'lk')::jsonb ->> 'attempt')::bigint
       as unchecked \gset
select auth_login_void(:unchecked);
select auth_login_void(:attempt);
select (select count(*) from login_attempts where id = :unchecked) as voided_left,
       (select count(*) from login_attempts where id = :attempt) as settled_left;

-- Five failures in 15 minutes from one address throttle that address on that account, and say
-- for how long; the same account from another address is not refused.
select count(*) from (select auth_login_begin('specialist@carnet.test', '192.0.2.9', :'lk')
                      from generate_series(1, 5)) x;
select pg_temp.try(format('select auth_login_begin(%L, %L, %L)', 'specialist@carnet.test',
                          '192.0.2.9', :'lk'));
select auth_login_begin('specialist@carnet.test', '192.0.2.10', :'lk') ->> 'staff_id' is not null
       as other_address_heard;

-- The audit log has the sign-in.
select action, object_type, object_id = :manager::text as self
from audit_log where staff_id = :manager order by id desc limit 1;

rollback;
