-- Devices and their health record: serial numbers, owners, diagnostics, repair orders, customer
-- links, and the append-only, hash-chained record every domain writes to.
--
-- THE HEALTH RECORD (record_entries) is one append-only table. Every fact about a device that
-- people read later (a diagnostic session, a repair opened or moved, a note, a message, an
-- appointment, a visit, an owner change, a correction) is one entry. Other domains add entries
-- with record_append():
--
--   record_append(p_device bigint,     -- devices.id (device_ensure(serial) gives it)
--                 p_kind text,         -- what happened: ^[a-z][a-z_]{1,31}$, e.g. 'appointment'
--                 p_content jsonb,     -- a JSON object; never personal data (names, emails,
--                                      -- phones): it can never be erased from the chain
--                 p_actor bigint,      -- staff.id, or NULL when the customer/system acted
--                 p_store bigint,      -- the store where it happened, or NULL
--                 p_ref_type text,     -- the object it is about ('repair', 'appointment', ...)
--                 p_ref_id bigint,     -- and its id
--                 p_corrects bigint)   -- an earlier entry of the same device this one corrects
--     returns record_entries           -- the stored row (id, at, hash ...)
--
-- Kinds written here: device_update, owner_change, diagnostic, note, correction, repair_opened,
-- repair_state, repair_estimate, estimate_approved, estimate_declined, repair_part, repair_note,
-- repair_promise. Kinds other domains write: appointment (002: booked and each later step),
-- visit (004: started and done), message (006; customer-facing, shown on the repair-status page
-- when ref_type = 'repair').
--
-- Entries with a store_id count as "business" of the device's owner in that store: staff of that
-- store see the owner's name, email and phone on the record (see device_owner_visible).
--
-- HASH CHAIN. Each entry stores prev_hash (the previous entry's hash for the same device, 32 zero
-- bytes for the first) and hash = SHA-256(prev_hash || record_canonical(entry)), where the
-- canonical text is a jsonb object of every column but the hashes (jsonb text output is
-- deterministic: keys sorted, no insignificant spaces; the time is integer microseconds so the
-- session time zone cannot change it). A BEFORE INSERT trigger computes both under a lock on the
-- device row, and only then takes the entry's id from the sequence, so per device the chain
-- order is the id order even when appends race, and a write stays one transaction. carnetd
-- verifies a chain with libsodium (crypto_hash_sha256) from the stored columns, independently of
-- the SQL that wrote it: GET /api/devices/{serial}/verify names the first entry that does not
-- match. Computing the hash in C at write time would need the previous hash first: two round
-- trips and a lock held across them, for no gain in what the verification proves.
--
-- UPDATE, DELETE and TRUNCATE on record_entries raise: history is corrected by appending an
-- entry whose `corrects` points at the old one.

-- Luhn check digit test for an all-digit string (IMEI numbers carry one).
create function device_luhn(p text) returns boolean
language sql immutable strict as $$
    select case when p !~ '^[0-9]+$' then false else (
        select sum(case when (length(p) - i) % 2 = 1
                        then (d * 2) / 10 + (d * 2) % 10 else d end) % 10 = 0
        from (select i, substr(p, i, 1)::int as d from generate_series(1, length(p)) i) x) end
$$;

-- Serial numbers are stored normalised: trimmed, upper-case, without spaces; letters and digits
-- only; a 15-digit value is an IMEI and must pass its Luhn check. Raises 422 on field `p_field`.
create function device_serial_normalize(p text, p_field text default 'serial') returns text
language plpgsql immutable as $$
declare
    s text;
begin
    if p is null or btrim(p) = '' then
        perform carnet_fail(422, 'required', p_field, 'a serial number is required');
    end if;
    s := upper(regexp_replace(p, '\s', '', 'g'));
    if s !~ '^[A-Z0-9]{5,32}$' then
        perform carnet_fail(422, 'bad_serial', p_field,
            'a serial number has 5 to 32 letters and digits');
    end if;
    if s ~ '^[0-9]{15}$' and not device_luhn(s) then
        perform carnet_fail(422, 'bad_imei', p_field,
            'this IMEI fails its check digit: please check the number');
    end if;
    return s;
end $$;

create table devices (
    id bigint generated always as identity primary key,
    -- "C" collation: the unique index then also serves prefix searches (serial like 'ABC%').
    serial text collate "C" not null unique
        check (serial ~ '^[A-Z0-9]{5,32}$' and (serial !~ '^[0-9]{15}$' or device_luhn(serial))),
    model text check (length(model) between 1 and 200),
    warranty_end date,
    created_at timestamptz not null default now(),
    -- Head of the hash chain: the last entry's hash (zeros before the first entry).
    head_hash bytea not null default '\x0000000000000000000000000000000000000000000000000000000000000000'
        check (length(head_hash) = 32),
    head_entry bigint
);

-- Owner history: a device changes hands; the record stays with the device. Personal data lives
-- here (not in the chain) so it can be shown only to those allowed, and erased if needed.
create table device_owners (
    id bigint generated always as identity primary key,
    device_id bigint not null references devices(id),
    name text not null check (length(name) between 1 and 200),
    email text check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 254),
    phone text check (phone ~ '^\+?[0-9]{6,15}$'),
    since timestamptz not null default now(),
    until timestamptz,
    check (until is null or until >= since)
);
create index device_owners_device_idx on device_owners (device_id, since desc);
create unique index device_owners_current_key on device_owners (device_id) where until is null;
create index device_owners_email_idx on device_owners (lower(email));
create index device_owners_phone_idx on device_owners (phone);

-- Ids come from this sequence inside the insert trigger, under the device lock (see above).
create sequence record_entries_id_seq as bigint;
create table record_entries (
    id bigint primary key,
    device_id bigint not null references devices(id),
    kind text not null check (kind ~ '^[a-z][a-z_]{1,31}$'),
    store_id bigint references stores(id),
    ref_type text check (ref_type ~ '^[a-z][a-z_]{1,31}$'),
    ref_id bigint,
    content jsonb not null default '{}' check (jsonb_typeof(content) = 'object'),
    corrects bigint references record_entries(id),
    actor bigint references staff(id),
    at timestamptz not null default now(),
    prev_hash bytea not null check (length(prev_hash) = 32),
    hash bytea not null check (length(hash) = 32),
    check ((ref_type is null) = (ref_id is null))
);
-- The health record read: newest first per device, keyset-paginated on (device_id, id desc).
create index record_entries_device_idx on record_entries (device_id, id desc);
create index record_entries_ref_idx on record_entries (ref_type, ref_id) where ref_type is not null;
create index record_entries_corrects_idx on record_entries (corrects) where corrects is not null;
create index record_entries_store_idx on record_entries (device_id, store_id, at)
    where store_id is not null;

-- The text an entry's hash covers. Used at write time by the trigger and at verification time
-- to hand carnetd the entry as it is stored now.
create function record_canonical(e record_entries) returns text
language sql stable as $$
    select jsonb_build_object(
        'id', e.id, 'device', e.device_id, 'kind', e.kind, 'store', e.store_id,
        'ref_type', e.ref_type, 'ref_id', e.ref_id, 'content', e.content,
        'corrects', e.corrects, 'actor', e.actor,
        'at_us', (extract(epoch from e.at) * 1000000)::bigint)::text
$$;

create function record_chain_before_insert() returns trigger
language plpgsql as $$
declare
    d devices%rowtype;
begin
    -- The device lock serialises appends per device; the id is drawn after it so that chain
    -- order and id order agree. NO KEY UPDATE: rows that merely reference the device (repairs,
    -- owners, sessions) can still be inserted meanwhile.
    select * into d from devices where id = new.device_id for no key update;
    if not found then
        perform carnet_fail(404, 'not_found', 'device', 'no such device');
    end if;
    if new.corrects is not null and not exists (
            select 1 from record_entries where id = new.corrects and device_id = new.device_id) then
        perform carnet_fail(422, 'invalid', 'corrects',
            'a correction must point at an earlier entry of the same device');
    end if;
    new.id := nextval('record_entries_id_seq');
    new.at := coalesce(new.at, now());
    new.prev_hash := d.head_hash;
    new.hash := sha256(d.head_hash || convert_to(record_canonical(new), 'UTF8'));
    update devices set head_hash = new.hash, head_entry = new.id where id = new.device_id;
    return new;
end $$;

create trigger record_entries_chain before insert on record_entries
    for each row execute function record_chain_before_insert();

create function record_refuse_rewrite() returns trigger
language plpgsql as $$
begin
    perform carnet_fail(409, 'append_only', 'entry',
        'the health record is append-only: add a correction instead');
    return null;
