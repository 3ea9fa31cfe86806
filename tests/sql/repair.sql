-- Repairs: the order's life cycle (transitions written once, in repair_transitions), estimates
-- approved by link, parts, notes, promises, and the customer's status link.
begin;
\ir _helpers.sql

-- Opening: intake checklist required.
select pg_temp.try(format('select repair_open(%s, %s, %L, %L, %L)', :tech, :paris,
    '{"serial": "F2LDEMO0PH13", "problem": "Battery drains"}', repeat('c', 64), 'r'));
select pg_temp.try(format('select repair_open(%s, %s, %L, %L, %L)', :tech, :paris,
    '{"serial": "F2LDEMO0PH13", "problem": "",
      "intake": {"checklist": [{"item": "screen", "ok": true}]}}', repeat('c', 64), 'r'));
select r ->> 'state' as state, r -> 'device' ->> 'serial' as serial, r -> 'allowed_moves' as moves
from repair_open(:tech, :paris, '{"serial": "F2LDEMO0PH13", "problem": "Battery drains",
                                  "intake": {"checklist": [{"item": "screen", "ok": true}]}}',
                 repeat('c', 64), 'req-1') r;
select (select max(id) from repair_orders) as rid \gset

-- Only the moves repair_transitions allows.
select pg_temp.try(format('select repair_transition(%s, %s, %L, %L)', :tech, :rid,
                          '{"to": "ready"}', 'r'));
select pg_temp.try(format('select repair_transition(%s, %s, %L, %L)', :tech, :rid,
                          '{"to": "flying"}', 'r'));
select repair_transition(:tech, :rid, '{"to": "diagnosing"}', 'req-2') ->> 'state' as state;
select pg_temp.try(format('select repair_transition(%s, %s, %L, %L)', :tech, :rid,
                          '{"to": "awaiting_approval"}', 'r'));
select repair_estimate(:tech, :rid, '{"diagnosis": "Worn battery", "lines": [{"kind": "part",
                                      "description": "Battery", "quantity": 1, "unit_price": 8900,
                                      "vat_rate": 0}]}',
                       repeat('e', 64), 'req-3') -> 'estimate' ->> 'state' as estimate;
select repair_transition(:tech, :rid, '{"to": "awaiting_approval"}', 'req-4') ->> 'state' as state;

-- The customer decides by link; a link is for one purpose.
select v -> 'estimate' ->> 'amount_cents' as amount from repair_estimate_view(repeat('e', 64)) v;
select pg_temp.try($$select repair_estimate_view(repeat('c', 64))$$);
select repair_estimate_decide(repeat('e', 64), true, '{}') -> 'estimate' ->> 'state' as decided;
select pg_temp.try($$select repair_estimate_decide(repeat('e', 64), false, '{"reason": "x"}')$$);

select repair_transition(:tech, :rid, '{"to": "repairing"}', 'req-5') ->> 'state' as state;
select json_array_length(repair_part_add(:tech, :rid, '{"part_number": "661-1", "serial": "BAT0TEST01",
                                         "description": "Battery"}', 'req-6') -> 'parts') as parts;
select pg_temp.try(format('select repair_note_add(%s, %s, %L, %L)', :tech, :rid, '{}', 'r'));
select pg_temp.try(format('select repair_promise(%s, %s, %L, %L)', :tech, :rid,
                          '{"promised_at": "2001-01-01T10:00:00Z"}', 'r'));

-- The status link shows the customer's view: the serial's last four characters only.
select s ->> 'state' as state, s -> 'device' ->> 'serial_end' as serial_end,
       s::jsonb ? 'intake' as intake_shown
from repair_status(repeat('c', 64)) s;
select pg_temp.try($$select repair_status(repeat('0', 64))$$);

-- The repair keeps the customer of its intake: a later owner change does not redirect it.
select recipient as intake_contact from repair_contact((select r from repair_orders r where id = :rid));
select device_owner_add(:admin, 'F2LDEMO0PH13',
    jsonb_build_object('store_id', :paris, 'name', 'Next', 'email', 'next@example.test'), 'r')
    -> 'owner' ->> 'email' as new_owner;
select recipient as still from repair_contact((select r from repair_orders r where id = :rid));

-- Staff of another store cannot see it; an unknown id is not found.
select pg_temp.try(format('select repair_get(%s, %s, %L)', :lyon_manager, :rid, 'r'));
select pg_temp.try(format('select repair_get(%s, %s, %L)', :tech, 999999, 'r'));

-- The moves allowed now: the table less what the approval state refuses (025).
select r -> 'allowed_transitions' as now_allowed, r -> 'allowed_moves' as table_allows
from repair_get(:tech, :rid, 'r') r;
select repair_state_label('awaiting_approval', 'fr') as fr, repair_state_label('ready', 'en') as en;

-- Which moves send a message: managers only, checked values, members not given keep theirs.
select repair_settings_get(:manager, :paris, 'r') ->> 'notify' as default_notify;
select pg_temp.try(format('select repair_settings_get(%s, %s, %L)', :tech, :paris, 'r'));
select pg_temp.try(format('select repair_settings_put(%s, %s, %L, %L)', :manager, :paris,
                          '{"notify": ["flying"]}', 'r'));
select pg_temp.try(format('select repair_settings_put(%s, %s, %L, %L)', :manager, :paris,
                          '{"lang": "de"}', 'r'));
select pg_temp.try(format('select repair_settings_put(%s, %s, %L, %L)', :lyon_manager, :paris,
                          '{"lang": "fr"}', 'r'));
select repair_settings_put(:manager, :paris, '{"notify": ["ready", "diagnosing", "ready"]}', 'r')
    ->> 'notify' as chosen;
select repair_settings_put(:manager, :paris, '{"lang": "fr"}', 'r') ->> 'notify' as kept;

-- A labour note with an Idempotency-Key (repair_note_add_keyed): replayed, never doubled;
-- another request under the key is refused.
select repair_note_add_keyed(:tech, :rid, '{"text": "Keyed labour."}', 'r', repeat('b', 64),
                             repeat('c', 64)) ->> 'text' as text;
select repair_note_add_keyed(:tech, :rid, '{"text": "Keyed labour."}', 'r', repeat('b', 64),
                             repeat('c', 64)) ->> 'text' as replayed;
select pg_temp.try(format('select repair_note_add_keyed(%s, %s, %L, %L, %L, %L)', :tech, :rid,
                          '{"text": "Other."}', 'r', repeat('b', 64), repeat('d', 64)));
select count(*) as keyed_notes from record_entries where content ->> 'text' = 'Keyed labour.';

rollback;
