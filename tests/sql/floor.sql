-- The store floor: the walk-in line, the specialists' queue, call next, visit moves, the board,
-- check-in errors and the floor settings.
begin;
\ir _helpers.sql

-- Joining the line from a phone.
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', :paris, '{"name": " "}',
                          repeat('a', 64)));
-- Name and contact come sealed by carnetd, the contact with its blind index.
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', :paris, '{"name": "Zoé"}',
                          repeat('a', 64)));
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', :paris,
                          pg_temp.sealed('{"name": "Zoé"}') || '{"contact": "table 4"}',
                          repeat('a', 64)));
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', :paris,
                          pg_temp.sealed('{"name": "Zoé", "contact": "table 4"}') - 'contact_bi',
                          repeat('a', 64)));
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', :paris,
                          pg_temp.sealed('{"name": "Zoé", "contact": "a@b.fr"}')
                          || '{"contact_channel": "fax"}', repeat('a', 64)));
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', :paris,
                          pg_temp.sealed('{"name": "Zoé", "party": 11}'), repeat('a', 64)));
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', 999999,
                          pg_temp.sealed('{"name": "Zoé"}'), repeat('a', 64)));
select p ->> 'status' as status, p ->> 'position' as position, p ->> 'ahead' as ahead
from floor_join_line(:paris, pg_temp.sealed('{"name": "Zoé", "contact": "zoe@example.test"}'),
                     repeat('a', 64)) p;
select p ->> 'position' as position, p ->> 'ahead' as ahead
from floor_join_line(:paris, pg_temp.sealed('{"name": "Yann", "party": 2}'), repeat('b', 64)) p;
-- Stored as sent: the markers, the contact's blind index, channel and recipient, the initial.
select name, initial, contact, contact_bi is not null as contact_bi, contact_channel,
       contact_recipient
from visits where store_id = :paris order by id;
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
select (select id from visits where name = pg_temp.pd('Zoé')) as zoe \gset
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