end $$;

create trigger record_entries_no_rewrite before update or delete on record_entries
    for each row execute function record_refuse_rewrite();
create trigger record_entries_no_truncate before truncate on record_entries
    for each statement execute function record_refuse_rewrite();

-- The one writer of the health record (see the header of this file).
create function record_append(p_device bigint, p_kind text, p_content jsonb, p_actor bigint,
                              p_store bigint default null, p_ref_type text default null,
                              p_ref_id bigint default null, p_corrects bigint default null)
returns record_entries
language plpgsql as $$
declare
    e record_entries%rowtype;
begin
    insert into record_entries (device_id, kind, store_id, ref_type, ref_id, content, corrects,
                                actor, prev_hash, hash)
    values (p_device, p_kind, p_store, p_ref_type, p_ref_id, coalesce(p_content, '{}'),
            p_corrects, p_actor, '\x'::bytea, '\x'::bytea)
    returning * into e;
    return e;
end $$;

-- The device with this serial, created when unknown. Raises 422 for a malformed serial.
create function device_ensure(p_serial text) returns bigint
language plpgsql as $$
declare
    s text := device_serial_normalize(p_serial);
    v bigint;
begin
    select id into v from devices where serial = s;
    if found then
        return v;
    end if;
    insert into devices (serial) values (s) on conflict (serial) do nothing returning id into v;
    if v is null then
        select id into v from devices where serial = s;
    end if;
    return v;
end $$;

-- The device with this serial, or 404 on field serial.
create function device_get(p_serial text) returns devices
language plpgsql stable as $$
declare
    d devices%rowtype;
begin
    select * into d from devices where serial = device_serial_normalize(p_serial);
    if not found then
        perform carnet_fail(404, 'not_found', 'serial', 'no device with that serial number');
    end if;
    return d;
end $$;

create function device_json(d devices) returns json
language sql stable as $$
    select json_build_object('id', d.id, 'serial', d.serial, 'model', d.model,
        'warranty_end', d.warranty_end,
        'under_warranty', d.warranty_end is not null and d.warranty_end >= current_date,
        'created_at', d.created_at)
$$;

-- Owner details are shown to admins and to staff of a store where the device had business
-- (an entry with that store) while this owner held it.
create function device_owner_visible(p_actor bigint, o device_owners) returns boolean
language sql stable as $$
    select exists (select 1 from staff where id = p_actor and is_admin)
        or exists (select 1 from record_entries e
                   where e.device_id = o.device_id and e.store_id is not null
                     and e.at >= o.since and (o.until is null or e.at < o.until)
                     and e.store_id in (select store_id from staff_roles where staff_id = p_actor))
$$;

create function device_owner_json(p_actor bigint, o device_owners) returns json
language sql stable as $$
    select case when device_owner_visible(p_actor, o)
        then json_build_object('id', o.id, 'name', o.name, 'email', o.email, 'phone', o.phone,
                               'since', o.since, 'until', o.until, 'redacted', false)
        else json_build_object('id', o.id, 'since', o.since, 'until', o.until, 'redacted', true)
        end
$$;

-- Phone numbers are stored as digits with an optional leading +.
create function device_phone_normalize(p text) returns text
language sql immutable as $$
    select nullif(regexp_replace(p, '[^0-9+]', '', 'g'), '')
$$;

-- ---------------------------------------------------------------------------------------------
-- Diagnostics

create table diagnostic_sessions (
    id bigint generated always as identity primary key,
    device_id bigint not null references devices(id),
    store_id bigint not null references stores(id),
    source text not null check (source in ('manual', 'import')),
    tool text check (length(tool) <= 200),
    performed_at timestamptz not null,
    actor bigint references staff(id),
    entry_id bigint not null references record_entries(id)
);
create index diagnostic_sessions_device_idx on diagnostic_sessions (device_id, performed_at);

-- Measured values, one row each, for trends across sessions (battery health, cycle count ...).
create table diagnostic_values (
    session_id bigint not null references diagnostic_sessions(id),
    device_id bigint not null references devices(id),
    test text not null,
    name text not null,
    value numeric not null,
    unit text,
    performed_at timestamptz not null
);
create index diagnostic_values_trend_idx on diagnostic_values (device_id, name, performed_at);

-- Checks a structured results array; raises 422 naming the offending element.
create function diag_check_results(p jsonb, p_field text) returns void
language plpgsql immutable as $$
declare
    r jsonb;
    v jsonb;
    i int := 0;
    j int;
    f text;
begin
    if jsonb_typeof(p) is distinct from 'array' or jsonb_array_length(p) = 0
       or jsonb_array_length(p) > 500 then
        perform carnet_fail(422, 'invalid', p_field, 'results: a list of 1 to 500 tests');
    end if;
    for r in select * from jsonb_array_elements(p) loop
        f := format('%s[%s]', p_field, i);
        if jsonb_typeof(r) <> 'object' then
            perform carnet_fail(422, 'invalid', f, 'each result is an object');
        end if;
        if jsonb_typeof(r->'test') is distinct from 'string'
           or length(r->>'test') not between 1 and 100 then
            perform carnet_fail(422, 'invalid', f || '.test', 'a test name of 1 to 100 characters');
        end if;
        if jsonb_typeof(r->'passed') is distinct from 'boolean' then
            perform carnet_fail(422, 'invalid', f || '.passed', 'passed is true or false');
        end if;
        if r ? 'note' and (jsonb_typeof(r->'note') <> 'string' or length(r->>'note') > 2000) then
            perform carnet_fail(422, 'invalid', f || '.note', 'a note of at most 2000 characters');
        end if;
        if r ? 'values' then
            if jsonb_typeof(r->'values') <> 'array' or jsonb_array_length(r->'values') > 50 then
                perform carnet_fail(422, 'invalid', f || '.values', 'a list of at most 50 values');
            end if;
            j := 0;
            for v in select * from jsonb_array_elements(r->'values') loop
                if jsonb_typeof(v) <> 'object'
                   or jsonb_typeof(v->'name') is distinct from 'string'
                   or (v->>'name') !~ '^[a-z0-9_.]{1,64}$' then
                    perform carnet_fail(422, 'invalid', format('%s.values[%s].name', f, j),
                        'a value name of 1 to 64 lower-case letters, digits, _ or .');
                end if;
                if jsonb_typeof(v->'value') is distinct from 'number' then
                    perform carnet_fail(422, 'invalid', format('%s.values[%s].value', f, j),
                        'a measured value is a number');
                end if;
                if v ? 'unit' and v->'unit' <> 'null'::jsonb
                   and (jsonb_typeof(v->'unit') <> 'string' or length(v->>'unit') not between 1 and 16) then
                    perform carnet_fail(422, 'invalid', format('%s.values[%s].unit', f, j),
                        'a unit of 1 to 16 characters');
                end if;
                j := j + 1;
            end loop;
        end if;
        i := i + 1;
    end loop;
end $$;

