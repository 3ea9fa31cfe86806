-- Device passports (schema/api/passport.sql): who gets one, what it holds and leaves out, the
-- status link's, and the one signing key row.
begin;
\ir _helpers.sql

-- The seeded iPhone had a repair in Paris: Paris's technician gets it; Lyon's does not (404 as
-- an unknown serial); an admin does; a malformed serial is 422.
select pg_temp.try($$select passport_device((select id from staff where email = 'tech@carnet.test'), 'f2ldemo0ph13', 't')$$);
select pg_temp.try($$select passport_device((select id from staff where email = 'lyon@carnet.test'), 'F2LDEMO0PH13', 't')$$);
select pg_temp.try($$select passport_device((select id from staff where email = 'admin@carnet.test'), 'F2LDEMO0PH13', 't')$$);
select pg_temp.try($$select passport_device((select id from staff where email = 'tech@carnet.test'), 'NOSUCH0001', 't')$$);
select pg_temp.try($$select passport_device((select id from staff where email = 'tech@carnet.test'), 'bad!', 't')$$);

-- What it holds: the top-level members (no labour notes), and every leaf is a string or an
-- integer.
with p as (select passport_device((select id from staff where email = 'tech@carnet.test'),
                                  'F2LDEMO0PH13', 't')::jsonb as j)
select (select array_agg(k order by k) from jsonb_object_keys(j) k) as members,
       j->'device' as device, j->>'format' as format,
       jsonb_array_length(j->'repairs') as repairs,
       j->'repairs'->0->'parts'->0->>'part_number' as part,
       j->'repairs'->0 ? 'notes' as has_notes
from p;
with recursive p as (select passport_device((select id from staff where email = 'tech@carnet.test'),
                                            'F2LDEMO0PH13', 't')::jsonb as j),
     walk(v) as (select j from p
                 union all
                 select x from walk, lateral (
                     select value from jsonb_each(v) where jsonb_typeof(v) = 'object'
                     union all
                     select value from jsonb_array_elements(v) where jsonb_typeof(v) = 'array') s(x))
select jsonb_typeof(v) as kind, count(*) > 0 as some
from walk where jsonb_typeof(v) not in ('object', 'array') group by 1 order by 1;

-- Nothing personal: the owner's name and email, the repair's problem, staff names.
with p as (select passport_device((select id from staff where email = 'tech@carnet.test'),
                                  'F2LDEMO0PH13', 't')::text as t)
select position('Touch does not respond' in t) = 0 as no_problem,
       position('Technicien' in t) = 0 as no_staff,
       position('@' in t) = 0 as no_email
from p;

-- Lyon's staff book with the device's serial (as anyone may), check in and are called: still
-- unknown to them; once they start serving the visit, the device was in their hands.
select id as lyon from stores where code = 'lyon-part-dieu' \gset
insert into visits (store_id, kind, day, ticket, name, device_serial, status)
values (:lyon, 'walk_in', current_date, 977, 'x', 'F2LDEMO0PH13', 'called');
insert into appointments (store_id, service_id, staff_id, starts_at, ends_at, blocked_until, code,
                          customer_name, customer_email, device_serial, status)
select :lyon, s.id, st.id, now() + interval '40 days', now() + interval '40 days 30 minutes',
       now() + interval '40 days 30 minutes', 'ZZZZZZ', 'x', 'x@example.test', 'F2LDEMO0PH13',
       'checked_in'
from services s, staff st where s.store_id = :lyon and st.email = 'lyon@carnet.test' limit 1;
select pg_temp.try($$select passport_device((select id from staff where email = 'lyon@carnet.test'), 'F2LDEMO0PH13', 't')$$);
update visits set status = 'in_service', service_started_at = now() where ticket = 977 and store_id = :lyon;
select passport_device((select id from staff where email = 'lyon@carnet.test'), 'F2LDEMO0PH13', 't') is not null as lyon_now;

-- The status link: a wrong hash is 404.
select pg_temp.try($$select passport_by_status(repeat('0', 64))$$);

-- The signing key: the first stored stays; a later candidate gets it back.
delete from passport_keys;
select passport_key_ensure('00000000000000aa', repeat('A', 43), '{{pd:0000000000000000:x}}')->>'key_id' as first;
select passport_key_ensure('00000000000000bb', repeat('B', 43), '{{pd:0000000000000000:y}}')->>'key_id' as second;
select count(*) as keys from passport_keys;

rollback;
