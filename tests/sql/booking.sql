-- Booking: public reads, availability, booking with and without idempotency, the manage link,
-- and the staff calls on a store's appointments and set-up.
begin;
\ir _helpers.sql

select json_array_length(booking_list_stores()) as stores;
select booking_store_detail(:paris)::jsonb ->> 'name' as name;
select pg_temp.try('select booking_store_detail(999999)');
select string_agg(s ->> 'name', ', ' order by (s ->> 'id')::bigint) as services
from json_array_elements(booking_list_services(:paris)) s;
select (select id from services where store_id = :paris and name = 'Setup') as setup,
       (select id from services where store_id = :lyon and name = 'Setup') as lyon_setup
\gset

-- Availability: validation of the query.
select pg_temp.try(format('select booking_availability(%s, null, %L, %L)', :paris,
                          current_date + 1, current_date + 2));
select pg_temp.try(format('select booking_availability(%s, %L, %L, %L)', :paris, 'x1',
                          current_date + 1, current_date + 2));
select pg_temp.try(format('select booking_availability(%s, %L, %L, %L)', :paris, :lyon_setup,
                          current_date + 1, current_date + 2));
select pg_temp.try(format('select booking_availability(%s, %L, %L, %L)', :paris, :setup,
                          '2026-02-30', current_date + 2));
select pg_temp.try(format('select booking_availability(%s, %L, %L, %L)', :paris, :setup,
                          current_date + 2, current_date + 1));
select pg_temp.try(format('select booking_availability(%s, %L, %L, %L)', :paris, :setup,
                          current_date + 1, current_date + 60));
-- A free slot of the coming week (the demo staff work Monday to Saturday).
select s ->> 'starts_at' as slot
from json_array_elements(booking_availability(:paris, :'setup', (current_date + 1)::text,
                                              (current_date + 7)::text) -> 'days') d,
     json_array_elements(d -> 'slots') s
where (s ->> 'free')::int > 0
order by (s ->> 'starts_at')::timestamptz limit 1
\gset
-- One of a later day, for the fingerprint's bookings below (the day of :slot is counted).
select s ->> 'starts_at' as slot2
from json_array_elements(booking_availability(:paris, :'setup', (current_date + 1)::text,
                                              (current_date + 9)::text) -> 'days') d,
     json_array_elements(d -> 'slots') s
where (s ->> 'free')::int > 0
  and ((s ->> 'starts_at')::timestamptz at time zone 'Europe/Paris')::date
      > (:'slot'::timestamptz at time zone 'Europe/Paris')::date
order by (s ->> 'starts_at')::timestamptz limit 1
\gset

-- Booking without an idempotency key.
select b ->> 'status' as status, b -> 'body' -> 'appointment' ->> 'status' as appointment,
       length(b -> 'body' ->> 'code') as code_length
from booking_create(:paris, pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', :'slot',
                                               'name', 'Ana', 'email', 'ana@example.test')),
                    repeat('1', 64), null, null, 'req-1') b;
select pg_temp.try(format('select booking_create(%s, %L, %L, null, null, %L)', :paris,
    pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', now() - interval '1 day',
                       'name', 'Late', 'email', 'late@example.test')), repeat('2', 64), 'r'));
select pg_temp.try(format('select booking_create(%s, %L, %L, null, null, %L)', :paris,
    pg_temp.sealed(jsonb_build_object('service_id', 999999, 'starts_at', :'slot', 'name', 'X',
                       'email', 'x@example.test')), repeat('2', 64), 'r'));
select pg_temp.try(format('select booking_create(%s, %L, %L, null, null, %L)', 999999,
    '{}', repeat('2', 64), 'r'));
-- Personal data comes sealed by carnetd: a clear name, email or phone is refused, as is a
-- sealed email without its blind index.
select pg_temp.try(format('select booking_create(%s, %L, %L, null, null, %L)', :paris,
    jsonb_build_object('service_id', :setup, 'starts_at', :'slot', 'name', 'Clear',
                       'email', pg_temp.pd('c@example.test'), 'email_bi', repeat('0', 64)),
    repeat('2', 64), 'r'));