create function device_parse_time(p jsonb, p_field text) returns timestamptz
language plpgsql stable as $$
begin
    if p is null or p = 'null'::jsonb then
        return null;
    end if;
    -- The offset is required: a time without one would silently take the session's time zone.
    if jsonb_typeof(p) <> 'string'
       or (p #>> '{}') !~ '^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d(:?\d\d)?)$' then
        perform carnet_fail(422, 'invalid', p_field, 'an ISO 8601 date and time with offset');
    end if;
    return (p #>> '{}')::timestamptz;
exception when invalid_datetime_format or datetime_field_overflow then
    perform carnet_fail(422, 'invalid', p_field, 'an ISO 8601 date and time with offset');
    return null;
end $$;

create function device_store_from(p jsonb, p_field text) returns bigint
language plpgsql stable as $$
declare
    v bigint;
begin
    if jsonb_typeof(p) is distinct from 'number' or (p #>> '{}') !~ '^[0-9]{1,18}$' then
        perform carnet_fail(422, 'invalid', p_field, 'a store id is required');
    end if;
    v := (p #>> '{}')::bigint;
    if not exists (select 1 from stores where id = v) then
        perform carnet_fail(422, 'invalid', p_field, 'no such store');
    end if;
    return v;
end $$;

-- Stores one validated diagnostic session (structured form) and its record entry.
create function diag_store(p_actor bigint, d devices, p_store bigint, p_source text,
                           p_tool text, p_performed timestamptz, p_summary text,
                           p_results jsonb, p_req text) returns json
language plpgsql as $$
declare
    e record_entries%rowtype;
    sid bigint;
    performed timestamptz := coalesce(p_performed, now());
    passed int;
    failed int;
begin
    perform carnet_require(p_actor, p_store, array['technician', 'manager']);
    if performed > now() + interval '5 minutes' then
        perform carnet_fail(422, 'invalid', 'performed_at', 'a diagnostic cannot be in the future');
    end if;
    select count(*) filter (where (x->>'passed')::boolean),
           count(*) filter (where not (x->>'passed')::boolean)
      into passed, failed from jsonb_array_elements(p_results) x;
    e := record_append(d.id, 'diagnostic',
        jsonb_build_object('source', p_source, 'tool', p_tool, 'performed_at', performed,
                           'summary', p_summary, 'passed', passed, 'failed', failed,
                           'results', p_results),
        p_actor, p_store);
    insert into diagnostic_sessions (device_id, store_id, source, tool, performed_at, actor, entry_id)
    values (d.id, p_store, p_source, p_tool, performed, p_actor, e.id) returning id into sid;
    -- The entry's ref points at the session it describes; both are written in this transaction.
    insert into diagnostic_values (session_id, device_id, test, name, value, unit, performed_at)
    select sid, d.id, r->>'test', v->>'name', (v->>'value')::numeric, v->>'unit', performed
    from jsonb_array_elements(p_results) r, jsonb_array_elements(coalesce(r->'values', '[]')) v;
    perform carnet_audit(p_actor, 'diagnostic', 'device', d.id::text, p_req);
    return json_build_object('session_id', sid, 'entry_id', e.id, 'serial', d.serial,
                             'source', p_source, 'performed_at', performed,
                             'passed', passed, 'failed', failed);
end $$;

-- POST /api/devices/{serial}/diagnostics: {store_id, performed_at?, summary?, results: [
--   {test, passed, values?: [{name, value, unit?}], note?}]}
create function device_diagnostic_add(p_actor bigint, p_serial text, p jsonb, p_req text)
returns json language plpgsql as $$
declare
    st bigint := device_store_from(p->'store_id', 'store_id');
begin
    if p ? 'summary' and (jsonb_typeof(p->'summary') <> 'string' or length(p->>'summary') > 2000) then
        perform carnet_fail(422, 'invalid', 'summary', 'a summary of at most 2000 characters');
    end if;
    perform diag_check_results(p->'results', 'results');
    return diag_store(p_actor, device_get(p_serial), st, 'manual', null,
                      device_parse_time(p->'performed_at', 'performed_at'), p->>'summary',
                      p->'results', p_req);
end $$;

-- POST /api/devices/{serial}/diagnostics/import: {store_id, report} where report is the JSON
-- a diagnostics tool writes (format "carnet-diag/1"):
--   {"format": "carnet-diag/1", "tool": {"name", "version"}, "device": {"serial"},
--    "started_at": "...", "tests": [{"id": "battery", "status": "PASS"|"FAIL",
--    "measurements": {"health_percent": {"value": 87, "unit": "%"}, ...}, "message": "..."}]}
-- It becomes one session. Anything malformed is refused whole (422 naming the element).
create function device_diagnostic_import(p_actor bigint, p_serial text, p jsonb, p_req text)
returns json language plpgsql as $$
declare
    st bigint := device_store_from(p->'store_id', 'store_id');
    rep jsonb := p->'report';
    d devices%rowtype;
    t jsonb;
    m record;
    results jsonb := '[]';
    vals jsonb;
    i int := 0;
    f text;
    tool text;
begin
    if jsonb_typeof(rep) is distinct from 'object' then
        perform carnet_fail(422, 'invalid', 'report', 'the report is a JSON object');
    end if;
    if rep->>'format' is distinct from 'carnet-diag/1' then
        perform carnet_fail(422, 'unsupported_format', 'report.format',
            'this importer reads reports of format carnet-diag/1');
    end if;
    if jsonb_typeof(rep->'tool') is distinct from 'object'
       or jsonb_typeof(rep->'tool'->'name') is distinct from 'string'
       or length(rep->'tool'->>'name') not between 1 and 100 then
        perform carnet_fail(422, 'invalid', 'report.tool.name', 'the tool name is required');
    end if;
    tool := left(concat_ws(' ', rep->'tool'->>'name', rep->'tool'->>'version'), 200);
    d := device_get(p_serial);
    if rep #>> '{device,serial}' is not null
       and device_serial_normalize(rep #>> '{device,serial}', 'report.device.serial') <> d.serial then
        perform carnet_fail(422, 'serial_mismatch', 'report.device.serial',
            'this report is about another device');
    end if;
    if jsonb_typeof(rep->'tests') is distinct from 'array' or jsonb_array_length(rep->'tests') = 0 then
        perform carnet_fail(422, 'invalid', 'report.tests', 'the report has no tests');
    end if;
    for t in select * from jsonb_array_elements(rep->'tests') loop
        f := format('report.tests[%s]', i);
        if jsonb_typeof(t) <> 'object' or jsonb_typeof(t->'id') is distinct from 'string' then
            perform carnet_fail(422, 'invalid', f || '.id', 'each test has an id');
        end if;
        if upper(coalesce(t->>'status', '')) not in ('PASS', 'FAIL') then
            perform carnet_fail(422, 'invalid', f || '.status', 'a test status is PASS or FAIL');
        end if;
        vals := '[]';
        if t ? 'measurements' then
            if jsonb_typeof(t->'measurements') <> 'object' then
                perform carnet_fail(422, 'invalid', f || '.measurements',
                    'measurements map names to {value, unit}');
            end if;
            for m in select key, value from jsonb_each(t->'measurements') loop
                if jsonb_typeof(m.value) <> 'object' or lower(m.key) !~ '^[a-z0-9_.]{1,64}$'
                   or jsonb_typeof(m.value->'value') is distinct from 'number' then
                    perform carnet_fail(422, 'invalid', f || '.measurements.' || left(m.key, 64),
                        'a measurement is named [a-z0-9_.] and is {value: number, unit?}');
                end if;
                if m.value->'unit' is not null and (jsonb_typeof(m.value->'unit') <> 'string'
                                                    or length(m.value->>'unit') not between 1 and 16) then
                    perform carnet_fail(422, 'invalid', f || '.measurements.' || m.key || '.unit',
                        'a unit of 1 to 16 characters');
                end if;
                vals := vals || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                    'name', lower(m.key), 'value', m.value->'value', 'unit', m.value->'unit')));
            end loop;
        end if;
        if t ? 'message' and (jsonb_typeof(t->'message') <> 'string' or length(t->>'message') > 2000) then
            perform carnet_fail(422, 'invalid', f || '.message', 'a message of at most 2000 characters');
        end if;
        if length(t->>'id') not between 1 and 100 then
            perform carnet_fail(422, 'invalid', f || '.id', 'a test id of 1 to 100 characters');
        end if;
        results := results || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
            'test', t->'id', 'passed', upper(t->>'status') = 'PASS', 'values', vals,
            'note', t->'message')));
        i := i + 1;
    end loop;
    if jsonb_array_length(results) > 500 then
        perform carnet_fail(422, 'invalid', 'report.tests', 'at most 500 tests in one report');
    end if;
    -- Every element was checked above with the report's names; this is the same gate a manual
    -- session passes, so both kinds of session are stored in one shape.
    perform diag_check_results(results, 'report.tests');
    return diag_store(p_actor, d, st, 'import', tool,
                      device_parse_time(rep->'started_at', 'report.started_at'),
                      rep->>'summary', results, p_req);
end $$;

-- GET /api/devices/{serial}/trends?metric=: each measured value across sessions, oldest first.
create function device_trends(p_actor bigint, p_serial text, p_metric text, p_req text)
returns json language plpgsql as $$
declare
    d devices%rowtype := device_get(p_serial);
    out json;
begin
    select coalesce(json_object_agg(name, points order by name), '{}') into out
    from (select name, json_agg(json_build_object('at', performed_at, 'value', value,
                                                  'unit', unit, 'session_id', session_id)
                                order by performed_at, session_id) as points
          from diagnostic_values
          where device_id = d.id and (p_metric is null or name = p_metric)
          group by name) x;
    perform carnet_audit(p_actor, 'read', 'device', d.id::text, p_req);
    return json_build_object('serial', d.serial, 'metrics', out);
end $$;

-- ---------------------------------------------------------------------------------------------
-- Devices: the record, create/update, owners, notes, verification, search

-- GET /api/devices/{serial}?before=&limit=: the device, its owners (redacted where the caller
-- may not see them), its repairs, and one page of the record, newest first.
create function device_record(p_actor bigint, p_serial text, p_before bigint, p_limit int,
                              p_req text) returns json
