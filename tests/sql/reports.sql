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

-- The dashboard's ranges: parsed and checked once (report_range), the period before of the
-- same length; every percentage null beside n = 0.
select * from report_range('Europe/Paris', '2026-03-01', '2026-03-31', 7);
select pg_temp.try(format('select report_range(%L, %L, %L, 7)', 'UTC', '2026-02-30', null));
select pg_temp.try(format('select report_range(%L, %L, %L, 7)', 'UTC', null, '20260101'));
select pg_temp.try(format('select report_range(%L, %L, %L, 7)', 'UTC', '2026-03-02', '2026-03-01'));
select pg_temp.try(format('select report_range(%L, %L, %L, 7)', 'UTC', '2025-01-01', '2026-01-02'));
select f ->> 'figure' as figure, f -> 'value' as value, f -> 'n' as n
from json_array_elements(report_repairs_period(:manager, :paris, '2020-01-01', '2020-01-07', 'r')
                         -> 'figures') f;
select report_staff(:manager, :paris, '2020-01-01', '2020-01-07', 'r') -> 'previous' as previous;
select survey_report_period(:manager, :paris, '2020-01-01', '2020-01-07', 'r') -> 'totals'
       as totals;
select pg_temp.try(format('select report_chain(%s, null, null, %L)', :manager, 'r'));
select json_array_length(report_chain(:admin, '2020-01-01', '2020-01-07', 'r') -> 'stores') > 1
       as stores_and_total;
-- A store closed on 2020-01-05 (its local date) is in a chain report that covers that day, not
-- in one from the day after.
update stores set closed_at = '2020-01-05 12:00'::timestamp at time zone timezone where id = :lyon;
select :lyon = any(report_chain_stores('2020-01-05')) as closed_that_day,
       :lyon = any(report_chain_stores('2020-01-06')) as closed_before,
       :paris = any(report_chain_stores('2020-01-06')) as open_store;

-- CSV: one function for every report, formula cells neutralised.
select report_csv('{"report": "x", "store_code": "s/1", "from": "2026-01-01", "to": "2026-01-02",
                    "rows": [{"a": "=1+1", "b": 2, "c": {"d": "x,y"}}, {"a": null, "b": -1,
                    "c": {"d": "say \"hi\""}}]}', null, 'rows');
select pg_temp.try($q$select report_csv('{"rows": []}', 'nope', 'rows')$q$);

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