-- Standby: the offer message carries a private link to the standby page, minted for the offer;
-- it opens the same place as the link given when joining.
select id as sb_service from services where store_id = :paris order by id limit 1 \gset
-- Five days ahead, or the next day the store opens (the seed's stores close on Sundays).
select d::date as sb_day from generate_series(floor_today(:paris) + 5, floor_today(:paris) + 7,
                                             interval '1 day') d
where extract(isodow from d) <> 7 order by d limit 1 \gset
insert into standby (store_id, service_id, day, name, email, token_hash, created_at)
values (:paris, :sb_service, :'sb_day', 'Ada', 'ada@example.test', repeat('1', 64), now() - interval '3 s'),
       (:paris, :sb_service, :'sb_day', 'Ben', 'ben@example.test', repeat('2', 64), now() - interval '2 s'),
       (:paris, :sb_service, :'sb_day', 'Cleo', 'cleo@example.test', repeat('3', 64), now() - interval '1 s');
-- A slot is offered as it is booked (booking_claim): a real one, on someone's shift.
insert into standby_slots (store_id, service_id, staff_id, starts_at, ends_at, blocked_until)
select :paris, :sb_service, :tech, g.starts_at, g.ends_at, g.ends_at
from booking_slots(:paris, :sb_service, :'sb_day', :'sb_day', null) g
order by g.starts_at limit 1;
-- The offer's link comes from carnetd's stock (link_stock: a hash and the token sealed under
-- the data key, opaque to SQL). Stock one whose token this test knows, marker and all.
\set ada_token 'ada-offer-token-known-to-this-test-only-0000'
delete from link_stock;
insert into link_stock (token_hash, sealed)
values (message_token_hash(:'ada_token'), '{{sealed:0123456789abcdef:ada-sealed}}');
insert into link_stock (token_hash, sealed)  -- for the offers further down
select message_token_hash('filler-' || i), '{{sealed:0123456789abcdef:filler}}'
from generate_series(1, 5) i;
select job_expire_standby_offers(60) as offers;
select position('{{public_url}}/standby/#{{sealed:0123456789abcdef:ada-sealed}}' in body) > 0
           as link_sealed_in_body,
       position(:'ada_token' in body) = 0 and position(:'ada_token' in data::text) = 0
           as token_nowhere_in_clear,
       (select count(*) from link_stock) as stock_left
from outbox where kind = 'standby_offer' and ref_type = 'standby'
  and ref_id = (select id from standby where name = 'Ada');
select (select offer_token_hash from standby where name = 'Ada')
           = message_token_hash(:'ada_token') as stored_as_its_hash,
       (select count(*) from standby where token_hash = :'ada_token'
                                        or offer_token_hash = :'ada_token') as stored_in_clear;
select s ->> 'status' as status, s -> 'offer' ->> 'held' as held,
       s -> 'offer' ->> 'expires_at' is not null as has_expiry
from floor_standby_status(message_token_hash(:'ada_token')) s;
select floor_standby_status(repeat('1', 64)) ->> 'status' as by_join_link;

-- Staff cancel the held slot from the day list: it is no longer Ada's offer. Her claim is
-- refused with offer_gone, writes nothing and queues no message.
select booking_staff_cancel(:specialist, :paris, (select offered_appointment_id from standby
                                                  where name = 'Ada'), 'req-sb1') ->> 'status'
       as staff_cancelled;
select count(*) as outbox_before from outbox \gset
select pg_temp.try(format('select floor_standby_claim(%L, %L, %L)',
                          message_token_hash(:'ada_token'), repeat('4', 64), 'tok'));
select count(*) - :outbox_before as queued_by_refusal,
       (select count(*) from appointment_tokens where token_hash = repeat('4', 64)) as links
from outbox;
select s ->> 'status' as status, s -> 'offer' ->> 'held' as held
from floor_standby_status(repeat('1', 64)) s;
-- The freed slot passes to Ben. Staff move his held appointment: his claim is refused too.
select job_expire_standby_offers(60) as offers;
select floor_standby_status(repeat('2', 64)) ->> 'status' as ben;
update appointments set starts_at = starts_at + interval '1 hour',
                        ends_at = ends_at + interval '1 hour',
                        blocked_until = blocked_until + interval '1 hour'
where id = (select offered_appointment_id from standby where name = 'Ben');
select pg_temp.try(format('select floor_standby_claim(%L, %L, %L)', repeat('2', 64),
                          repeat('5', 64), 'tok'));
select floor_standby_status(repeat('2', 64)) -> 'offer' ->> 'held' as ben_held;
-- The slot his move freed goes to Cleo, whose offer is still held: her claim books it.
select job_expire_standby_offers(60) as offers;
select c -> 'standby' ->> 'status' as cleo, c -> 'appointment' ->> 'status' as appointment
from floor_standby_claim(repeat('3', 64), repeat('6', 64), 'tok') c;
select kind, count(*) from outbox
where ref_type = 'appointment'
  and ref_id = (select offered_appointment_id from standby where name = 'Cleo')
group by kind order by kind;

rollback;

-- Issue 13: the serving card, call a given person, transfer, no-show after max_skips.
begin;
\ir _helpers.sql
delete from visits;
select (floor_join_line(:paris, pg_temp.sealed('{"name": "Carl", "serial": "F2LCARD0001"}')
                               || jsonb_build_object('problem', pg_temp.pd('Screen')),
                        repeat('a', 64)) ->> 'visit_id') as carl \gset
select c ->> 'problem' as problem, c -> 'device' ->> 'serial' as serial,
       c -> 'history' -> 'visits' ->> 'count' as earlier_visits, c ->> 'record_link' as link
from floor_visit_card(:specialist, :carl, 'r') c;
select pg_temp.try(format('select floor_visit_card(%s, %s, %L)', :lyon_manager, :carl, 'r'));
select pg_temp.try(format('select floor_visit_card(%s, %s, %L)', :specialist, 999999, 'r'));
select pg_temp.try(format('select floor_visit_transfer(%s, %s, %L, %L)', :specialist, :carl,
                          format('{"staff_id": %s}', :manager), 'r'));
select floor_visit_call(:specialist, :carl, 'r') ->> 'specialist_id' = :'specialist' as mine;
select pg_temp.try(format('select floor_visit_call(%s, %s, %L)', :manager, :carl, 'r'));
select pg_temp.try(format('select floor_visit_transfer(%s, %s, %L, %L)', :specialist, :carl,
                          format('{"staff_id": %s}', :tech), 'r'));
select pg_temp.try(format('select floor_visit_transfer(%s, %s, %L, %L)', :specialist, :carl,
                          '{"staff_id": "x"}', 'r'));
select floor_visit_transfer(:specialist, :carl, format('{"staff_id": %s}', :manager)::jsonb, 'r')
    ->> 'specialist_id' = :'manager' as transferred;
select floor_settings_put(:manager, :paris, '{"max_skips": 1}', 'r') ->> 'max_skips' as max_skips;
select pg_temp.try(format('select floor_settings_put(%s, %s, %L, %L)', :manager, :paris,
                          '{"max_skips": 0}', 'r'));
select v ->> 'status' as status, v ->> 'left_reason' as reason
from floor_visit_move(:manager, :carl, 'skip', 'r') v;
rollback;

-- Issue 17: one order decides who is next and why (floor_order); the queue and call next agree;
-- a call is recorded with its reason; out of turn needs a sealed reason and is an override.
begin;
\ir _helpers.sql
delete from visits;
select (floor_join_line(:paris, pg_temp.sealed('{"name": "Wes"}'), repeat('e', 64))
        ->> 'visit_id') as wes \gset
select (floor_join_line(:paris, pg_temp.sealed('{"name": "Xia"}'), repeat('f', 64))
        ->> 'visit_id') as xia \gset
insert into visits (store_id, kind, day, ticket, name, due_at, queued_at)
values (:paris, 'booked', floor_today(:paris), 990, pg_temp.pd('Due'), now() - interval '5 minutes',
        now()) returning id as due \gset
select o.pos, o.visit_id = :due as is_due, o.reason ->> 'code' as code,
       o.reason ->> 'part' as part, o.reason ->> 'rule' as rule
from floor_order(:paris) o order by o.pos;
-- The queue says the same, in the same order.
select (select array_agg((w ->> 'visit_id')::bigint order by (w ->> 'position')::int)
        from json_array_elements(q -> 'waiting') w)
       = array[:due, :wes, :xia]::bigint[] as queue_in_order, q ->> 'rule' as rule
from floor_queue(:specialist, :paris) q;
-- Out of turn without a reason: refused, nothing recorded; with a clear one: refused too.
select regexp_replace(pg_temp.try(format('select floor_visit_call(%s, %s, %L)', :specialist,
                                          :xia, 'r')),
                      '"next_visit_id": [0-9]+', '"next_visit_id": <due>') as try;
select pg_temp.try(format('select floor_visit_call(%s, %s, %L, null, %L)', :specialist, :xia, 'r',
                          '{"reason": "clear text"}'));
select count(*) as calls from visit_calls;
select c -> 'call' ->> 'override' as override, c -> 'call' ->> 'position' as pos,
       (c -> 'call' ->> 'passed_visit_id')::bigint = :due as passed_due
from floor_visit_call(:specialist, :xia, 'r', null,
                      jsonb_build_object('reason', pg_temp.pd('VXJnZW50'))) c;
-- Call next takes the due booking, in turn.
select c ->> 'id' = :'due' as took_due, c -> 'call' ->> 'override' as override,
       c -> 'call' -> 'reason' ->> 'code' as code
from floor_call_next(:specialist, :paris, null, 'r') c;
select override, position, reason ->> 'code' as code, override_reason like '{{pd:%' as sealed
from visit_calls order by id;
rollback;
