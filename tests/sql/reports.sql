-- Reports: the floor report per local day, the store's repair orders, and the day's schedule
-- with who serves whom.
begin;
\ir _helpers.sql

-- The floor report counts a day's visits.
select floor_join_line(:paris, pg_temp.sealed('{"name": "Ada"}'), repeat('a', 64)) is not null
       as joined;
select floor_call_next(:specialist, :paris, null, 'req-1') is not null as called;
select pg_temp.try(format('select report_floor(%s, %s, 0, %L)', :manager, :paris, 'r'));
select pg_temp.try(format('select report_floor(%s, %s, 7, %L)', :manager, 999999, 'r'));
select json_array_length(r -> 'days') as days, r -> 'totals' ->> 'walk_ins' as walk_ins
from report_floor(:manager, :paris, 7, 'req-2') r;

-- Repair orders: open ones, or those in one state.
select r ->> 'number' is not null as numbered, r ->> 'serial' as serial, r ->> 'state' as state
from json_array_elements(report_repairs(:manager, :paris, 'open', 50, 'req-3') -> 'repairs') r;
select json_array_length(report_repairs(:manager, :paris, 'collected', 50, 'req-4') -> 'repairs')
       as collected;
select pg_temp.try(format('select report_repairs(%s, %s, %L, 50, %L)', :manager, :paris,
                          'lost', 'r'));

-- The day's schedule names the staff member of each appointment.
insert into appointments (store_id, service_id, staff_id, starts_at, ends_at, blocked_until,
                          code, customer_name, customer_email)
select :paris, sv.id, :specialist, d, d + interval '30 minutes', d + interval '30 minutes',
       'TEST22', 'Bea', 'bea@example.test'
from services sv, (select ('2030-06-03 10:00'::timestamp at time zone 'Europe/Paris') d) x
where sv.store_id = :paris and sv.name = 'Setup';
select a ->> 'staff_name' as staff_name, a -> 'customer' ->> 'name' as customer
from json_array_elements(booking_day(:manager, :paris, '2030-06-03', 'req-5') -> 'appointments') a;

rollback;
