-- Intake: the condition record (append-only; corrections are new records), photos, and the
-- customer's signature of the intake terms.
begin;
\ir _helpers.sql

select (repair_open(:tech, :paris, '{"serial": "F2LDEMO0SQL1", "problem": "Cracked screen",
                                     "intake": {"checklist": [{"item": "screen", "ok": false}]}}',
                    repeat('d', 64), 'req-1') ->> 'id')::bigint as rid \gset

-- Nothing recorded yet; the terms to sign are there.
select i -> 'current' as current, i -> 'terms' ->> 'version' as terms
from intake_get(:specialist, :rid, 'r') i;

-- The condition: closed lists of values, checked field by field.
select pg_temp.try(format('select intake_record(%s, %s, %L, %L)', :tech, :rid, '{}', 'r'));
select pg_temp.try(format('select intake_record(%s, %s, %L, %L)', :tech, :rid,
    '{"screen": "cracked", "housing": "new", "liquid": "triggered"}', 'r'));
select pg_temp.try(format('select intake_record(%s, %s, %L, %L)', :tech, :rid,
    '{"screen": "cracked", "housing": "intact", "liquid": "triggered", "accessories": [1]}', 'r'));
select pg_temp.try(format('select intake_record(%s, %s, %L, %L)', :specialist, :rid,
    '{"screen": "cracked", "housing": "intact", "liquid": "triggered"}', 'r'));
select pg_temp.try(format('select intake_record(%s, %s, %L, %L)', :lyon_manager, :rid,
    '{"screen": "cracked", "housing": "intact", "liquid": "triggered"}', 'r'));
select i ->> 'screen' as screen, i -> 'accessories' as accessories, i ->> 'note' as note,
       i -> 'signature' as signature
from intake_record(:tech, :rid, '{"screen": "cracked", "housing": "scuffed",
    "liquid": "not_triggered", "accessories": [" case "], "note": "top left"}', 'r') i;
select id as first from repair_intakes where repair_id = :rid \gset

-- Written once: a second record is a correction of the current one, by its id.
select pg_temp.try(format('select intake_record(%s, %s, %L, %L)', :tech, :rid,
    '{"screen": "broken", "housing": "scuffed", "liquid": "not_triggered"}', 'r'));
select pg_temp.try(format('update repair_intakes set screen = %L where id = %s', 'intact', :first));
select pg_temp.try(format('delete from repair_intakes where id = %s', :first));

-- The signature: the terms version must exist; it signs the current record, once.
select pg_temp.try(format('select intake_sign(%s, %s, %L, %L)', :tech, :rid,
    jsonb_build_object('terms_version', 'v0', 'png', pg_temp.pd('iVBOR'),
                       'sha256', repeat('a', 64), 'size', 10), 'r'));
select i -> 'signature' ->> 'terms_version' as signed, i -> 'signature' ->> 'png' as png
from intake_sign(:tech, :rid, jsonb_build_object('terms_version', '2026-12',
    'png', pg_temp.pd('iVBOR'), 'sha256', repeat('a', 64), 'size', 10), 'r') i;
select pg_temp.try(format('select intake_sign(%s, %s, %L, %L)', :tech, :rid,
    jsonb_build_object('terms_version', '2026-12', 'png', pg_temp.pd('iVBOR'),
                       'sha256', repeat('a', 64), 'size', 10), 'r'));

-- A correction: unsigned until the customer signs it; the old record keeps its signature.
select i ->> 'screen' as screen, (i ->> 'corrects')::bigint = :first as corrects_first,
       i -> 'signature' as signature
from intake_record(:tech, :rid, jsonb_build_object('screen', 'broken', 'housing', 'scuffed',
    'liquid', 'not_triggered', 'corrects', :first), 'r') i;
select json_array_length(i -> 'records') as records, i -> 'current' -> 'signature' as current_sig,
       i -> 'records' -> 1 -> 'signature' ->> 'terms_version' as old_sig
from intake_get(:tech, :rid, 'r') i;

-- Photos: bytes as base64, kept with their hash; the same bytes twice are one photo.
select p ->> 'content_type' as type, p ->> 'size' as size, p ->> 'sha256' = encode(sha256('\x89504e47'::bytea), 'hex') as hashed
from intake_photo_add(:tech, :rid, 'image/png', encode('\x89504e47'::bytea, 'base64'), 'r') p;
select (intake_photo_add(:tech, :rid, 'image/png', encode('\x89504e47'::bytea, 'base64'), 'r') ->> 'id')::bigint
       = (select max(id) from repair_photos) as same_photo;
select max(id) as pid from repair_photos \gset
select content_type, decode(data, 'base64') as bytes from intake_photo_get(:specialist, :rid, :pid, 'r');
select pg_temp.try(format('select intake_photo_get(%s, %s, %s, %L)', :lyon_manager, :rid, :pid, 'r'));
select pg_temp.try(format('select intake_photo_get(%s, %s, %s, %L)', :tech, :rid, 999999, 'r'));

-- The health record: each write is an entry; the signature's holds its hash, not the image.
select kind, content ? 'sha256' as hashed, content ? 'png' as image
from record_entries where ref_type = 'repair' and ref_id = :rid and kind like 'intake_%'
order by id;

-- A closed repair's intake does not change.
select repair_transition(:tech, :rid, '{"to": "cancelled"}', 'r') ->> 'state' as state;
select pg_temp.try(format('select intake_photo_add(%s, %s, %L, %L, %L)', :tech, :rid, 'image/png',
                          encode('\x0102'::bytea, 'base64'), 'r'));

rollback;
