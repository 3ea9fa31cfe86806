-- Devices: serial numbers, the append-only hash-chained health record (and the triggers that
-- keep it so), owners, diagnostics typed in or imported, trends, search.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations. A changed argument list needs a migration that drops
-- the old signature first (see 008_api_functions.sql).

-- Serial numbers are stored normalised: trimmed, upper-case, without spaces; letters and digits
-- only; a 15-digit value is an IMEI and must pass its Luhn check. Raises 422 on field `p_field`.
create or replace function device_serial_normalize(p text, p_field text default 'serial') returns text
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

-- The text an entry's hash covers. Used at write time by the trigger and at verification time
-- to hand carnetd the entry as it is stored now.
create or replace function record_canonical(e record_entries) returns text
language sql stable as $$
    select jsonb_build_object(
        'id', e.id, 'device', e.device_id, 'kind', e.kind, 'store', e.store_id,
        'ref_type', e.ref_type, 'ref_id', e.ref_id, 'content', e.content,
        'corrects', e.corrects, 'actor', e.actor,
        'at_us', (extract(epoch from e.at) * 1000000)::bigint)::text
$$;

create or replace function record_chain_before_insert() returns trigger
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

create or replace trigger record_entries_chain before insert on record_entries
    for each row execute function record_chain_before_insert();

-- The one exception: a customer's erasure (customer_erase in customers.sql) redacts the text of
-- an old 'message' entry in place, entry by entry, naming the entry in carnet.redact_entry for
-- its transaction; only the content may change, the hashes stay, and an 'erasure' entry appended
-- to the chain vouches for the redacted text (see device_chain_check in server/device.c).
create or replace function record_refuse_rewrite() returns trigger
language plpgsql as $$
begin
    -- Nested: OLD and NEW are set only for a row update.
    if tg_op = 'UPDATE' then
        if old.kind = 'message'
           and current_setting('carnet.redact_entry', true) = old.id::text
           and (new.id, new.device_id, new.kind, new.store_id, new.ref_type, new.ref_id,
                new.corrects, new.actor, new.at, new.prev_hash, new.hash)
               is not distinct from
               (old.id, old.device_id, old.kind, old.store_id, old.ref_type, old.ref_id,
                old.corrects, old.actor, old.at, old.prev_hash, old.hash)
           and new.content = customer_redacted_content(old.content) then
            return new;
        end if;
    end if;
    perform carnet_fail(409, 'append_only', 'entry',
        'the health record is append-only: add a correction instead');
    return null;
end $$;

create or replace trigger record_entries_no_rewrite before update or delete on record_entries
    for each row execute function record_refuse_rewrite();

create or replace trigger record_entries_no_truncate before truncate on record_entries
    for each statement execute function record_refuse_rewrite();

