-- Devices: serial numbers, the append-only hash-chained health record, owners, diagnostics,
-- trends and search.
begin;
\ir _helpers.sql

-- Serials are normalised in one place; IMEIs pass Luhn.
select device_serial_normalize(' f2l demo 0ph13 ') as normalised;
select pg_temp.try($$select device_serial_normalize('ab')$$);
select pg_temp.try($$select device_serial_normalize('353918051234562')$$);
select pg_temp.try($$select device_serial_normalize(null)$$);

-- A device and its record.
select d -> 'device' ->> 'serial' as serial, d -> 'device' ->> 'model' as model,
       d ->> 'created' as created
from device_put(:tech, 'c02 new 0mac1', '{"model": "MacBook Air"}', 'req-1') d;
select pg_temp.try(format('select device_put(%s, %L, %L, %L)', :tech, 'C02NEW0MAC1',
                          '{"warranty_end": "soon"}', 'r'));
select pg_temp.try(format('select device_record(%s, %L, null, 10, %L)', :tech, 'NOSUCHDEVICE1',
                          'r'));
select device_owner_add(:specialist, 'C02NEW0MAC1',
    jsonb_build_object('store_id', :paris, 'name', 'Paul', 'email', 'paul@example.test'),
    'req-2') -> 'owner' ->> 'name' as owner;
select pg_temp.try(format('select device_owner_add(%s, %L, %L, %L)', :specialist, 'C02NEW0MAC1',
    jsonb_build_object('store_id', :paris, 'name', 'Paul', 'email', 'not an email'), 'r'));
select device_note_add(:tech, 'C02NEW0MAC1', '{"text": "Keyboard sticks."}', 'req-3') ->> 'kind'
       as kind;
select pg_temp.try(format('select device_note_add(%s, %L, %L, %L)', :tech, 'C02NEW0MAC1',
                          '{"text": ""}', 'r'));

-- Diagnostics, typed in and imported.
select device_diagnostic_add(:tech, 'C02NEW0MAC1', jsonb_build_object('store_id', :paris,
    'performed_at', now() - interval '1 hour',
    'results', '[{"test": "battery", "passed": true,
                  "values": [{"name": "battery_health", "value": 90, "unit": "%"}]}]'::jsonb),
    'req-4') ->> 'passed' as passed;
select pg_temp.try(format('select device_diagnostic_add(%s, %L, %L, %L)', :tech, 'C02NEW0MAC1',
    jsonb_build_object('store_id', :paris, 'performed_at', now() + interval '1 day',
                       'results', '[{"test": "battery", "passed": true}]'::jsonb), 'r'));
select pg_temp.try(format('select device_diagnostic_add(%s, %L, %L, %L)', :tech, 'C02NEW0MAC1',
    jsonb_build_object('store_id', :paris, 'performed_at', now(), 'results', '[]'::jsonb), 'r'));
select pg_temp.try(format('select device_diagnostic_import(%s, %L, %L, %L)', :tech,
    'C02NEW0MAC1', jsonb_build_object('store_id', :paris, 'report',
        '{"format": "other/9", "tool": {"name": "X"}, "tests": []}'::jsonb), 'r'));
select json_array_length(t -> 'metrics' -> 'battery_health') as battery_points
from device_trends(:tech, 'F2LDEMO0PH13', 'battery_health', 'req-5') t;

-- The record: newest first, and the chain verifies.
select e ->> 'kind' as kind
from json_array_elements(device_record(:tech, 'C02NEW0MAC1', null, 10, 'req-6') -> 'entries') e;
-- Each entry's prev_hash is the hash of the one before (carnetd re-verifies the hashes).
select count(*) as entries, bool_and(prev = coalesce(before, repeat('0', 64))) as linked
from (select e ->> 1 as prev, lag(e ->> 2) over (order by (e ->> 0)::bigint) as before
      from json_array_elements(device_chain(:tech, 'C02NEW0MAC1', 'req-7') -> 'entries') e) x;
-- The record cannot be rewritten, not even by SQL.
select pg_temp.try($$update record_entries set content = '{}' where id = (select min(id) from record_entries)$$);
select pg_temp.try($$delete from record_entries$$);