select pg_temp.try(format('select booking_create(%s, %L, %L, null, null, %L)', :paris,
    pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', :'slot', 'name', 'C',
                                      'email', 'c@example.test')) - 'email_bi',
    repeat('2', 64), 'r'));
select pg_temp.try(format('select booking_create(%s, %L, %L, null, null, %L)', :paris,
    pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', :'slot', 'name', 'C'))
    || '{"phone": "+33600000000"}', repeat('2', 64), 'r'));
select pg_temp.try(format('select booking_create(%s, %L, %L, null, null, %L)', :paris,
    pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', :'slot', 'name', 'C')),
    repeat('2', 64), 'r'));
-- What was stored: the markers, their blind indexes and the initial, as sent.
select customer_name, customer_email, customer_phone, customer_email_bi is not null as email_bi,
       customer_phone_bi, customer_initial
from appointments where customer_name = pg_temp.pd('Ana');
-- A retry is told from another request by carnetd's fingerprint when it gives one.
select b ->> 'status' as status, b ->> 'replayed' as replayed
from booking_create(:paris, pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', :'slot2',
                                               'name', 'Fp', 'email', 'fp@example.test')),
                    repeat('7', 64), 'key-fp', 'sealed-fp', 'req-fp', null, 'fingerprint-1') b;
select b ->> 'status' as status, b ->> 'replayed' as replayed
from booking_create(:paris, pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', :'slot2',
                                               'name', 'Fp', 'email', 'other@example.test')),
                    repeat('8', 64), 'key-fp', 'sealed-fp', 'req-fp2', null, 'fingerprint-1') b;
select pg_temp.try(format('select booking_create(%s, %L, %L, %L, null, %L, null, %L)', :paris,
    pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', :'slot2',
                                      'name', 'Fp', 'email', 'fp@example.test')),
    repeat('8', 64), 'key-fp', 'r', 'fingerprint-2'));

-- With a key: the first result is stored; a retry gets it back, replayed.
select b ->> 'status' as status, b ->> 'replayed' as replayed
from booking_create(:paris, pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', :'slot',
                                               'name', 'Ben', 'email', 'ben@example.test')),
                    repeat('3', 64), 'key-1', 'sealed-1', 'req-2') b;
select b ->> 'status' as status, b ->> 'replayed' as replayed, b ->> 'sealed' as sealed
from booking_create(:paris, pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', :'slot',
                                               'name', 'Ben', 'email', 'ben@example.test')),
                    repeat('4', 64), 'key-1', 'sealed-2', 'req-3') b;
-- The same key with another body is refused.
select pg_temp.try(format('select booking_create(%s, %L, %L, %L, null, %L)', :paris,
    '{"name": "Other"}', repeat('4', 64), 'key-1', 'r'));
-- A failure is stored as its SQLSTATE and fields, returned as data the first time...
select b -> 'error' ->> 'sqlstate' as sqlstate, b -> 'error' ->> 'message' as code,
       b -> 'error' ->> 'hint' as hint
from booking_create(:paris, pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', '2020-01-06T10:00:00Z',
                                               'name', 'Cy', 'email', 'cy@example.test')),
                    repeat('5', 64), 'key-2', null, 'req-4') b;
select sqlstate, error_message, error_detail, error_hint, status, body
from booking_idempotency where key_hash = 'key-2';
-- ... and raised again on a retry.
select pg_temp.try(format('select booking_create(%s, %L, %L, %L, null, %L)', :paris,
    pg_temp.sealed(jsonb_build_object('service_id', :setup, 'starts_at', '2020-01-06T10:00:00Z',
                       'name', 'Cy', 'email', 'cy@example.test')), repeat('6', 64), 'key-2', 'r'));

-- The manage link.
select m ->> 'status' as status, m -> 'customer' ->> 'name' as name, m::jsonb ? 'staff_id' as staff_shown
from booking_manage_get(repeat('1', 64)) m;
select pg_temp.try($$select booking_manage_get(repeat('9', 64))$$);
select booking_manage_cancel(repeat('3', 64)) ->> 'status' as cancelled;
select pg_temp.try($$select booking_manage_cancel(repeat('3', 64))$$);