language plpgsql as $$
declare
    d devices%rowtype := device_get(p_serial);
    entries json;
    last_id bigint;
    more boolean;
begin
    -- The one indexed read of the record: record_entries_device_idx, keyset on (device_id, id).
    select coalesce(json_agg(j order by id desc), '[]'), min(id) into entries, last_id
    from (select e.id, json_build_object(
                'id', e.id, 'kind', e.kind, 'at', e.at, 'store_id', e.store_id,
                'ref_type', e.ref_type, 'ref_id', e.ref_id, 'content', e.content,
                'corrects', e.corrects,
                'corrected_by', (select min(c.id) from record_entries c where c.corrects = e.id),
                'actor', case when e.actor is null then null
                              else json_build_object('id', s.id, 'name', s.name) end) as j
          from record_entries e left join staff s on s.id = e.actor
          where e.device_id = d.id and (p_before is null or e.id < p_before)
          order by e.id desc limit p_limit) x;
    more := last_id is not null and exists (
        select 1 from record_entries where device_id = d.id and id < last_id);
    perform carnet_audit(p_actor, 'read', 'device', d.id::text, p_req);
    return json_build_object(
        'device', device_json(d),
        'owner', (select device_owner_json(p_actor, o) from device_owners o
                  where o.device_id = d.id and o.until is null),
        'owners', (select coalesce(json_agg(device_owner_json(p_actor, o) order by o.since desc), '[]')
                   from device_owners o where o.device_id = d.id),
        'repairs', (select coalesce(json_agg(json_build_object('id', r.id, 'number', r.number,
                        'state', r.state, 'store_id', r.store_id, 'opened_at', r.opened_at,
                        'promised_at', r.promised_at) order by r.id desc), '[]')
                    from repair_orders r where r.device_id = d.id),
        -- Bookings made for this device (002); their steps and visits are entries below.
        'appointments', (select coalesce(json_agg(json_build_object('id', a.id,
                             'store_id', a.store_id, 'status', a.status,
                             'starts_at', a.starts_at,
                             'service', (select name from services where id = a.service_id))
                             order by a.starts_at desc), '[]')
                         from appointments a where a.device_serial = d.serial),
        -- Key values at a glance on the first page: each measured value's latest reading and
        -- the one before it (GET .../trends has the whole series).
        'trends', case when p_before is null then (
            select coalesce(json_object_agg(name, json_build_object(
                       'latest', v[1], 'previous', v[2], 'unit', unit, 'at', at) order by name), '{}')
            from (select name, (array_agg(value order by performed_at desc, session_id desc))[1:2] as v,
                         (array_agg(unit order by performed_at desc, session_id desc))[1] as unit,
                         max(performed_at) as at
                  from diagnostic_values where device_id = d.id group by name) t) end,
        'entries', entries,
        'next_before', case when more then last_id end);
end $$;

