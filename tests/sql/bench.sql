-- The bench queue and the hand-over that feeds it: a visit in service becomes a repair order
-- pre-filled from its booking or the line, waits on the bench, and one technician takes it.
begin;
\ir _helpers.sql

delete from visits;
-- A walk-in with a contact, a serial and their words (all sealed by carnetd as floor.c does).
select (floor_join_line(:paris, pg_temp.sealed('{"name": "Wim", "contact": "wim@example.test", "serial": "F2LBENCH001"}')
                               || jsonb_build_object('problem', pg_temp.pd('No sound')),
                        repeat('c', 64)) ->> 'visit_id') as wim \gset
-- (markers of the shape carnetd makes, which an owner's values must have)
update visits set name = pg_temp.pd('V2lt'), contact_recipient = pg_temp.pd('d2ltQGV4YW1wbGU')
where id = :wim;
select floor_handover_words(:specialist, :wim) ->> 'problem' like '{{pd:%' as sealed_words;
-- Not in service: refused, nothing made.
select pg_temp.try(format('select floor_handover(%s, %s, %L, %L, null, %L, %L)', :specialist, :wim,
                          '{}', 'No sound', repeat('d', 64), 'r'));
select floor_visit_call(:specialist, :wim, 'r') ->> 'status' as status;
select pg_temp.try(format('select floor_visit_call(%s, %s, %L)', :manager, :wim, 'r'));
select floor_visit_move(:specialist, :wim, 'start', 'r') ->> 'status' as status;
-- Another store's staff, a bad technician, a bad note.
select pg_temp.try(format('select floor_handover(%s, %s, %L, %L, null, %L, %L)', :lyon_manager,
                          :wim, '{}', 'No sound', repeat('d', 64), 'r'));
select pg_temp.try(format('select floor_handover(%s, %s, %L, %L, null, %L, %L)', :specialist, :wim,
                          format('{"technician_id": %s}', :specialist), 'No sound', repeat('d', 64), 'r'));
select pg_temp.try(format('select floor_handover(%s, %s, %L, %L, null, %L, %L)', :specialist, :wim,
                          '{"note": 3}', 'No sound', repeat('d', 64), 'r'));
select count(*) as repairs_before from repair_orders \gset
-- Handed over with a key: on the bench, the customer's words and device carried over.
select r ->> 'state' as state, r ->> 'problem' as problem, r -> 'device' ->> 'serial' as serial,
       r -> 'notes' -> 0 ->> 'text' as note
from floor_handover(:specialist, :wim, '{"note": "Tried another cable"}', 'No sound',
                    repeat('e', 64), repeat('d', 64), 'r') r;
select status, repair_id is not null as linked from visits where id = :wim;
select (select count(*) from repair_orders) - :repairs_before as made;
-- The same key again: the same repair; with another visit: refused.
select (floor_handover(:specialist, :wim, '{}', 'No sound', repeat('e', 64), repeat('f', 64), 'r')
        ->> 'id')::bigint = (select repair_id from visits where id = :wim) as same_repair;
select (select count(*) from repair_orders) - :repairs_before as made;
select pg_temp.try(format('select floor_handover(%s, %s, %L, %L, %L, %L, %L)', :specialist,
                          :wim, '{}', 'x', repeat('1', 64), repeat('f', 64), 'r'));
select (floor_join_line(:paris, pg_temp.sealed('{"name": "Ann"}'), repeat('g', 64)) ->> 'visit_id')
    as ann \gset
select pg_temp.try(format('select floor_handover(%s, %s, %L, %L, %L, %L, %L)', :specialist,
                          :ann, '{}', null, repeat('e', 64), repeat('f', 64), 'r'));

-- The bench: listed for the store's staff, not another store's.
select json_array_length(bench_list(:tech, :paris)) as on_bench,
       bench_list(:tech, :paris) -> 0 ->> 'problem' as problem;
select pg_temp.try(format('select bench_list(%s, %s)', :lyon_manager, :paris));
select (select repair_id from visits where id = :wim) as rid \gset
select pg_temp.try(format('select bench_take(%s, %s, %L)', :specialist, :rid, 'r'));
select pg_temp.try(format('select bench_take(%s, %s, %L)', :lyon_manager, :rid, 'r'));
select bench_take(:tech, :rid, 'r') ->> 'id' = :'rid' as taken;
select pg_temp.try(format('select bench_take(%s, %s, %L)', :manager, :rid, 'r'));
select json_array_length(bench_list(:tech, :paris)) as on_bench;
select pg_temp.try(format('select bench_take(%s, %s, %L)', :tech, 999999, 'r'));

-- Retention drops hand-over keys after two days, and only those.
select count(*) as keys_kept from handover_keys;
update handover_keys set created_at = now() - interval '3 days';
select job_retention(10, 2, 1800, 20, 5) > 0 as purged_some;
select count(*) as keys_left from handover_keys;
rollback;
