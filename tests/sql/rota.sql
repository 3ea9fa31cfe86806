-- The rota: a weekly pattern in local wall-clock time across the DST change of 28 March 2027,
-- its exceptions (a deleted occurrence stays deleted, a moved one stays moved) under the daily
-- job, copying a week, the week grid, and closures edited or removed.
begin;
\ir _helpers.sql

-- Bad bodies: end before start, staff of another store, a week that is not a Monday.
select pg_temp.try(format('select rota_add_pattern(%s, %s, %L, %L)', :manager, :paris,
    json_build_object('staff_id', :tech, 'starts', '17:00', 'ends', '09:00', 'from', '2027-03-22'), 'r1'));
select pg_temp.try(format('select rota_add_pattern(%s, %s, %L, %L)', :manager, :paris,
    json_build_object('staff_id', :lyon_manager, 'starts', '09:00', 'ends', '17:00', 'from', '2027-03-22'), 'r1'));
select pg_temp.try(format('select rota_copy_week(%s, %s, %L, %L)', :manager, :paris,
    '{"from": "2027-03-23", "to": "2027-03-29"}', 'r1'));
select pg_temp.try(format('select rota_week(%s, %s, %L)', :manager, :paris, '2027-03-24'));
select count(*) as patterns from shift_patterns;

-- 09:00-17:00 every Monday from 22 March: 08:00Z before the change, 07:00Z after.
select p ->> 'weekday' as weekday, p ->> 'created' as created, p ->> 'skipped' as skipped
from rota_add_pattern(:manager, :paris, json_build_object('staff_id', :tech, 'starts', '09:00',
     'ends', '17:00', 'from', '2027-03-22')::jsonb, 'r2') p;
select id as pattern from shift_patterns \gset
select pattern_day, starts_at at time zone 'UTC' as starts_utc, ends_at at time zone 'UTC' as ends_utc
from shifts where pattern_id = :pattern order by starts_at limit 3;

-- Delete the first occurrence, move the second, lose the third: the job brings back the third.
select id as first from shifts where pattern_id = :pattern and pattern_day = '2027-03-22' \gset
select id as second from shifts where pattern_id = :pattern and pattern_day = '2027-03-29' \gset
select booking_delete_shift(:manager, :paris, :first, 'r3') ->> 'deleted' as deleted;
select s ->> 'exception' as exception from rota_update_shift(:manager, :paris, :second,
    '{"starts_at": "2027-03-29T12:00:00+02:00", "ends_at": "2027-03-29T18:00:00+02:00"}', 'r4') s;
delete from shifts where pattern_id = :pattern and pattern_day = '2027-04-05';
select job_rota_extend() as added;
select pattern_day, starts_at at time zone 'Europe/Paris' as local_start, exception
from shifts where pattern_id = :pattern order by starts_at limit 3;

-- The grid of the week after the change shows the moved occurrence in local time.
select s ->> 'start' as start, s ->> 'end' as "end", s ->> 'exception' as exception
from json_array_elements(rota_week(:manager, :paris, '2027-03-29') -> 'staff') row,
     json_array_elements(row -> 'shifts') s
where (row ->> 'id')::bigint = :tech;

-- Closures: another store's is not found; a day already closed is taken.
insert into store_closures (store_id, day, reason) values (:paris, '2027-04-01', 'stock'),
    (:paris, '2027-04-02', ''), (:lyon, '2027-04-01', '');
select id as c1 from store_closures where store_id = :paris and day = '2027-04-01' \gset
select id as lc from store_closures where store_id = :lyon \gset
select pg_temp.try(format('select rota_update_closure(%s, %s, %s, %L, %L)', :manager, :paris, :lc, '{"reason": "x"}', 'r5'));
select pg_temp.try(format('select rota_update_closure(%s, %s, %s, %L, %L)', :manager, :paris, :c1, '{"date": "2027-04-02"}', 'r5'));
select c ->> 'date' as day, c ->> 'reason' as reason
from rota_update_closure(:manager, :paris, :c1, '{"date": "2027-04-03", "reason": "inventory"}', 'r6') c;
select rota_delete_closure(:manager, :paris, :c1, 'r7') ->> 'deleted' as deleted;
select pg_temp.try(format('select rota_delete_closure(%s, %s, %s, %L)', :manager, :paris, :c1, 'r8'));
select action from audit_log where request_id like 'r_' order by id;
rollback;