-- The one writer of the health record (see the header of this file).
create or replace function record_append(p_device bigint, p_kind text, p_content jsonb, p_actor bigint,
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
create or replace function device_ensure(p_serial text) returns bigint
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
create or replace function device_get(p_serial text) returns devices
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

create or replace function device_json(d devices) returns json
language sql stable as $$
    select json_build_object('id', d.id, 'serial', d.serial, 'model', d.model,
        'warranty_end', d.warranty_end,
        'under_warranty', d.warranty_end is not null and d.warranty_end >= current_date,
        'created_at', d.created_at)
$$;

-- Owner details are shown to admins and to staff of a store where the device had business
-- while this owner held it: a repair of that store (the device was handed over there) or an
-- owner that store's staff recorded. That owner is then one of the store's customers.
-- Nothing else counts, because anybody can write it: notes, corrections and diagnostics any
-- store's staff append to any device (that is what the shared record is for), and bookings,
-- walk-ins and their messages anybody makes at any store naming any serial. Counting those
-- would let a store make another store's customer its own by writing a line or booking a slot.
create or replace function device_owner_visible(p_actor bigint, o device_owners) returns boolean
language sql stable as $$
    select exists (select 1 from staff where id = p_actor and is_admin)
        or exists (select 1 from record_entries e
                   where e.device_id = o.device_id and e.store_id is not null
                     and (e.kind like 'repair\_%' or e.kind = 'owner_change')
                     and e.at >= o.since and (o.until is null or e.at < o.until)
                     and e.store_id in (select store_id from staff_roles where staff_id = p_actor))
$$;

-- The stores that have the device in their custody now: an open repair, or a booking that is
-- not cancelled on the store's local today. A store in custody is dealing with the customer
-- who owns the device, so only its staff may change who that is or what the device is.
create or replace function device_custodians(d devices) returns setof bigint
language sql stable as $$
    select r.store_id from repair_orders r join repair_states rs on rs.state = r.state
    where r.device_id = d.id and not rs.terminal
    union
    select a.store_id from appointments a join stores st on st.id = a.store_id
    where a.device_serial = d.serial and a.status <> 'cancelled'
      and (a.starts_at at time zone st.timezone)::date = (now() at time zone st.timezone)::date
$$;

-- Refuses (403 other_store_custody, the stores in `stores`) a change to the device's owner or
-- facts by someone who holds no role in a store that has it in custody. An admin acts for the
-- chain and may override; the override is audited. The caller holds the device row locked, so
-- a repair or booking that is being opened meanwhile is either seen here or opens after this.
create or replace function device_custody_check(p_actor bigint, d devices, p_req text) returns void
language plpgsql as $$
declare
    others bigint[];
begin
    select array_agg(c order by c) into others from device_custodians(d) c
    where not exists (select 1 from staff_roles where staff_id = p_actor and store_id = c);
    if others is null then
        return;
    end if;
    if exists (select 1 from staff where id = p_actor and is_admin and disabled_at is null) then
        perform carnet_audit(p_actor, 'custody_override', 'device', d.id::text, p_req);
        return;
    end if;
    perform carnet_fail_extra(403, 'other_store_custody', 'serial',
        'another store has this device in an open repair or a booking today: only its staff '
        'may change the owner or the device''s details meanwhile',
        jsonb_build_object('stores', to_jsonb(others)));
end $$;

create or replace function device_owner_json(p_actor bigint, o device_owners) returns json
language sql stable as $$
    select case when device_owner_visible(p_actor, o)
        then json_build_object('id', o.id, 'name', o.name, 'email', o.email, 'phone', o.phone,
                               'since', o.since, 'until', o.until, 'redacted', false)
        else json_build_object('id', o.id, 'since', o.since, 'until', o.until, 'redacted', true)
        end
$$;

-- Phone numbers are stored as digits with an optional leading +.
create or replace function device_phone_normalize(p text) returns text
language sql immutable as $$
    select nullif(regexp_replace(p, '[^0-9+]', '', 'g'), '')
$$;

-- Checks a structured results array; raises 422 naming the offending element.
create or replace function diag_check_results(p jsonb, p_field text) returns void
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
        -- The part measured, when it is not the device itself (a disk inside a laptop, its
        -- battery): its own serial is kept as given, never compared with the device's.
        if r ? 'component' and (jsonb_typeof(r->'component') <> 'object'
               or jsonb_typeof(r->'component'->'kind') is distinct from 'string'
               or length(r->'component'->>'kind') not between 1 and 32
               or exists (select 1 from jsonb_each(r->'component') c
                          where c.key not in ('kind', 'model', 'serial', 'firmware', 'manufacturer')
                             or jsonb_typeof(c.value) <> 'string'
                             or length(c.value #>> '{}') not between 1 and 200)) then
            perform carnet_fail(422, 'invalid', f || '.component',
                'a component is {kind, model?, serial?, firmware?, manufacturer?}, texts of 1 to 200 characters');
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

create or replace function device_parse_time(p jsonb, p_field text) returns timestamptz
language plpgsql stable as $$
begin
    if p is null or p = 'null'::jsonb then
        return null;
    end if;
    -- One parser for every time in a body: the offset is required and must be a real one.
    return booking_parse_time(p, p_field);
end $$;

create or replace function device_store_from(p jsonb, p_field text) returns bigint
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
create or replace function diag_store(p_actor bigint, d devices, p_store bigint, p_source text,
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
create or replace function device_diagnostic_add(p_actor bigint, p_serial text, p jsonb, p_req text)
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

-- device_diagnostic_add with an Idempotency-Key (idempotency.sql), scoped to the actor: a retry
-- answers the first session instead of logging a second one. With no key it is plain
-- device_diagnostic_add.
create or replace function device_diagnostic_add_keyed(p_actor bigint, p_serial text, p jsonb,
                                                       p_req text, p_key_hash text,
                                                       p_fingerprint text) returns json
language plpgsql as $$
declare
    scope text := format('device_diagnostic_add:%s', p_actor);
    answer jsonb := idem_claim(scope, p_key_hash, p_fingerprint);
begin
    if answer is not null then
        return answer::json;
    end if;
    answer := device_diagnostic_add(p_actor, p_serial, p, p_req)::jsonb;
    perform idem_store(scope, p_key_hash, answer);
    return answer::json;
end $$;

-- POST /api/devices/{serial}/diagnostics/import: {store_id, report} where report is the JSON
-- a diagnostics tool writes (format "carnet-diag/1"):
--   {"format": "carnet-diag/1", "tool": {"name", "version"}, "device": {"serial"},
--    "started_at": "...", "tests": [{"id": "battery", "status": "PASS"|"FAIL",
--    "measurements": {"health_percent": {"value": 87, "unit": "%"}, ...}, "message": "..."}]}
-- It becomes one session. Anything malformed is refused whole (422 naming the element).
create or replace function device_diagnostic_import(p_actor bigint, p_serial text, p jsonb, p_req text)
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
    -- The caller first: a refused one learns nothing of the serial or of what is wrong in the
    -- report (diag_store checks again, for the manual session that comes through it alone).
    perform carnet_require(p_actor, st, array['technician', 'manager']);
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

-- The audit row of a device record's read, written by its own call on the primary when the read
-- itself runs on a standby (--read-database-url): it fails as the read would for a serial that
-- is not there, so a refused read leaves no row and an answered one always has its row.
create or replace function device_audit_read(p_actor bigint, p_serial text, p_req text)
returns void language plpgsql as $$
begin
    perform carnet_audit_read(p_actor, 'read', 'device', (device_get(p_serial)).id::text, p_req);
end $$;

-- POST /api/devices/{serial}/diagnostics/import?store_id= with a tool's own report
-- (smartctl --json -a, system_profiler -json SPPowerDataType, upower -i): carnetd reads the report
-- (server/diagimport.c) into {store_id, tool, performed_at?, summary?, results} with results in
-- the shape of a manual session plus each result's component (the disk or battery measured).
-- It is checked here like a manual session and stored as one imported session.
create or replace function device_diagnostic_import_tool(p_actor bigint, p_serial text, p jsonb,
                                                         p_req text)
returns json language plpgsql as $$
declare
    st bigint := device_store_from(p->'store_id', 'store_id');
begin
    -- The caller first, as device_diagnostic_import.
    perform carnet_require(p_actor, st, array['technician', 'manager']);
    if jsonb_typeof(p->'tool') is distinct from 'string' or length(p->>'tool') not between 1 and 200 then
        perform carnet_fail(422, 'invalid', 'report', 'the report names no tool');
    end if;
    if p ? 'summary' and (jsonb_typeof(p->'summary') <> 'string' or length(p->>'summary') > 2000) then
        perform carnet_fail(422, 'invalid', 'report', 'a summary of at most 2000 characters');
    end if;
    perform diag_check_results(p->'results', 'report');
    return diag_store(p_actor, device_get(p_serial), st, 'import', p->>'tool',
                      device_parse_time(p->'performed_at', 'report'), p->>'summary',
                      p->'results', p_req);
end $$;

-- GET /api/devices/{serial}/trends?metric=: each measured value across sessions, oldest first.
-- Audited in one call on the primary (device_trends), or read on a standby (device_trends_read,
-- which writes nothing) alongside device_audit_read on the primary.
create or replace function device_trends(p_actor bigint, p_serial text, p_metric text, p_req text)
returns json language plpgsql as $$
begin
    perform device_audit_read(p_actor, p_serial, p_req);
    return device_trends_read(p_serial, p_metric);
end $$;

create or replace function device_trends_read(p_serial text, p_metric text)
returns json language plpgsql stable as $$
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
    return json_build_object('serial', d.serial, 'metrics', out);
end $$;

-- GET /api/devices/{serial}?before=&limit=: the device, its owners (redacted where the caller
-- may not see them), its repairs, and one page of the record, newest first. Audited and read in
-- one call on the primary, or read on a standby (device_record_read, which writes nothing and
-- redacts for p_actor the same way) alongside device_audit_read on the primary.
create or replace function device_record(p_actor bigint, p_serial text, p_before bigint, p_limit int,
                              p_req text) returns json
language plpgsql as $$
begin
    perform device_audit_read(p_actor, p_serial, p_req);
    return device_record_read(p_actor, p_serial, p_before, p_limit);
end $$;

create or replace function device_record_read(p_actor bigint, p_serial text, p_before bigint,
                                              p_limit int) returns json
language plpgsql stable as $$
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
                'ref_type', e.ref_type, 'ref_id', e.ref_id,
                -- A message entry holds the message's id and a hash of its text (019, 021);
                -- the text itself rests sealed in messages and is opened on the way out.
                'content', case when e.kind = 'message'
                                     and (e.content ? 'sha256' or e.content ? 'mac')
                                then e.content || jsonb_build_object('body',
                                         (select m.body from messages m
                                          where m.id = (e.content->>'message_id')::bigint))
                                else e.content end,
                'corrects', e.corrects,
                'corrected_by', (select min(c.id) from record_entries c where c.corrects = e.id),
                'actor', case when e.actor is null then null
                              else json_build_object('id', s.id, 'name', s.name) end) as j
          from record_entries e left join staff s on s.id = e.actor
          where e.device_id = d.id and (p_before is null or e.id < p_before)
          order by e.id desc limit p_limit) x;
    more := last_id is not null and exists (
        select 1 from record_entries where device_id = d.id and id < last_id);
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
create or replace function device_put(p_actor bigint, p_serial text, p jsonb, p_req text) returns json
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
    else
        perform device_custody_check(p_actor, d, p_req);
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
-- ownership, unless it is already the current owner. Returns the owner row. Refused while
-- another store has the device in custody (see below).
--
-- From carnetd the values come sealed (017): name, email and phone as pd markers, checked in
-- clear and normalised before sealing (server/device.c), with email_bi and phone_bi, their blind
-- indexes. A sealed name cannot be compared, so with sealed values "already the current owner"
-- means the same email and phone (by blind index): the same contact is the same person, and a
-- name given differently for them does not make a new owner. Clear values (a caller inside the
-- database, the SQL tests) are checked here as before and sealed by carnetd's job later.
--
-- Refused while
-- another store has the device in custody (device_custody_check), even when nothing would
-- change: the answer would otherwise tell a stranger whether they guessed the owner right.
-- Open repairs of the device that have no contact yet take this owner; the others keep theirs.
create or replace function device_owner_set(p_actor bigint, d devices, p jsonb, p_store bigint,
                                 p_field text, p_req text) returns device_owners
language plpgsql as $$
declare
    cur device_owners%rowtype;
    o device_owners%rowtype;
    nm text;
    em text;
    ph text;
    em_bi text;
    ph_bi text;
    sealed boolean;
begin
    if jsonb_typeof(p) is distinct from 'object' then
        perform carnet_fail(422, 'invalid', p_field, 'an owner is {name, email?, phone?}');
    end if;
    if jsonb_typeof(p->'name') is distinct from 'string' then
        perform carnet_fail(422, 'invalid', p_field || '.name', 'a name of 1 to 200 characters');
    end if;
    sealed := pd_is_marker(p->>'name');
    if sealed then
        nm := p->>'name';
        em := p->>'email';
        ph := p->>'phone';
        em_bi := p->>'email_bi';
        ph_bi := p->>'phone_bi';
        if (em is not null and not (pd_is_marker(em) and coalesce(em_bi ~ '^[0-9a-f]{64}$', false)))
           or (em is null and em_bi is not null) then
            perform carnet_fail(422, 'invalid', p_field || '.email', 'an email address');
        end if;
        if (ph is not null and not (pd_is_marker(ph) and coalesce(ph_bi ~ '^[0-9a-f]{64}$', false)))
           or (ph is null and ph_bi is not null) then
            perform carnet_fail(422, 'invalid', p_field || '.phone',
                'a phone number of 6 to 15 digits');
        end if;
    else
        nm := btrim(p->>'name');
        if length(nm) not between 1 and 200 then
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
    end if;
    if em is null and ph is null then
        perform carnet_fail(422, 'required', p_field || '.email',
            'an email address or a phone number is required');
    end if;
    -- The lock orders this change with repairs being opened (repair_open takes it too) and with
    -- bookings being made (their record entry takes it), so custody is judged on what committed.
    perform 1 from devices where id = d.id for no key update;
    perform device_custody_check(p_actor, d, p_req);
    select * into cur from device_owners where device_id = d.id and until is null for update;
    if found and ((sealed and cur.email_bi is not distinct from em_bi
                   and cur.phone_bi is not distinct from ph_bi and (em_bi is not null or ph_bi is not null))
                  or (not sealed and cur.name = nm and cur.email is not distinct from em
                      and cur.phone is not distinct from ph)) then
        return cur;
    end if;
    update device_owners set until = now() where id = cur.id;
    insert into device_owners (device_id, name, email, phone, email_bi, phone_bi)
    values (d.id, nm, em, ph, em_bi, ph_bi) returning * into o;
    update repair_orders r set contact_owner_id = o.id
    where r.device_id = d.id and r.contact_owner_id is null
      and not (select terminal from repair_states where state = r.state);
    perform record_append(d.id, 'owner_change',
        jsonb_build_object('owner_id', o.id, 'previous_owner_id', cur.id), p_actor, p_store,
        'owner', o.id);
    return o;
end $$;

-- POST /api/devices/{serial}/owners: {store_id, name, email?, phone?}
create or replace function device_owner_add(p_actor bigint, p_serial text, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    st bigint := device_store_from(p->'store_id', 'store_id');
    d devices%rowtype;
    o device_owners%rowtype;
begin
    perform carnet_require(p_actor, st, array['specialist', 'technician', 'manager']);
    d := device_get(p_serial);
    o := device_owner_set(p_actor, d, p - 'store_id', st, 'owner', p_req);
    perform carnet_audit(p_actor, 'owner_change', 'device', d.id::text, p_req);
    return json_build_object('serial', d.serial, 'owner', device_owner_json(p_actor, o));
end $$;

-- POST /api/devices/{serial}/notes: {text, store_id?, corrects?}
create or replace function device_note_add(p_actor bigint, p_serial text, p jsonb, p_req text) returns json
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

-- device_note_add with an Idempotency-Key (idempotency.sql), scoped to the actor: a tablet that
-- resends a note it wrote offline gets the first entry back instead of a second one. With no key
-- it is plain device_note_add.
create or replace function device_note_add_keyed(p_actor bigint, p_serial text, p jsonb,
                                                 p_req text, p_key_hash text,
                                                 p_fingerprint text) returns json
language plpgsql as $$
declare
    scope text := format('device_note_add:%s', p_actor);
    answer jsonb := idem_claim(scope, p_key_hash, p_fingerprint);
begin
    if answer is not null then
        return answer::json;
    end if;
    answer := device_note_add(p_actor, p_serial, p, p_req)::jsonb;
    perform idem_store(scope, p_key_hash, answer);
    return answer::json;
end $$;

-- GET /api/devices/{serial}/verify: the chain as stored, for carnetd to recompute with libsodium.
-- Entries come oldest first as [id, prev_hash hex, hash hex, canonical text]; derived lists the
-- rows shown beside the record that disagree with their entries (verify_derived).
create or replace function device_chain(p_actor bigint, p_serial text, p_req text) returns json
language plpgsql as $$
declare
    d devices%rowtype := device_get(p_serial);
begin
    perform carnet_audit(p_actor, 'verify', 'device', d.id::text, p_req);
    return json_build_object('serial', d.serial, 'head', encode(d.head_hash, 'hex'),
        'head_entry', d.head_entry, 'derived', verify_derived(d.id),
        'entries', (select coalesce(json_agg(json_build_array(e.id, encode(e.prev_hash, 'hex'),
                                    encode(e.hash, 'hex'), record_canonical(e)) order by e.id), '[]')
                    from record_entries e where e.device_id = d.id));
end $$;

-- GET /api/devices?q=: serial (exact, then prefix), owner email or phone, the email or phone of
-- a booking for the device, repair order number.
-- Across stores a device is found by its exact serial only (the record is shared; the serial is
-- what the customer hands over). Everything else finds only what the caller's own stores know
-- (admins: every store): a prefix, devices with an entry of one of those stores; an email or a
-- phone, those stores' customers (device_owner_visible) and bookings; a repair number, their
-- repairs. So a search cannot tell whether another store's customer owns a device.
-- Matches say how they matched; owners' details are not part of the answer.
-- Emails and phones rest sealed: they are matched by blind index (017), computed by carnetd from
-- the query: p_email_bi of the query as an email (when it has an @), p_phone_bi of its digits
-- as device_phone_normalize keeps them (owners), p_aphone_bi of them with a leading + (bookings).
-- A value still in clear (written by SQL, not yet sealed by carnetd's job: its index is null)
-- is compared in clear for those few seconds.
-- Audited and searched in one call on the primary, or searched on a standby
-- (device_search_read, which writes nothing) alongside device_search_audit on the primary.
create or replace function device_search(p_actor bigint, p_q text, p_limit int, p_req text,
                                         p_email_bi text, p_phone_bi text, p_aphone_bi text)
returns json
language plpgsql as $$
begin
    perform device_search_audit(p_actor, p_q, p_req);
    return device_search_read(p_actor, p_q, p_limit, p_email_bi, p_phone_bi, p_aphone_bi);
end $$;

-- A search's audit row; refuses the query the search refuses, so a refused one leaves no row.
create or replace function device_search_audit(p_actor bigint, p_q text, p_req text)
returns void language plpgsql as $$
begin
    perform device_search_check(p_q);
    -- The query itself may be an email or a phone number: it stays out of the audit log.
    perform carnet_audit_read(p_actor, 'search', 'device', null, p_req);
end $$;

create or replace function device_search_check(p_q text) returns void
language plpgsql immutable as $$
begin
    if btrim(p_q) = '' or length(btrim(p_q)) > 254 then
        perform carnet_fail(422, 'invalid', 'q', 'a search of 1 to 254 characters');
    end if;
end $$;

create or replace function device_search_read(p_actor bigint, p_q text, p_limit int,
                                              p_email_bi text, p_phone_bi text, p_aphone_bi text)
returns json
language plpgsql stable as $$
declare
    q text := btrim(p_q);
    s text := upper(regexp_replace(q, '\s', '', 'g'));
    ph text := device_phone_normalize(q);
    adm boolean := exists (select 1 from staff where id = p_actor and is_admin);
    mine bigint[] := array(select store_id from staff_roles where staff_id = p_actor);
    out json;
begin
    perform device_search_check(p_q);
    with hits as (
        select d.id, 'serial' as how, null::bigint as repair_id, null::text as number, 1 as rank
        from devices d where d.serial = s
        union all
        select d.id, 'serial_prefix', null, null, 2
        from (select * from devices dp
              where length(s) >= 3 and s ~ '^[A-Z0-9]+$' and dp.serial like s || '%' and dp.serial <> s
                and (adm or exists (select 1 from record_entries e
                                    where e.device_id = dp.id and e.store_id = any (mine)))
              order by dp.serial limit p_limit) d
        union all
        select o.device_id, 'email', null, null, 3
        from device_owners o
        where position('@' in q) > 0
          and (o.email_bi = p_email_bi or (o.email_bi is null and lower(o.email) = lower(q)))
          and device_owner_visible(p_actor, o)
        union all
        select o.device_id, 'phone', null, null, 3
        from device_owners o where ph ~ '^\+?[0-9]{6,15}$' and position('@' in q) = 0
                               and (o.phone_bi = p_phone_bi or (o.phone_bi is null and o.phone = ph))
                               and device_owner_visible(p_actor, o)
        union all
        -- The contact a customer booked with, for a device they named in the booking.
        select dv.id, 'appointment_email', null, null, 4
        from appointments a join devices dv on dv.serial = a.device_serial
        where position('@' in q) > 0 and a.device_serial is not null
          and (a.customer_email_bi = p_email_bi
               or (a.customer_email_bi is null and lower(a.customer_email) = lower(q)))
          and (adm or a.store_id = any (mine))
        union all
        select dv.id, 'appointment_phone', null, null, 4
        from appointments a join devices dv on dv.serial = a.device_serial
        where ph ~ '^\+?[0-9]{7,15}$' and position('@' in q) = 0 and a.device_serial is not null
          and (a.customer_phone_bi = p_aphone_bi
               or (a.customer_phone_bi is null and a.customer_phone = '+' || ltrim(ph, '+')))
          and (adm or a.store_id = any (mine))
        union all
        select r.device_id, 'repair', r.id, r.number, 0
        from repair_orders r where upper(r.number) = upper(q) and (adm or r.store_id = any (mine))
    ), best as (
        select distinct on (h.id) h.* from hits h order by h.id, h.rank
    )
    select coalesce(json_agg(json_build_object('serial', d.serial, 'model', d.model,
                                               'match', b.how, 'repair_id', b.repair_id,
                                               'repair_number', b.number)
                             order by b.rank, d.serial), '[]')
      into out
    from (select * from best order by rank, id limit p_limit) b join devices d on d.id = b.id;
    return json_build_object('results', out);
end $$;