-- Search by serial prefix and by the owner's email: this owner was written in clear by SQL (not
-- yet sealed by carnetd's job, no blind index), so it is compared in clear; a sealed one is
-- found by the blind index carnetd computes from the query (below).
select r ->> 'serial' as serial
from json_array_elements(device_search(:tech, 'C02NEW', 10, 'req-8', null, null, null) -> 'results') r;
select r ->> 'serial' as serial
from json_array_elements(device_search(:tech, 'paul@example.test', 10, 'req-9', repeat('e', 64), null, null) -> 'results') r;
select pg_temp.try(format('select device_search(%s, %L, 10, %L, null, null, null)', :tech, '', 'r'));
-- Another store's staff find it by its exact serial only: not by the owner's email, not by a
-- prefix (the device has no entry of theirs), not by a Paris repair number.
select r ->> 'serial' as serial, r ->> 'match' as match
from json_array_elements(device_search(:lyon_manager, 'c02new0mac1', 10, 'r', null, null, null) -> 'results') r;
select device_search(:lyon_manager, 'paul@example.test', 10, 'r', repeat('e', 64), null, null) as by_email,
       device_search(:lyon_manager, 'C02NEW', 10, 'r', null, null, null) as by_prefix;
select device_search(:lyon_manager, (select number from repair_orders order by id limit 1), 10, 'r',
                     null, null, null)
       as by_repair_number;

-- Custody: while Paris has the device in an open repair, Lyon staff may not change its owner
-- (not even to the same one) or its facts; an admin may, and the override is audited.
select (repair_open(:tech, :paris, '{"serial": "C02NEW0MAC1", "problem": "Fan",
        "intake": {"checklist": [{"item": "case", "ok": true}]}}', repeat('d', 64), 'r')
        ->> 'id')::bigint as custody_rid \gset
select pg_temp.try(format('select device_owner_add(%s, %L, %L, %L)', :lyon_manager, 'C02NEW0MAC1',
    jsonb_build_object('store_id', :lyon, 'name', 'Evil Lyon', 'email', 'e2@example.test'), 'r'));
select pg_temp.try(format('select device_owner_add(%s, %L, %L, %L)', :lyon_manager, 'C02NEW0MAC1',
    jsonb_build_object('store_id', :lyon, 'name', 'Paul', 'email', 'paul@example.test'), 'r'));
select pg_temp.try(format('select device_put(%s, %L, %L, %L)', :lyon_manager, 'C02NEW0MAC1',
                          '{"warranty_end": "2030-01-01"}', 'r'));
select device_note_add(:lyon_manager, 'C02NEW0MAC1',
    jsonb_build_object('text', 'Seen in Lyon.', 'store_id', :lyon), 'r') ->> 'kind' as lyon_note;
select device_owner_add(:admin, 'C02NEW0MAC1',
    jsonb_build_object('store_id', :lyon, 'name', 'Moved Away', 'email', 'moved@example.test'),
    'req-10') -> 'owner' ->> 'name' as admin_override;
select action, request_id from audit_log where action = 'custody_override';
-- The repair still writes to the customer of its intake.
select recipient, recipient_bi from repair_contact((select r from repair_orders r where id = :custody_rid));
-- Once it is closed, the device is nobody's again.
select repair_transition(:tech, :custody_rid, '{"to": "cancelled"}', 'r') ->> 'state' as state;
select device_put(:lyon_manager, 'C02NEW0MAC1', '{"warranty_end": "2030-01-01"}', 'r')
       -> 'device' ->> 'warranty_end' as lyon_fix;


-- An owner as carnetd sends it: sealed values (personal-data markers) and their blind indexes.
-- SQL cannot read them: it checks their shape, stores them, and finds them by blind index only.
select device_put(:tech, 'SEAL0DEV01', '{}', 'r') ->> 'created' as sealed_device;
select device_owner_add(:tech, 'SEAL0DEV01', jsonb_build_object('store_id', :paris,
    'name', '{{pd:0123456789abcdef:bmFtZQ}}', 'email', '{{pd:0123456789abcdef:ZW1haWw}}',
    'email_bi', repeat('a', 64), 'phone', null, 'phone_bi', null), 'r') -> 'owner' ->> 'name' as stored;
select email_bi = repeat('a', 64) as bi_kept, phone is null and phone_bi is null as no_phone
from device_owners o join devices d on d.id = o.device_id where d.serial = 'SEAL0DEV01';
select r ->> 'serial' as serial, r ->> 'match' as match
from json_array_elements(device_search(:tech, 'who@example.test', 10, 'r', repeat('a', 64), null, null)
                         -> 'results') r;
select device_search(:tech, 'who@example.test', 10, 'r', repeat('b', 64), null, null) as other_bi;
-- The same blind indexes again: the same owner (a sealed name cannot be compared), nothing new.
select count(*) as owners_before from device_owners o join devices d on d.id = o.device_id
where d.serial = 'SEAL0DEV01';
select device_owner_add(:tech, 'SEAL0DEV01', jsonb_build_object('store_id', :paris,
    'name', '{{pd:0123456789abcdef:b3RoZXI}}', 'email', '{{pd:0123456789abcdef:YWdhaW4}}',
    'email_bi', repeat('a', 64)), 'r') -> 'owner' ->> 'until' as still_current;
