-- Device passports (issue #17): a device's history without personal data, for carnetd to sign
-- with the chain's Ed25519 key (server/passport.c), and that key's one row (053).
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace).
--
-- What a passport holds, and what it leaves out, is decided here once (README, "Device
-- passport"): the serial and model; visits (day, store code, kind, state); diagnostics (when,
-- where, tool, the technician's summary, each test's result and measured values with units);
-- repairs (number, store, dates, states, parts); the record's hash head. No names, emails,
-- phones or contacts of anyone, no staff member's name or id, no text a customer wrote (the
-- problem as told at intake, messages, estimate answers, move notes), and no labour notes:
-- they are free text, written to colleagues, and name people often enough (the parts and
-- states say what was done). Every value is a string or an integer, so any JSON library writes the canonical form
-- the same way (no floats): measured values are their decimal text.

-- A time as the passport writes it: UTC, to the second.
create or replace function passport_ts(p timestamptz) returns text
language sql immutable as $$
    select to_char(p at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

create or replace function passport_store_code(p bigint) returns text
language sql stable as $$
    select code from stores where id = p
$$;

-- The passport of device `d` (not signed: carnetd signs its canonical form).
create or replace function passport_json(d devices) returns json
language sql stable as $$
    select passport_json_upto(d, null)
$$;

-- The passport of device `d` as its history stood at p_until (null: now): nothing recorded
-- later, so a status link's passport (passport_by_status) says nothing of the device's later
-- owners. The record is then its chain up to the last entry made by p_until, which staff can
-- still match entry by entry (GET /api/devices/{serial}/record).
create or replace function passport_json_upto(d devices, p_until timestamptz) returns json
language sql stable as $$
    select jsonb_strip_nulls(jsonb_build_object(
        'format', 'carnet-passport/1',
        'issued_at', passport_ts(now()),
        'device', jsonb_build_object('serial', d.serial, 'model', coalesce(d.model, '')),
        'record', case when p_until is null then jsonb_build_object(
            'entries', (select count(*) from record_entries e where e.device_id = d.id),
            'head', encode(d.head_hash, 'hex'),
            'head_entry', d.head_entry)
            else (select jsonb_build_object('entries', count(*),
                                            'head', encode((array_agg(e.hash order by e.id desc))[1], 'hex'),
                                            'head_entry', max(e.id))
                  from record_entries e where e.device_id = d.id and e.at <= p_until) end,
        'visits', (select coalesce(jsonb_agg(jsonb_build_object(
                        'day', v.day::text, 'store', passport_store_code(v.store_id),
                        'kind', v.kind, 'state', v.status,
                        'arrived_at', passport_ts(v.arrived_at))
                        order by v.arrived_at, v.id), '[]')
                   from visits v where v.device_serial = d.serial
                     and (p_until is null or v.arrived_at <= p_until)),
        'diagnostics', (select coalesce(jsonb_agg(jsonb_build_object(
                        'at', passport_ts(s.performed_at),
                        'store', passport_store_code(s.store_id),
                        'source', s.source, 'tool', coalesce(s.tool, ''),
                        'summary', coalesce(e.content->>'summary', ''),
                        'tests', (select coalesce(jsonb_agg(jsonb_build_object(
                                      'test', r->>'test',
                                      'result', case when (r->>'passed')::boolean then 'pass'
                                                     else 'fail' end,
                                      'values', (select coalesce(jsonb_agg(jsonb_build_object(
                                                     'name', x->>'name', 'value', x->>'value',
                                                     'unit', coalesce(x->>'unit', ''))
                                                     order by n), '[]')
                                                 from jsonb_array_elements(
                                                     coalesce(r->'values', '[]')) with ordinality
                                                     as vv(x, n)))
                                      order by i), '[]')
                                  from jsonb_array_elements(
                                      coalesce(e.content->'results', '[]')) with ordinality
                                      as rr(r, i)))
                        order by s.performed_at, s.id), '[]')
                   from diagnostic_sessions s join record_entries e on e.id = s.entry_id
                   where s.device_id = d.id and (p_until is null or e.at <= p_until)),
        'repairs', (select coalesce(jsonb_agg(jsonb_build_object(
                        'number', r.number, 'store', passport_store_code(r.store_id),
                        'opened_at', passport_ts(r.opened_at),
                        'state', coalesce((select m.to_state from repair_moves m
                                           where m.repair_id = r.id and m.at <= p_until
                                           order by m.id desc limit 1), r.state),
                        'states', (select jsonb_agg(jsonb_build_object(
                                       'state', m.to_state, 'at', passport_ts(m.at))
                                       order by m.id)
                                   from repair_moves m where m.repair_id = r.id
                                     and (p_until is null or m.at <= p_until)),
                        'parts', (select coalesce(jsonb_agg(jsonb_build_object(
                                      'part_number', p.part_number,
                                      'serial', p.part_serial,
                                      'description', p.description,
                                      'quantity', p.quantity, 'at', passport_ts(p.at))
                                      order by p.id), '[]')
                                  from repair_parts p where p.repair_id = r.id
                                    and (p_until is null or p.at <= p_until)))
                        order by r.id), '[]')
                    from repair_orders r where r.device_id = d.id
                      and (p_until is null or r.opened_at <= p_until))))::json
$$;

-- GET /api/devices/{serial}/passport: an admin, or staff of a store where staff had the device
-- in hand: a repair opened there, or a visit there that staff started serving (in service or
-- done). A booking or a place in the line does not count, nor a check-in (customers check
-- themselves in): their serial is whatever the customer typed, so a staff member could otherwise
-- book at their own store with any serial and read its history. Nor does a diagnostic by itself:
-- any technician can record one on any serial; one made while the device was there comes with
-- its repair or served visit. To
-- anyone else the device is unknown (404), as an unknown serial is, so the answer does not say
-- where a device has been.
create or replace function passport_device(p_actor bigint, p_serial text, p_req text) returns json
language plpgsql as $$
declare
    s text := device_serial_normalize(p_serial);
    d devices%rowtype;
begin
    select * into d from devices where serial = s;
    if not found or not (
           exists (select 1 from staff where id = p_actor and is_admin and disabled_at is null)
        or exists (select 1 from staff_roles sr
                   where sr.staff_id = p_actor
                     and (sr.store_id in (select store_id from repair_orders where device_id = d.id)
                          or sr.store_id in (select store_id from visits
                                             where device_serial = d.serial
                                               and status in ('in_service', 'done'))))) then
        perform carnet_fail(404, 'not_found', 'serial', 'no device with that serial number');
    end if;
    perform carnet_audit(p_actor, 'passport', 'device', d.id::text, p_req);
    return passport_json(d);
end $$;

-- How long after its repair ended a status link still gives the passport.
create or replace function passport_status_days() returns int
language sql immutable as $$ select 30 $$;

-- GET /api/repair-status/{token}/passport: the customer's own device, from their status link,
-- while the repair is open and for passport_status_days() after it ended (collected, returned
-- or cancelled), then 410 passport_ended: the link lives a year and gets forwarded, and the
-- passport is not a way to follow a device after selling it. It holds the history up to the
-- repair's end only, nothing of a later owner (passport_json_upto).
create or replace function passport_by_status(p_hash text) returns json
language plpgsql stable as $$
declare
    d devices%rowtype;
    r repair_orders%rowtype;
    ended timestamptz;
begin
    select * into r from repair_orders where id = (repair_link_find(p_hash, 'status')).repair_id;
    if (select terminal from repair_states where state = r.state) then
        -- Ended when it moved to the state it is in (the last move).
        ended := coalesce((select m.at from repair_moves m where m.repair_id = r.id
                           order by m.id desc limit 1), r.updated_at);
        if ended + make_interval(days => passport_status_days()) < now() then
            perform carnet_fail(410, 'passport_ended', 'token',
                'this repair ended more than 30 days ago: ask the store for the passport');
        end if;
    end if;
    select * into d from devices where id = r.device_id;
    return passport_json_upto(d, ended);
end $$;

-- The chain's signing key, created by the first carnetd that starts: this key is stored unless
-- one already is, and the stored one is returned ({key_id, public_key, secret}), so several
-- carnetd starting at once agree on one key. The secret is a pd marker sealed by carnetd.
create or replace function passport_key_ensure(p_key_id text, p_public text, p_secret text)
returns json
language plpgsql as $$
declare
    k passport_keys%rowtype;
begin
    insert into passport_keys (key_id, public_key, secret) values (p_key_id, p_public, p_secret)
    on conflict (id) do nothing;
    select * into k from passport_keys where id = 1;
    return json_build_object('key_id', k.key_id, 'public_key', k.public_key, 'secret', k.secret);
end $$;
