-- The kiosk at a store's door: kiosk_begin's checks, throttle and candidates, and
-- kiosk_checkin through the floor's check-in.
begin;
\ir _helpers.sql

insert into staff (email, name, password_hash) values ('kiosk@carnet.test', 'Kiosk Staff', 'x');
insert into appointments (store_id, service_id, staff_id, starts_at, ends_at, blocked_until,
                          status, code, customer_name, customer_initial, customer_phone,
                          customer_phone_bi)
select :paris, (select id from services where store_id = :paris and skill = 'setup'),
       (select id from staff where email = 'kiosk@carnet.test'),
       t, t + interval '30 minutes', t + interval '30 minutes',
       'booked', 'KSK234', pg_temp.pd('Zoé Martin'), 'Z.', pg_temp.pd('+33612345678'),
       repeat('c', 64)
-- In the check-in window and on Paris's today, whatever the hour the test runs.
from (select case when ((now() + interval '10 minutes') at time zone 'Europe/Paris')::date
                       = (now() at time zone 'Europe/Paris')::date
                  then now() + interval '10 minutes' else now() - interval '10 minutes' end) x(t);
select id as appt from appointments where code = 'KSK234' \gset

-- What the body must hold: a code of the right shape, or what carnetd derives (a link's hash,
-- a phone's blind index); and a store that exists.
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', :paris, '10.0.0.1', '{}'));
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', :paris, '10.0.0.1', '{"code": 12}'));
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', :paris, '10.0.0.1', '{"code": "IO0"}'));
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', :paris, '10.0.0.1',
                          '{"phone_bi": "short"}'));
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', 999999, '10.0.0.1',
                          '{"code": "KSK234"}'));
select count(*) as attempts from kiosk_attempts;

-- The code finds this store's booking (names stay sealed: carnetd opens them); the same code
-- at Lyon finds nothing; the phone's blind index finds today's booking.
select json_array_length(b -> 'candidates') as found, b -> 'candidates' -> 0 ->> 'name' as name
from kiosk_begin(:paris, '10.0.0.1', '{"code": "ksk 234"}') b;
select json_array_length(b -> 'candidates') as found
from kiosk_begin(:lyon, '10.0.0.1', '{"code": "KSK234"}') b;
select json_array_length(b -> 'candidates') as found
from kiosk_begin(:paris, '10.0.0.1', json_build_object('phone_bi', repeat('c', 64))::jsonb) b;
select count(*) as attempts from kiosk_attempts;

-- Check-in: the attempt goes, the floor's visit is made; a second time, the same ticket.
select kiosk_begin(:paris, '10.0.0.2', '{"code": "KSK234"}') ->> 'attempt' as attempt \gset
select c ->> 'name' as name, c ->> 'status' as status, c ->> 'position' as position,
       c ->> 'already_checked_in' as again
from kiosk_checkin(:paris, :attempt, :appt) c;
select count(*) as attempts_of_10_0_0_2 from kiosk_attempts where address = '10.0.0.2';
select status from appointments where id = :appt;
select c ->> 'already_checked_in' as again from kiosk_checkin(:paris, 0, :appt) c;
select count(*) as visits from visits where appointment_id = :appt;
-- Another store's booking is no match.
select pg_temp.try(format('select kiosk_checkin(%s, 0, %s)', :lyon, :appt));

-- The throttle: 10 misses a minute per address and store, then 429 with retry_after; a
-- refused try is not recorded; another address, or the minute passed, goes through.
delete from kiosk_attempts;
select count(*) as misses
from generate_series(1, 10) i, kiosk_begin(:paris, '10.0.0.9' || left(i::text, 0),
                                           '{"code": "ZZZZZZ"}');
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', :paris, '10.0.0.9',
                          '{"code": "ZZZZZZ"}'));
select count(*) as attempts from kiosk_attempts;
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', :paris, '10.0.0.8',
                          '{"code": "ZZZZZZ"}'));
update kiosk_attempts set at = at - interval '61 seconds';
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', :paris, '10.0.0.9',
                          '{"code": "ZZZZZZ"}'));
-- An IPv6 client counts by its /64.
delete from kiosk_attempts;
select count(*) as misses
from generate_series(1, 10) i,
     kiosk_begin(:paris, '2001:db8::' || i::text, '{"code": "ZZZZZZ"}');
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', :paris, '2001:db8::ff',
                          '{"code": "ZZZZZZ"}'));

rollback;