select count(*) as owners_after from device_owners o join devices d on d.id = o.device_id
where d.serial = 'SEAL0DEV01';
-- A sealed email without its blind index, a clear email beside a sealed name: refused.
select pg_temp.try(format('select device_owner_add(%s, %L, %L, %L)', :tech, 'SEAL0DEV01',
    jsonb_build_object('store_id', :paris, 'name', '{{pd:0123456789abcdef:bmFtZQ}}',
                       'email', '{{pd:0123456789abcdef:ZW1haWw}}'), 'r'));
select pg_temp.try(format('select device_owner_add(%s, %L, %L, %L)', :tech, 'SEAL0DEV01',
    jsonb_build_object('store_id', :paris, 'name', '{{pd:0123456789abcdef:bmFtZQ}}',
                       'email', 'clear@example.test', 'email_bi', repeat('a', 64)), 'r'));
select pg_temp.try(format('select device_owner_add(%s, %L, %L, %L)', :tech, 'SEAL0DEV01',
    jsonb_build_object('store_id', :paris, 'name', '{{pd:0123456789abcdef:bmFtZQ}}',
                       'phone', '{{pd:0123456789abcdef:cGhvbmU}}', 'phone_bi', 'short'), 'r'));

-- A note with an Idempotency-Key (device_note_add_keyed, as a tablet resends one written
-- offline): the same key and request give the first entry back and write no second one;
-- another request under the key is refused; another actor's key is theirs.
select device_note_add_keyed(:tech, 'C02NEW0MAC1', '{"text": "Keyed note."}', 'r',
                             repeat('b', 64), repeat('c', 64)) ->> 'kind' as kind;
select (device_note_add_keyed(:tech, 'C02NEW0MAC1', '{"text": "Keyed note."}', 'r',
                              repeat('b', 64), repeat('c', 64)) ->> 'content')::jsonb as replayed;
select pg_temp.try(format('select device_note_add_keyed(%s, %L, %L, %L, %L, %L)', :tech,
                          'C02NEW0MAC1', '{"text": "Other."}', 'r', repeat('b', 64),
                          repeat('d', 64)));
select device_note_add_keyed(:specialist, 'C02NEW0MAC1', '{"text": "Keyed note."}', 'r',
                             repeat('b', 64), repeat('c', 64)) ->> 'kind' as other_actor;
select count(*) as keyed_notes from record_entries where content ->> 'text' = 'Keyed note.';


-- A tool's report as carnetd's importer reads it (server/diagimport.c): results with units and
-- the component measured, whose own serial is kept, not compared with the device's.
select device_put(:tech, 'IMPORT0DEV1', '{}', 'r') ->> 'created' as created;
select d ->> 'source' as source, d ->> 'passed' as passed, d ->> 'failed' as failed
from device_diagnostic_import_tool(:tech, 'IMPORT0DEV1', jsonb_build_object('store_id', :paris,
    'tool', 'smartctl 7.3', 'performed_at', '2025-06-01T10:00:00+00:00',
    'results', '[{"test": "disk_pending_sectors", "passed": false,
                  "values": [{"name": "disk_pending_sectors", "value": 8, "unit": "sectors"}],
                  "component": {"kind": "disk", "serial": "WD-WX11A", "model": "WDC WD10"}},
                 {"test": "disk_smart_status", "passed": true, "values": []}]'::jsonb),
    'req-imp') d;
select s.tool, s.source, v.name, v.value, v.unit,
       e.content #>> '{results,0,component,serial}' as component_serial
from diagnostic_sessions s join devices d on d.id = s.device_id
join diagnostic_values v on v.session_id = s.id join record_entries e on e.id = s.entry_id
where d.serial = 'IMPORT0DEV1';
select pg_temp.try(format('select device_diagnostic_import_tool(%s, %L, %L, %L)', :tech,
    'IMPORT0DEV1', jsonb_build_object('store_id', :paris, 'tool', 'upower',
        'results', '[{"test": "battery_capacity", "passed": true,
                      "component": {"kind": "battery", "colour": "red"}}]'::jsonb), 'r'));
select pg_temp.try(format('select device_diagnostic_import_tool(%s, %L, %L, %L)', :tech,
    'IMPORT0DEV1', jsonb_build_object('store_id', :paris,
        'results', '[{"test": "x", "passed": true}]'::jsonb), 'r'));
select pg_temp.try(format('select device_diagnostic_import_tool(%s, %L, %L, %L)', :tech,
    'IMPORT0DEV1', jsonb_build_object('store_id', :paris, 'tool', 'upower',
        'results', '[]'::jsonb), 'r'));
rollback;
