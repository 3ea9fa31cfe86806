-- The store floor: the walk-in line, the specialists' queue, call next, visit moves, the board,
-- check-in errors and the floor settings.
begin;
\ir _helpers.sql

-- Joining the line from a phone.
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', :paris, '{"name": " "}',
                          repeat('a', 64)));
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', :paris,
                          '{"name": "Zoé", "party": 11}', repeat('a', 64)));
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', 999999, '{"name": "Zoé"}',
                          repeat('a', 64)));
select p ->> 'status' as status, p ->> 'position' as position, p ->> 'ahead' as ahead
from floor_join_line(:paris, '{"name": "Zoé", "contact": "zoe@example.test"}', repeat('a', 64)) p;
select p ->> 'position' as position, p ->> 'ahead' as ahead
from floor_join_line(:paris, '{"name": "Yann", "party": 2}', repeat('b', 64)) p;
select floor_line_status(repeat('b', 64)) ->> 'position' as yann_position;
select pg_temp.try($$select floor_line_status(repeat('f', 64))$$);

-- The specialists' queue shows staff the names, the board on the wall only initials.
select string_agg(w ->> 'name', ', ' order by (w ->> 'position')::int) as waiting
from json_array_elements(floor_queue(:specialist, :paris) -> 'waiting') w;
select string_agg(w ->> 'initial', ', ' order by (w ->> 'position')::int) as board
from json_array_elements(floor_board(:paris) -> 'waiting') w;

-- Call next: the first in line, once.
select v ->> 'name' as called, v ->> 'status' as status
from floor_call_next(:specialist, :paris, null, 'req-1') v;
select (select id from visits where name = 'Zoé') as zoe \gset
select pg_temp.try(format('select floor_visit_move(%s, %s, %L, %L)', :specialist, :zoe,
                          'done', 'r'));
select pg_temp.try(format('select floor_visit_move(%s, %s, %L, %L)', :specialist, :zoe,
                          'dance', 'r'));
select pg_temp.try(format('select floor_visit_move(%s, %s, %L, %L)', :lyon_manager, :zoe,
                          'start', 'r'));
select floor_visit_move(:specialist, :zoe, 'start', 'req-2') ->> 'status' as status;
select floor_visit_move(:specialist, :zoe, 'done', 'req-3') ->> 'status' as status;
-- Yann leaves; nobody is left to call.
select floor_line_leave(repeat('b', 64)) ->> 'status' as status;
select pg_temp.try(format('select floor_call_next(%s, %s, null, %L)', :specialist, :paris, 'r'));
-- Every change was published for the live boards.
select type, count(*) from events where store_id = :paris group by type order by type;

-- Check-in by code: the errors.
select pg_temp.try(format('select floor_checkin(%s, %s, %L, %L, %L)', :specialist, :paris,
                          '{"code": "12"}', repeat('c', 64), 'r'));
select pg_temp.try(format('select floor_checkin(%s, %s, %L, %L, %L)', :specialist, :paris,
                          '{"code": "ZZZZZZ"}', repeat('c', 64), 'r'));
select pg_temp.try(format('select floor_checkin(%s, %s, %L, %L, %L)', :specialist, :paris,
                          '{}', repeat('c', 64), 'r'));
select pg_temp.try(format('select floor_checkin_search(%s, %s, %L, %L)', :specialist, :paris,
                          'Z', 'r'));

-- Settings: known keys within bounds.
select floor_settings_put(:manager, :paris, '{"line_max": 50}', 'req-4') ->> 'line_max'
       as line_max;
select floor_settings_get(:paris) ->> 'line_max' as line_max;
select pg_temp.try(format('select floor_settings_put(%s, %s, %L, %L)', :manager, :paris,
                          '{"line_max": 0}', 'r'));
select pg_temp.try(format('select floor_settings_put(%s, %s, %L, %L)', :manager, :paris,
                          '{"colour": 1}', 'r'));

rollback;