-- Staff: the day, and calls on an appointment of the store.
select (select id from appointments where customer_name = pg_temp.pd('Ana')) as ana \gset
select count(*) as appointments
from json_array_elements(booking_day(:manager, :paris, (:'slot'::timestamptz at time zone
                                     'Europe/Paris')::date::text, 'req-5') -> 'appointments');
select pg_temp.try(format('select booking_day(%s, %s, %L, %L)', :manager, :paris, 'tomorrow', 'r'));
select pg_temp.try(format('select booking_staff_cancel(%s, %s, %s, %L)', :lyon_manager, :lyon,
                          :ana, 'r'));
select booking_staff_cancel(:manager, :paris, :ana, 'req-6') ->> 'status' as status;
select action, object_type from audit_log where request_id = 'req-6';

-- Set-up: skills, services, closures, shifts.
select pg_temp.try(format('select booking_set_skills(%s, %s, %s, %L, %L)', :manager, :paris,
                          :lyon_manager, '{"skills": ["setup"]}', 'r'));
select booking_set_skills(:manager, :paris, :specialist, '{"skills": ["setup", "repair"]}',
                          'req-7') -> 'skills' as skills;
select pg_temp.try(format('select booking_set_skills(%s, %s, %s, %L, %L)', :manager, :paris,
                          :specialist, '{"skills": ["Not A Skill"]}', 'r'));
select booking_add_service(:manager, :paris, '{"name": "Data transfer", "duration_min": 45,
                                               "skill": "setup", "buffer_min": 5}',
                           'req-8') ->> 'name' as service;
select pg_temp.try(format('select booking_add_service(%s, %s, %L, %L)', :manager, :paris,
    '{"name": "Data transfer", "duration_min": 45, "skill": "setup", "buffer_min": 5}', 'r'));
select pg_temp.try(format('select booking_add_service(%s, %s, %L, %L)', :manager, :paris,
    '{"name": "Too long", "duration_min": 999, "skill": "setup", "buffer_min": 0}', 'r'));
select pg_temp.try(format('select booking_add_closure(%s, %s, %L, %L)', :manager, :paris,
                          '{"date": "31/12/2030"}', 'r'));
select booking_add_closure(:manager, :paris, '{"date": "2030-12-31", "reason": "inventory"}',
                           'req-9') ->> 'reason' as closure;
select pg_temp.try(format('select booking_add_closure(%s, %s, %L, %L)', :manager, :paris,
                          '{"date": "2030-12-31"}', 'r'));
select pg_temp.try(format('select booking_delete_shift(%s, %s, %s, %L)', :manager, :paris,
                          999999, 'r'));
select pg_temp.try(format('select booking_set_hours(%s, %s, %L, %L)', :manager, :paris,
    '{"hours": [{"weekday": 8, "opens": "10:00", "closes": "12:00"}]}', 'r'));

-- The booking lock (booking_lock_time): the person's key shared, then one key per half hour of
-- absolute time the booking holds: 10:00 to 11:15 touches three. A shift change takes the
-- person's key exclusively (booking_lock_staff): four exclusive locks and one shared in all.
-- (Person 999999 holds no other lock here.)
select booking_lock_time(999999, '2030-06-03 10:00+00', '2030-06-03 11:15+00');
select booking_lock_staff(999999);
select l.mode, count(*) as locks
from pg_locks l
join (select hashtextextended('carnet.booking.staff:999999', 0) as k
      union all
      select hashtextextended('carnet.booking.cell:999999:' || c, 0)
      from generate_series(extract(epoch from timestamptz '2030-06-03 00:00+00')::bigint / 1800,
                           extract(epoch from timestamptz '2030-06-04 00:00+00')::bigint / 1800) c) x
  on x.k = ((l.classid::bigint << 32) | l.objid::bigint)
where l.locktype = 'advisory' and l.pid = pg_backend_pid()
group by l.mode order by l.mode;

rollback;
