-- Observation: a repair kept overnight with a call-back promised, the night's diagnostics as its
-- timeline, the store's call-back list, and marking a call-back made.
begin;
\ir _helpers.sql

select (select id from repair_orders where store_id = :paris order by id limit 1) as rid \gset
select (now() + interval '1 day')::text as cb \gset

-- The call-back time is required, parsed with its offset, in the future and within 7 days.
select pg_temp.try(format('select observation_start(%s, %s, %L, %L)', :tech, :rid, '{}', 'r'));
select pg_temp.try(format('select observation_start(%s, %s, %L, %L)', :tech, :rid,
                          '{"callback_at": "2001-01-01T10:00:00Z"}', 'r'));
select pg_temp.try(format('select observation_start(%s, %s, %L, %L)', :tech, :rid,
                          '{"callback_at": "tomorrow"}', 'r'));
select pg_temp.try(format('select observation_start(%s, %s, %L, %L)', :tech, :rid,
                          jsonb_build_object('callback_at', to_char(now() + interval '8 days',
                                             'YYYY-MM-DD"T"HH24:MI:SS"Z"')), 'r'));
-- Repair roles of the repair's store only.
select pg_temp.try(format('select observation_start(%s, %s, %L, %L)', :specialist, :rid,
                          jsonb_build_object('callback_at', :'cb'), 'r'));
select pg_temp.try(format('select observation_start(%s, %s, %L, %L)', :lyon_manager, :rid,
                          jsonb_build_object('callback_at', :'cb'), 'r'));
select count(*) as observations from repair_observations;

-- Started: the repair is kept overnight, the customer gets one message in the store's time zone.
select o ->> 'under_observation' as observing, o ->> 'callback_pending' as pending,
       o -> 'observations' -> 0 -> 'callback' ->> 'state' as callback
from observation_start(:tech, :rid, jsonb_build_object('callback_at', :'cb', 'note', 'reboots'),
                       'r') o;
select kept_overnight from repair_orders where id = :rid;
select count(*) as messages, min(locale) as locale from outbox
where kind = 'repair_callback' and ref_id = :rid;
select pg_temp.try(format('select observation_start(%s, %s, %L, %L)', :tech, :rid,
                          jsonb_build_object('callback_at', :'cb'), 'r'));

-- A diagnostic logged now belongs to the night.
select diag_store(:tech, (select d from devices d where serial = 'F2LDEMO0PH13'), :paris, 'manual',
                  null, null, 'night', '[{"test": "touch", "passed": false}]', 'r') ->> 'failed'
       as failed;
select s ->> 'source' as source, s ->> 'failed' as failed
from json_array_elements(observation_get(:specialist, :rid, 'r') -> 'observations' -> 0 -> 'sessions') s;
select pg_temp.try(format('select observation_get(%s, %s, %L)', :lyon_manager, :rid, 'r'));
select pg_temp.try(format('select observation_get(%s, %s, %L)', :tech, 999999, 'r'));

-- The store's call-back list: who, which repair, the night's results; not for another store.
select c ->> 'number' like 'R-PARIS-OPERA-%' as number, c ->> 'overdue' as overdue,
       c -> 'results' ->> 'sessions' as sessions, c -> 'results' -> 'failed_tests' as failed_tests,
       c -> 'customer' ->> 'name' is not null as has_customer
from json_array_elements(observation_callbacks(:specialist, :paris, 'r') -> 'callbacks') c;
select pg_temp.try(format('select observation_callbacks(%s, %s, %L)', :lyon_manager, :paris, 'r'));
update repair_observations set callback_at = now() - interval '1 minute' where repair_id = :rid;
select c ->> 'overdue' as overdue
from json_array_elements(observation_callbacks(:tech, :paris, 'r') -> 'callbacks') c;

-- Marking it made.
select pg_temp.try(format('select observation_callback_done(%s, %s, %L, %L)', :tech, :rid,
                          '{"outcome": "maybe"}', 'r'));
select observation_callback_done(:specialist, :rid, '{"outcome": "no_answer"}', 'r')
       -> 'observations' -> 0 -> 'callback' ->> 'outcome' as outcome;
select pg_temp.try(format('select observation_callback_done(%s, %s, %L, %L)', :tech, :rid,
                          '{"outcome": "reached"}', 'r'));
select json_array_length(observation_callbacks(:tech, :paris, 'r') -> 'callbacks') as left_to_call;
select type from events where type = 'callback_done';

-- Ended by hand, or by a state move.
select observation_end(:tech, :rid, '{}', 'r') -> 'observations' -> 0 ->> 'end_reason' as reason;
select pg_temp.try(format('select observation_end(%s, %s, %L, %L)', :tech, :rid, '{}', 'r'));

rollback;