-- PUT /api/devices/{serial}: {model?, warranty_end?} creates the device or updates it.
create function device_put(p_actor bigint, p_serial text, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    s text := device_serial_normalize(p_serial);
    d devices%rowtype;
    created boolean := false;
    new_model text;
    new_end date;
begin
    if p ? 'model' and p->'model' <> 'null'::jsonb
       and (jsonb_typeof(p->'model') <> 'string' or length(p->>'model') not between 1 and 200) then
        perform carnet_fail(422, 'invalid', 'model', 'a model name of 1 to 200 characters');
    end if;
    if p ? 'warranty_end' and p->'warranty_end' <> 'null'::jsonb
       and (jsonb_typeof(p->'warranty_end') <> 'string'
            or (p->>'warranty_end') !~ '^\d{4}-\d\d-\d\d$') then
        perform carnet_fail(422, 'invalid', 'warranty_end', 'a date, YYYY-MM-DD');
    end if;
    begin
        new_end := (p->>'warranty_end')::date;
    exception when others then
        perform carnet_fail(422, 'invalid', 'warranty_end', 'a date, YYYY-MM-DD');
    end;
    select * into d from devices where serial = s for update;
    if not found then
        insert into devices (serial) values (s) on conflict (serial) do nothing;
        select * into d from devices where serial = s for update;
        created := true;
    end if;
    new_model := case when p ? 'model' then p->>'model' else d.model end;
    if not (p ? 'warranty_end') then
        new_end := d.warranty_end;
    end if;
    if created or new_model is distinct from d.model or new_end is distinct from d.warranty_end then
        update devices set model = new_model, warranty_end = new_end where id = d.id
            returning * into d;
        perform record_append(d.id, 'device_update',
            jsonb_build_object('model', new_model, 'warranty_end', new_end, 'created', created),
            p_actor);
        select * into d from devices where id = d.id;
        perform carnet_audit(p_actor, case when created then 'create' else 'update' end,
                             'device', d.id::text, p_req);
    end if;
    return json_build_object('device', device_json(d), 'created', created);
end $$;

-- Makes `p` (an {name, email?, phone?} object) the device's current owner, closing the previous
-- ownership, unless it is already the current owner. Returns the owner row.
create function device_owner_set(p_actor bigint, d devices, p jsonb, p_store bigint,
                                 p_field text) returns device_owners
language plpgsql as $$
declare
    cur device_owners%rowtype;
    o device_owners%rowtype;
    em text;
    ph text;
begin
    if jsonb_typeof(p) is distinct from 'object' then
        perform carnet_fail(422, 'invalid', p_field, 'an owner is {name, email?, phone?}');
    end if;
    if jsonb_typeof(p->'name') is distinct from 'string' or length(btrim(p->>'name')) not between 1 and 200 then
        perform carnet_fail(422, 'invalid', p_field || '.name', 'a name of 1 to 200 characters');
    end if;
    em := nullif(btrim(p->>'email'), '');
    -- (no angle brackets: the outbox must be able to write to it)
    if em is not null and (em !~ '^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$' or length(em) > 254) then
        perform carnet_fail(422, 'invalid', p_field || '.email', 'an email address');
    end if;
    ph := device_phone_normalize(p->>'phone');
    if p->>'phone' is not null and (ph is null or ph !~ '^\+?[0-9]{6,15}$') then
        perform carnet_fail(422, 'invalid', p_field || '.phone', 'a phone number of 6 to 15 digits');
    end if;
    if em is null and ph is null then
        perform carnet_fail(422, 'required', p_field || '.email',
            'an email address or a phone number is required');
    end if;
    select * into cur from device_owners where device_id = d.id and until is null for update;
    if found and cur.name = btrim(p->>'name') and cur.email is not distinct from em
       and cur.phone is not distinct from ph then
        return cur;
    end if;
    update device_owners set until = now() where id = cur.id;
    insert into device_owners (device_id, name, email, phone)
    values (d.id, btrim(p->>'name'), em, ph) returning * into o;
    perform record_append(d.id, 'owner_change',
        jsonb_build_object('owner_id', o.id, 'previous_owner_id', cur.id), p_actor, p_store,
        'owner', o.id);
    return o;
end $$;

-- POST /api/devices/{serial}/owners: {store_id, name, email?, phone?}
create function device_owner_add(p_actor bigint, p_serial text, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    st bigint := device_store_from(p->'store_id', 'store_id');
    d devices%rowtype;
    o device_owners%rowtype;
begin
    perform carnet_require(p_actor, st, array['specialist', 'technician', 'manager']);
    d := device_get(p_serial);
    o := device_owner_set(p_actor, d, p - 'store_id', st, 'owner');
    perform carnet_audit(p_actor, 'owner_change', 'device', d.id::text, p_req);
    return json_build_object('serial', d.serial, 'owner', device_owner_json(p_actor, o));
end $$;

-- POST /api/devices/{serial}/notes: {text, store_id?, corrects?}
create function device_note_add(p_actor bigint, p_serial text, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    d devices%rowtype := device_get(p_serial);
    st bigint;
    corr bigint;
    e record_entries%rowtype;
begin
    if jsonb_typeof(p->'text') is distinct from 'string' or length(btrim(p->>'text')) not between 1 and 4000 then
        perform carnet_fail(422, 'invalid', 'text', 'a note of 1 to 4000 characters');
    end if;
    if p->'store_id' is not null and p->'store_id' <> 'null'::jsonb then
        st := device_store_from(p->'store_id', 'store_id');
        perform carnet_require(p_actor, st, array['specialist', 'technician', 'manager']);
    end if;
    if p->'corrects' is not null and p->'corrects' <> 'null'::jsonb then
        if jsonb_typeof(p->'corrects') <> 'number' or (p->>'corrects') !~ '^[0-9]{1,18}$' then
            perform carnet_fail(422, 'invalid', 'corrects', 'the id of the entry this corrects');
        end if;
        corr := (p->>'corrects')::bigint;
    end if;
    e := record_append(d.id, case when corr is null then 'note' else 'correction' end,
                       jsonb_build_object('text', btrim(p->>'text')), p_actor, st, null, null, corr);
    perform carnet_audit(p_actor, 'note', 'device', d.id::text, p_req);
    return json_build_object('id', e.id, 'kind', e.kind, 'at', e.at, 'corrects', e.corrects,
                             'content', e.content);
end $$;

-- GET /api/devices/{serial}/verify: the chain as stored, for carnetd to recompute with libsodium.
-- Entries come oldest first as [id, prev_hash hex, hash hex, canonical text].
create function device_chain(p_actor bigint, p_serial text, p_req text) returns json
language plpgsql as $$
declare
    d devices%rowtype := device_get(p_serial);
begin
    perform carnet_audit(p_actor, 'verify', 'device', d.id::text, p_req);
    return json_build_object('serial', d.serial, 'head', encode(d.head_hash, 'hex'),
        'head_entry', d.head_entry,
        'entries', (select coalesce(json_agg(json_build_array(e.id, encode(e.prev_hash, 'hex'),
                                    encode(e.hash, 'hex'), record_canonical(e)) order by e.id), '[]')
                    from record_entries e where e.device_id = d.id));
end $$;

-- GET /api/devices?q=: serial (exact, then prefix), owner email or phone, the email or phone of
-- a booking for the device, repair order number.
-- Matches say how they matched; owners' details are not part of the answer.
create function device_search(p_actor bigint, p_q text, p_limit int, p_req text) returns json
language plpgsql as $$
declare
    q text := btrim(p_q);
    s text := upper(regexp_replace(q, '\s', '', 'g'));
    ph text := device_phone_normalize(q);
    out json;
begin
    if q = '' or length(q) > 254 then
        perform carnet_fail(422, 'invalid', 'q', 'a search of 1 to 254 characters');
    end if;
    with hits as (
        select d.id, 'serial' as how, null::bigint as repair_id, null::text as number, 1 as rank
        from devices d where d.serial = s
        union all
        select d.id, 'serial_prefix', null, null, 2
        from (select * from devices
              where length(s) >= 3 and s ~ '^[A-Z0-9]+$' and serial like s || '%' and serial <> s
              order by serial limit p_limit) d
        union all
        select o.device_id, 'email', null, null, 3
        from device_owners o where position('@' in q) > 0 and lower(o.email) = lower(q)
        union all
        select o.device_id, 'phone', null, null, 3
        from device_owners o where ph ~ '^\+?[0-9]{6,15}$' and position('@' in q) = 0
                               and o.phone = ph
        union all
        -- The contact a customer booked with, for a device they named in the booking.
        select dv.id, 'appointment_email', null, null, 4
        from appointments a join devices dv on dv.serial = a.device_serial
        where position('@' in q) > 0 and a.device_serial is not null
          and lower(a.customer_email) = lower(q)
        union all
        select dv.id, 'appointment_phone', null, null, 4
        from appointments a join devices dv on dv.serial = a.device_serial
        where ph ~ '^\+?[0-9]{7,15}$' and position('@' in q) = 0 and a.device_serial is not null
          and a.customer_phone = '+' || ltrim(ph, '+')
        union all
        select r.device_id, 'repair', r.id, r.number, 0
        from repair_orders r where upper(r.number) = upper(q)
    ), best as (
        select distinct on (h.id) h.* from hits h order by h.id, h.rank
    )
    select coalesce(json_agg(json_build_object('serial', d.serial, 'model', d.model,
                                               'match', b.how, 'repair_id', b.repair_id,
                                               'repair_number', b.number)
                             order by b.rank, d.serial), '[]')
      into out
    from (select * from best order by rank, id limit p_limit) b join devices d on d.id = b.id;
    -- The query itself may be an email or a phone number: it stays out of the audit log.
    perform carnet_audit(p_actor, 'search', 'device', null, p_req);
    return json_build_object('results', out);
end $$;

-- ---------------------------------------------------------------------------------------------
-- Repair orders

-- The states (enum repair_state in include/repair.h) and, once, the moves between them.
create table repair_states (
    state text primary key,
    terminal boolean not null
);
insert into repair_states values
    ('intake', false), ('diagnosing', false), ('awaiting_approval', false),
    ('awaiting_parts', false), ('repairing', false), ('testing', false), ('ready', false),
    ('collected', true), ('returned_unrepaired', true), ('cancelled', true);

create table repair_transitions (
    from_state text not null references repair_states(state),
    to_state text not null references repair_states(state),
    primary key (from_state, to_state)
);
insert into repair_transitions values
    ('intake', 'diagnosing'), ('intake', 'cancelled'),
    ('diagnosing', 'awaiting_approval'), ('diagnosing', 'awaiting_parts'),
    ('diagnosing', 'repairing'), ('diagnosing', 'returned_unrepaired'), ('diagnosing', 'cancelled'),
    ('awaiting_approval', 'awaiting_parts'), ('awaiting_approval', 'repairing'),
    ('awaiting_approval', 'returned_unrepaired'), ('awaiting_approval', 'cancelled'),
    ('awaiting_parts', 'repairing'), ('awaiting_parts', 'returned_unrepaired'),
    ('awaiting_parts', 'cancelled'),
    ('repairing', 'testing'), ('repairing', 'awaiting_parts'),
    ('repairing', 'returned_unrepaired'),
    ('testing', 'ready'), ('testing', 'repairing'),
    ('ready', 'collected');

-- Per-store counters behind the human-friendly order numbers (R-PARIS-OPERA-00042).
create table repair_counters (
    store_id bigint primary key references stores(id),
    last int not null
);

create table repair_orders (
    id bigint generated always as identity primary key,
    number text not null unique,
    device_id bigint not null references devices(id),
    store_id bigint not null references stores(id),
    state text not null default 'intake' references repair_states(state),
    problem text not null check (length(problem) between 1 and 2000),
    intake jsonb not null check (jsonb_typeof(intake) = 'object'),
    promised_at timestamptz,
    kept_overnight boolean not null default false,
    estimate_cents int check (estimate_cents between 0 and 100000000),
    estimate_currency text check (estimate_currency ~ '^[A-Z]{3}$'),
    estimate_lines jsonb,
    estimate_state text not null default 'none'
        check (estimate_state in ('none', 'pending', 'approved', 'declined')),
    estimate_decided_at timestamptz,
    opened_by bigint references staff(id),
    opened_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((estimate_state = 'none') = (estimate_cents is null))
);
create index repair_orders_device_idx on repair_orders (device_id, id desc);
create index repair_orders_store_state_idx on repair_orders (store_id, state);
create index repair_orders_number_upper_idx on repair_orders (upper(number));

-- Who moved a repair where, and when.
create table repair_moves (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    from_state text references repair_states(state),
    to_state text not null references repair_states(state),
    actor bigint references staff(id),
    at timestamptz not null default now(),
    note text check (length(note) <= 2000)
);
create index repair_moves_repair_idx on repair_moves (repair_id, id);

create table repair_parts (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    part_number text not null check (part_number ~ '^[A-Za-z0-9._/-]{1,64}$'),
    part_serial text check (part_serial ~ '^[A-Z0-9._/-]{1,64}$'),
    description text check (length(description) <= 200),
    quantity int not null default 1 check (quantity between 1 and 100),
    actor bigint references staff(id),
    at timestamptz not null default now()
);
create index repair_parts_repair_idx on repair_parts (repair_id);

-- Private customer links: only the BLAKE2b hash of each token (util_token_hash in carnetd) is
-- kept. One token, one repair, one purpose.
create table repair_links (
    token_hash text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
    repair_id bigint not null references repair_orders(id),
    purpose text not null check (purpose in ('status', 'estimate')),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz,
    revoked_at timestamptz
);
create index repair_links_repair_idx on repair_links (repair_id, purpose);

create function repair_allowed_moves(p_state text) returns json
language sql stable as $$
    select coalesce(json_agg(to_state order by to_state), '[]')
    from repair_transitions where from_state = p_state
$$;

-- The staff view of a repair order.
create function repair_json(p_id bigint) returns json
language sql stable as $$
    select json_build_object(
        'id', r.id, 'number', r.number, 'store_id', r.store_id, 'state', r.state,
        'device', json_build_object('id', d.id, 'serial', d.serial, 'model', d.model),
        'problem', r.problem, 'intake', r.intake, 'promised_at', r.promised_at,
        'kept_overnight', r.kept_overnight,
        'estimate', case when r.estimate_state = 'none' then null
                         else json_build_object('amount_cents', r.estimate_cents,
                                'currency', r.estimate_currency, 'lines', r.estimate_lines,
                                'state', r.estimate_state, 'decided_at', r.estimate_decided_at) end,
        'opened_at', r.opened_at, 'updated_at', r.updated_at,
        'allowed_moves', repair_allowed_moves(r.state),
        'moves', (select coalesce(json_agg(json_build_object('from', m.from_state, 'to', m.to_state,
                      'at', m.at, 'note', m.note,
                      'actor', case when s.id is null then null
                                    else json_build_object('id', s.id, 'name', s.name) end)
                      order by m.id), '[]')
                  from repair_moves m left join staff s on s.id = m.actor where m.repair_id = r.id),
        'parts', (select coalesce(json_agg(json_build_object('id', p.id,
                      'part_number', p.part_number, 'serial', p.part_serial,
                      'description', p.description, 'quantity', p.quantity, 'at', p.at)
                      order by p.id), '[]')
                  from repair_parts p where p.repair_id = r.id),
        'notes', (select coalesce(json_agg(json_build_object('id', e.id, 'at', e.at,
                      'text', e.content->>'text', 'actor_id', e.actor) order by e.id), '[]')
                  from record_entries e where e.ref_type = 'repair' and e.ref_id = r.id
                    and e.kind = 'repair_note'))
    from repair_orders r join devices d on d.id = r.device_id
    where r.id = p_id
$$;

-- Locks a repair order the actor may work on, or fails (404 / 403).
create function repair_lock(p_actor bigint, p_id bigint, p_roles text[]) returns repair_orders
language plpgsql as $$
declare
    r repair_orders%rowtype;
begin
    select * into r from repair_orders where id = p_id for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such repair order');
    end if;
    perform carnet_require(p_actor, r.store_id, p_roles);
    return r;
end $$;

create function repair_check_open(r repair_orders) returns void
language plpgsql stable as $$
begin
    if (select terminal from repair_states where state = r.state) then
        perform carnet_fail(409, 'repair_closed', 'state',
            format('this repair is %s: it cannot change any more', r.state));
    end if;
end $$;

-- ---- what the customer hears (the outbox and threads of 006) ----

-- The device's current owner and how to reach them (email when known, else SMS); no row when
-- the device has no owner on file, and then nobody is told.
create function repair_contact(p_device bigint, out channel text, out recipient text,
                               out name text)
returns setof record language sql stable as $$
    select case when email is not null then 'email' else 'sms' end, coalesce(email, phone), name
    from device_owners where device_id = p_device and until is null
$$;

-- A state as the customer reads it in a message.
create function repair_state_label(p_state text) returns text
language sql immutable as $$
    select replace(p_state, '_', ' ')
$$;

-- Queues one message about a repair for its owner. The status link given when the repair was
-- opened (status_link) carries over in the outbox and is the link unless p_data names another.
create function repair_notify(r repair_orders, p_kind text, p_data jsonb default '{}')
returns void language plpgsql as $$
declare
    c record;
    d jsonb := jsonb_strip_nulls(p_data);
begin
    select * into c from repair_contact(r.device_id);
    if not found then
        return;
    end if;
    if not d ? 'link' then
        d := d || jsonb_strip_nulls(jsonb_build_object(
            'link', coalesce(d->>'status_link', outbox_ref_data('repair', r.id)->>'status_link')));
    end if;
    perform outbox_enqueue(p_kind, c.channel, c.recipient, 'en',
                           jsonb_build_object('name', c.name, 'code', r.number) || d,
                           r.store_id, 'repair', r.id);
end $$;

-- Watches the repair's promised date (early warnings, 006), or stops when there is none.
create function repair_promise_watch(r repair_orders) returns void
language plpgsql as $$
declare
    c record;
begin
    select * into c from repair_contact(r.device_id);
    if r.promised_at is null or not found then
        perform promise_resolve('repair', r.id);
        return;
    end if;
    perform promise_track(r.store_id, 'repair', r.id, r.promised_at, c.channel, c.recipient, 'en',
                          jsonb_strip_nulls(jsonb_build_object(
                              'name', c.name, 'code', r.number,
                              'link', outbox_ref_data('repair', r.id)->>'status_link')),
                          r.state);
end $$;

-- POST /api/stores/{store}/repairs: {serial, problem, intake: {checklist: [{item, ok, note?}],
-- accessories?, passcode_provided?}, promised_at?, kept_overnight?, owner?: {name, email?,
-- phone?}}. p_status_hash is the hash of the customer's status link token made by carnetd;
-- p_status_token the token itself, for the link in the owner's first message.
create function repair_open(p_actor bigint, p_store bigint, p jsonb, p_status_hash text,
                            p_req text, p_status_token text default null) returns json
language plpgsql as $$
declare
    d devices%rowtype;
    r repair_orders%rowtype;
    n int;
    code text;
    it jsonb := p->'intake';
    c jsonb;
    oc record;
    i int := 0;
    promised timestamptz;
begin
    perform carnet_require(p_actor, p_store, array['technician', 'manager']);
    if jsonb_typeof(p->'problem') is distinct from 'string'
       or length(btrim(p->>'problem')) not between 1 and 2000 then
        perform carnet_fail(422, 'invalid', 'problem', 'describe the problem (1 to 2000 characters)');
    end if;
    if jsonb_typeof(it) is distinct from 'object' then
        perform carnet_fail(422, 'required', 'intake', 'the intake condition checklist is required');
    end if;
    if jsonb_typeof(it->'checklist') is distinct from 'array'
       or jsonb_array_length(it->'checklist') not between 1 and 50 then
        perform carnet_fail(422, 'invalid', 'intake.checklist', 'a checklist of 1 to 50 items');
    end if;
    for c in select * from jsonb_array_elements(it->'checklist') loop
        if jsonb_typeof(c) <> 'object' or jsonb_typeof(c->'item') is distinct from 'string'
           or length(c->>'item') not between 1 and 100 then
            perform carnet_fail(422, 'invalid', format('intake.checklist[%s].item', i),
                'each checklist item is named (1 to 100 characters)');
        end if;
        if jsonb_typeof(c->'ok') is distinct from 'boolean' then
            perform carnet_fail(422, 'invalid', format('intake.checklist[%s].ok', i),
                'ok is true or false');
        end if;
        if c ? 'note' and (jsonb_typeof(c->'note') <> 'string' or length(c->>'note') > 500) then
            perform carnet_fail(422, 'invalid', format('intake.checklist[%s].note', i),
                'a note of at most 500 characters');
        end if;
        i := i + 1;
    end loop;
    if it ? 'accessories' and (jsonb_typeof(it->'accessories') <> 'string'
                               or length(it->>'accessories') > 500) then
        perform carnet_fail(422, 'invalid', 'intake.accessories', 'at most 500 characters');
    end if;
    if it ? 'passcode_provided' and jsonb_typeof(it->'passcode_provided') <> 'boolean' then
        perform carnet_fail(422, 'invalid', 'intake.passcode_provided', 'true or false');
    end if;
    if p ? 'kept_overnight' and jsonb_typeof(p->'kept_overnight') <> 'boolean' then
        perform carnet_fail(422, 'invalid', 'kept_overnight', 'true or false');
    end if;
    promised := device_parse_time(p->'promised_at', 'promised_at');
    if promised is not null and promised < now() then
        perform carnet_fail(422, 'invalid', 'promised_at', 'a promised date is in the future');
    end if;
    n := device_ensure(p->>'serial');
    select * into d from devices where id = n;
    insert into repair_counters (store_id, last) values (p_store, 1)
    on conflict (store_id) do update set last = repair_counters.last + 1 returning last into n;
    select upper(s.code) into code from stores s where s.id = p_store;
    insert into repair_orders (number, device_id, store_id, problem, intake, promised_at,
                               kept_overnight, opened_by)
    values (format('R-%s-%s', code, lpad(n::text, 5, '0')), d.id, p_store, btrim(p->>'problem'),
            it, promised, coalesce((p->>'kept_overnight')::boolean, false), p_actor)
    returning * into r;
    insert into repair_moves (repair_id, from_state, to_state, actor)
    values (r.id, null, 'intake', p_actor);
    insert into repair_links (token_hash, repair_id, purpose, expires_at)
    values (p_status_hash, r.id, 'status', now() + interval '1 year');
    if p->'owner' is not null and p->'owner' <> 'null'::jsonb then
        perform device_owner_set(p_actor, d, p->'owner', p_store, 'owner');
    end if;
    perform record_append(d.id, 'repair_opened',
        jsonb_build_object('number', r.number, 'problem', r.problem, 'intake', r.intake,
                           'promised_at', r.promised_at, 'kept_overnight', r.kept_overnight),
        p_actor, p_store, 'repair', r.id);
    -- The owner hears of it, can write to the store from the status link, and is warned if the
    -- promised date slips.
    for oc in select * from repair_contact(d.id) loop
        perform message_thread_open(p_store, 'repair', r.id, oc.channel, oc.recipient, 'en',
                                    oc.name, d.id);
    end loop;
    perform repair_notify(r, 'repair_status', jsonb_build_object(
        'state', repair_state_label(r.state),
        'status_link', '{{public_url}}/repair/#' || p_status_token));
    if r.promised_at is not null then
        perform repair_promise_watch(r);
    end if;
    perform carnet_audit(p_actor, 'create', 'repair', r.id::text, p_req);
    return repair_json(r.id);
end $$;

-- GET /api/repairs/{id}
create function repair_get(p_actor bigint, p_id bigint, p_req text) returns json
language plpgsql as $$
declare
    st bigint;
begin
    select store_id into st from repair_orders where id = p_id;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such repair order');
    end if;
    perform carnet_require(p_actor, st, array['specialist', 'technician', 'manager']);
    perform carnet_audit(p_actor, 'read', 'repair', p_id::text, p_req);
    return repair_json(p_id);
end $$;

-- POST /api/repairs/{id}/transition: {to, note?}. Moves not in repair_transitions are 409
-- bad_transition on field state, with the allowed moves in the error.
create function repair_transition(p_actor bigint, p_id bigint, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    to_st text := p->>'to';
    c record;
begin
    if not exists (select 1 from repair_states where state = to_st) then
        perform carnet_fail(422, 'invalid', 'to', 'not a repair state');
    end if;
    if p ? 'note' and (jsonb_typeof(p->'note') <> 'string' or length(p->>'note') > 2000) then
        perform carnet_fail(422, 'invalid', 'note', 'a note of at most 2000 characters');
    end if;
    if not exists (select 1 from repair_transitions where from_state = r.state and to_state = to_st) then
        perform carnet_fail_extra(409, 'bad_transition', 'state',
            format('a repair cannot move from %s to %s', r.state, to_st),
            jsonb_build_object('from', r.state, 'to', to_st,
                               'allowed', repair_allowed_moves(r.state)::jsonb));
    end if;
    if to_st = 'awaiting_approval' and r.estimate_state = 'none' then
        perform carnet_fail(409, 'no_estimate', 'estimate',
            'write an estimate before asking the customer to approve it');
    end if;
    if r.state = 'awaiting_approval' and to_st in ('awaiting_parts', 'repairing')
       and r.estimate_state <> 'approved' then
        perform carnet_fail(409, 'estimate_not_approved', 'estimate',
            'the customer has not approved the estimate');
    end if;
    update repair_orders set state = to_st, updated_at = now() where id = r.id;
    insert into repair_moves (repair_id, from_state, to_state, actor, note)
    values (r.id, r.state, to_st, p_actor, p->>'note');
    perform record_append(r.device_id, 'repair_state',
        jsonb_strip_nulls(jsonb_build_object('number', r.number, 'from', r.state, 'to', to_st,
                                             'note', p->>'note')),
        p_actor, r.store_id, 'repair', r.id);
    -- The customer hears of every move; the promise watch follows the state, and a repair that
    -- is ready or over has no promise left to break.
    perform promise_update('repair', r.id, to_st);
    if (select terminal from repair_states where state = to_st) or to_st = 'ready' then
        perform promise_resolve('repair', r.id);
    end if;
    if to_st = 'ready' then
        perform repair_notify(r, 'ready_for_pickup');
    elsif to_st = 'collected' then
        for c in select * from repair_contact(r.device_id) loop
            perform survey_offer(r.store_id, 'repair', r.id, c.channel, c.recipient, 'en',
                                 jsonb_build_object('name', c.name, 'code', r.number));
        end loop;
    else
        perform repair_notify(r, 'repair_status',
                              jsonb_build_object('state', repair_state_label(to_st)));
    end if;
    perform carnet_audit(p_actor, 'transition', 'repair', r.id::text, p_req);
    return repair_json(r.id);
end $$;

-- PUT /api/repairs/{id}/estimate: {amount_cents, currency?, lines?: [{label, amount_cents}],
-- note?}. A new estimate replaces the old one and its approval link; p_link_hash is the hash of
-- the new approval token made by carnetd, p_link_token the token, for the owner's message.
create function repair_estimate(p_actor bigint, p_id bigint, p jsonb, p_link_hash text,
                                p_req text, p_link_token text default null) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    l jsonb;
    i int := 0;
begin
    if r.state not in ('intake', 'diagnosing', 'awaiting_approval') then
        perform carnet_fail(409, 'bad_state', 'state',
            format('an estimate is written before the repair starts, not in %s', r.state));
    end if;
    if jsonb_typeof(p->'amount_cents') is distinct from 'number'
       or (p->>'amount_cents') !~ '^[0-9]{1,9}$' or (p->>'amount_cents')::bigint > 100000000 then
        perform carnet_fail(422, 'invalid', 'amount_cents', 'an amount in cents, 0 to 100000000');
    end if;
    if p ? 'currency' and (p->>'currency') !~ '^[A-Z]{3}$' then
        perform carnet_fail(422, 'invalid', 'currency', 'an ISO 4217 code such as EUR');
    end if;
    if p ? 'lines' then
        if jsonb_typeof(p->'lines') <> 'array' or jsonb_array_length(p->'lines') > 50 then
            perform carnet_fail(422, 'invalid', 'lines', 'a list of at most 50 lines');
        end if;
        for l in select * from jsonb_array_elements(p->'lines') loop
            if jsonb_typeof(l->'label') is distinct from 'string' or length(l->>'label') not between 1 and 200 then
                perform carnet_fail(422, 'invalid', format('lines[%s].label', i), 'a label of 1 to 200 characters');
            end if;
            if jsonb_typeof(l->'amount_cents') is distinct from 'number'
               or (l->>'amount_cents') !~ '^-?[0-9]{1,9}$' then
                perform carnet_fail(422, 'invalid', format('lines[%s].amount_cents', i), 'an amount in cents');
            end if;
            i := i + 1;
        end loop;
    end if;
    update repair_orders set estimate_cents = (p->>'amount_cents')::int,
        estimate_currency = coalesce(p->>'currency', 'EUR'), estimate_lines = coalesce(p->'lines', '[]'),
        estimate_state = 'pending', estimate_decided_at = null, updated_at = now()
    where id = r.id;
    update repair_links set revoked_at = now()
    where repair_id = r.id and purpose = 'estimate' and used_at is null and revoked_at is null;
    insert into repair_links (token_hash, repair_id, purpose, expires_at)
    values (p_link_hash, r.id, 'estimate', now() + interval '30 days');
    perform record_append(r.device_id, 'repair_estimate',
        jsonb_build_object('number', r.number, 'amount_cents', (p->>'amount_cents')::int,
                           'currency', coalesce(p->>'currency', 'EUR'),
                           'lines', coalesce(p->'lines', '[]')),
        p_actor, r.store_id, 'repair', r.id);
    if p_link_token is not null then
        perform repair_notify(r, 'estimate_ready', jsonb_build_object(
            'amount', format('%s.%s %s', (p->>'amount_cents')::bigint / 100,
                             lpad(((p->>'amount_cents')::bigint % 100)::text, 2, '0'),
                             coalesce(p->>'currency', 'EUR')),
            'link', '{{public_url}}/estimate/#' || p_link_token));
    end if;
    perform carnet_audit(p_actor, 'estimate', 'repair', r.id::text, p_req);
    return repair_json(r.id);
end $$;

-- POST /api/repairs/{id}/parts: {part_number, serial?, description?, quantity?}
create function repair_part_add(p_actor bigint, p_id bigint, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    ps text;
    pid bigint;
begin
    perform repair_check_open(r);
    if r.state not in ('diagnosing', 'awaiting_parts', 'repairing', 'testing') then
        perform carnet_fail(409, 'bad_state', 'state',
            format('parts are fitted while diagnosing or repairing, not in %s', r.state));
    end if;
    if (p->>'part_number') is null or (p->>'part_number') !~ '^[A-Za-z0-9._/-]{1,64}$' then
        perform carnet_fail(422, 'invalid', 'part_number', 'a part number of 1 to 64 characters');
    end if;
    if p->'serial' is not null and p->'serial' <> 'null'::jsonb then
        ps := upper(regexp_replace(p->>'serial', '\s', '', 'g'));
        if jsonb_typeof(p->'serial') <> 'string' or ps !~ '^[A-Z0-9._/-]{1,64}$' then
            perform carnet_fail(422, 'invalid', 'serial', 'the new part''s serial, 1 to 64 characters');
        end if;
    end if;
    if p ? 'description' and (jsonb_typeof(p->'description') <> 'string' or length(p->>'description') > 200) then
        perform carnet_fail(422, 'invalid', 'description', 'at most 200 characters');
    end if;
    if p ? 'quantity' and (jsonb_typeof(p->'quantity') <> 'number' or (p->>'quantity') !~ '^[0-9]{1,3}$'
                           or (p->>'quantity')::int not between 1 and 100) then
        perform carnet_fail(422, 'invalid', 'quantity', 'a quantity of 1 to 100');
    end if;
    insert into repair_parts (repair_id, part_number, part_serial, description, quantity, actor)
    values (r.id, p->>'part_number', ps, p->>'description', coalesce((p->>'quantity')::int, 1), p_actor)
    returning id into pid;
    update repair_orders set updated_at = now() where id = r.id;
    perform record_append(r.device_id, 'repair_part',
        jsonb_strip_nulls(jsonb_build_object('number', r.number, 'part_id', pid,
            'part_number', p->>'part_number', 'serial', ps, 'description', p->>'description',
            'quantity', coalesce((p->>'quantity')::int, 1))),
        p_actor, r.store_id, 'repair', r.id);
    perform carnet_audit(p_actor, 'part', 'repair', r.id::text, p_req);
    return repair_json(r.id);
end $$;

-- POST /api/repairs/{id}/notes: {text}: labour notes, staff-only.
create function repair_note_add(p_actor bigint, p_id bigint, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    e record_entries%rowtype;
begin
    if jsonb_typeof(p->'text') is distinct from 'string' or length(btrim(p->>'text')) not between 1 and 4000 then
        perform carnet_fail(422, 'invalid', 'text', 'a note of 1 to 4000 characters');
    end if;
    e := record_append(r.device_id, 'repair_note',
        jsonb_build_object('number', r.number, 'text', btrim(p->>'text')),
        p_actor, r.store_id, 'repair', r.id);
    perform carnet_audit(p_actor, 'note', 'repair', r.id::text, p_req);
    return json_build_object('id', e.id, 'at', e.at, 'text', e.content->>'text', 'repair_id', r.id);
end $$;

-- PUT /api/repairs/{id}/promise: {promised_at?, kept_overnight?, note?}
create function repair_promise(p_actor bigint, p_id bigint, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    previous timestamptz := r.promised_at;
    promised timestamptz;
    overnight boolean;
begin
    perform repair_check_open(r);
    if not (p ? 'promised_at' or p ? 'kept_overnight') then
        perform carnet_fail(422, 'required', 'promised_at', 'send promised_at or kept_overnight');
    end if;
    promised := case when p ? 'promised_at' then device_parse_time(p->'promised_at', 'promised_at')
                     else r.promised_at end;
    if p ? 'promised_at' and promised is not null and promised < now() then
        perform carnet_fail(422, 'invalid', 'promised_at', 'a promised date is in the future');
    end if;
    if p ? 'kept_overnight' and jsonb_typeof(p->'kept_overnight') <> 'boolean' then
        perform carnet_fail(422, 'invalid', 'kept_overnight', 'true or false');
    end if;
    if p ? 'note' and (jsonb_typeof(p->'note') <> 'string' or length(p->>'note') > 2000) then
        perform carnet_fail(422, 'invalid', 'note', 'a note of at most 2000 characters');
    end if;
    overnight := coalesce((p->>'kept_overnight')::boolean, r.kept_overnight);
    update repair_orders set promised_at = promised, kept_overnight = overnight, updated_at = now()
    where id = r.id returning * into r;
    perform repair_promise_watch(r);
    perform record_append(r.device_id, 'repair_promise',
        jsonb_strip_nulls(jsonb_build_object('number', r.number, 'promised_at', promised,
            'previous_promised_at', previous, 'kept_overnight', overnight,
            'note', p->>'note')),
        p_actor, r.store_id, 'repair', r.id);
    perform carnet_audit(p_actor, 'promise', 'repair', r.id::text, p_req);
    return repair_json(r.id);
end $$;

-- The repair behind a customer link of this purpose, or 404 (unknown, revoked) / 410 (expired).
create function repair_link_find(p_hash text, p_purpose text) returns repair_links
language plpgsql stable as $$
declare
    l repair_links%rowtype;
begin
    select * into l from repair_links where token_hash = p_hash and purpose = p_purpose;
    if not found or l.revoked_at is not null then
        perform carnet_fail(404, 'not_found', 'token', 'this link is not valid');
    end if;
    if l.expires_at < now() then
        perform carnet_fail(410, 'expired', 'token', 'this link has expired');
    end if;
    return l;
end $$;

-- What a customer may see of a repair: no serial, no staff, no notes, nothing of anyone else.
create function repair_customer_json(p_id bigint) returns json
language sql stable as $$
    select json_build_object(
        'number', r.number, 'state', r.state, 'promised_at', r.promised_at,
        'kept_overnight', r.kept_overnight, 'opened_at', r.opened_at, 'updated_at', r.updated_at,
        'device', json_build_object('model', d.model, 'serial_end', right(d.serial, 4)),
        'store', json_build_object('name', s.name, 'timezone', s.timezone),
        'estimate', case when r.estimate_state = 'none' then null
                         else json_build_object('amount_cents', r.estimate_cents,
                             'currency', r.estimate_currency, 'lines', r.estimate_lines,
                             'state', r.estimate_state, 'decided_at', r.estimate_decided_at) end,
        'history', (select json_agg(json_build_object('state', m.to_state, 'at', m.at) order by m.id)
                    from repair_moves m where m.repair_id = r.id),
        -- Thread messages (006) are stored as {author: customer|staff, body}.
        'messages', (select coalesce(json_agg(json_build_object('at', e.at,
                         'from', coalesce(e.content->>'from',
                                          case e.content->>'author' when 'staff' then 'store'
                                                                    when 'customer' then 'customer' end,
                                          case when e.actor is null
                                               then 'customer' else 'store' end),
                         'text', coalesce(e.content->>'text', e.content->>'body'))
                         order by e.id), '[]')
                     from record_entries e
                     where e.ref_type = 'repair' and e.ref_id = r.id and e.kind = 'message'))
    from repair_orders r join devices d on d.id = r.device_id join stores s on s.id = r.store_id
    where r.id = p_id
$$;

-- GET /api/repair-status/{token}
create function repair_status(p_hash text) returns json
language plpgsql stable as $$
begin
    return repair_customer_json((repair_link_find(p_hash, 'status')).repair_id);
end $$;

-- GET /api/estimates/{token}
create function repair_estimate_view(p_hash text) returns json
language plpgsql stable as $$
begin
    return repair_customer_json((repair_link_find(p_hash, 'estimate')).repair_id);
end $$;

-- POST /api/estimates/{token}/approve | /decline. The link is spent once the customer decides.
create function repair_estimate_decide(p_hash text, p_approve boolean) returns json
language plpgsql as $$
declare
    l repair_links%rowtype := repair_link_find(p_hash, 'estimate');
    r repair_orders%rowtype;
begin
    select * into r from repair_orders where id = l.repair_id for update;
    if l.used_at is not null or r.estimate_state <> 'pending' then
        perform carnet_fail(409, 'already_decided', 'estimate',
            'this estimate has already been answered');
    end if;
    if (select terminal from repair_states where state = r.state) then
        perform carnet_fail(409, 'repair_closed', 'state', 'this repair is closed');
    end if;
    update repair_orders set estimate_state = case when p_approve then 'approved' else 'declined' end,
        estimate_decided_at = now(), updated_at = now() where id = r.id;
    update repair_links set used_at = now() where token_hash = p_hash;
    perform record_append(r.device_id,
        case when p_approve then 'estimate_approved' else 'estimate_declined' end,
        jsonb_build_object('number', r.number, 'amount_cents', r.estimate_cents,
                           'currency', r.estimate_currency),
        null, r.store_id, 'repair', r.id);
    perform carnet_audit(null, case when p_approve then 'approve' else 'decline' end,
                         'repair', r.id::text, null);
    return repair_customer_json(r.id);
end $$;
