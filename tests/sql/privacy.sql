-- Personal data at rest: what the sealing job is handed (pd_due) and what it may store back
-- (pd_store): clear values and values under an older key are due, markers under a key the
-- caller does not hold are left alone, and a value changed since it was read is not replaced.
begin;
\ir _helpers.sql

\set cur '1111111111111111'
\set old '2222222222222222'
delete from visits;
insert into visits (store_id, kind, day, ticket, name, status) values
    (:paris, 'walk_in', current_date, 901, 'Clear Name', 'waiting'),
    (:paris, 'walk_in', current_date, 902, '{{pd:1111111111111111:current}}', 'waiting'),
    (:paris, 'walk_in', current_date, 903, '{{pd:2222222222222222:older}}', 'waiting'),
    (:paris, 'walk_in', current_date, 904, '{{pd:3333333333333333:nobody}}', 'waiting');

-- Between rotations (p_full false): only the clear one.
select x ->> 'v' as due, x ->> 'mode' as mode
from json_array_elements(pd_due(:'cur', 10, array[:'cur'], false)) x
where x ->> 't' = 'visits' and x ->> 'c' = 'name';
-- During a rotation: the clear one and the one under the older key, not the unknown key's.
select x ->> 'v' as due
from json_array_elements(pd_due(:'cur', 10, array[:'cur', :'old'], true)) x
where x ->> 't' = 'visits' and x ->> 'c' = 'name' order by 1;
select pg_temp.try($$select pd_due('not-a-kid', 10, array['x'], false)$$);

-- pd_store replaces a value only if it is still what was read.
select pd_store(json_build_array(json_build_object(
    't', 'visits', 'id', (select id from visits where ticket = 901), 'c', 'name',
    'old', md5('Clear Name'), 'v', '{{pd:1111111111111111:sealed}}', 'bi', null))) as stored;
select pd_store(json_build_array(json_build_object(
    't', 'visits', 'id', (select id from visits where ticket = 903), 'c', 'name',
    'old', md5('something else'), 'v', '{{pd:1111111111111111:lost}}', 'bi', null)))
    as stored_when_changed;
select ticket, name from visits order by ticket;
select pg_temp.try($$select pd_store('[{"t": "staff", "id": 1, "c": "name", "old": "x", "v": "y"}]')$$);

-- The json mode: a message's placeholders with a clear name are due; a sealed one is not.
insert into outbox (kind, channel, recipient, locale, subject, body, sms, data) values
    ('booking_confirmed', 'email', '{{pd:1111111111111111:to}}', 'en', '', '', '',
     '{"name": "Clear", "code": "K1"}'),
    ('booking_confirmed', 'email', '{{pd:1111111111111111:to}}', 'en', '', '', '',
     '{"name": "{{pd:1111111111111111:n}}", "code": "K2"}');
select x ->> 'v' as due_data
from json_array_elements(pd_due(:'cur', 10, array[:'cur'], true)) x
where x ->> 't' = 'outbox' and x ->> 'c' = 'data';
rollback;
