-- Intake: the condition of a device as a technician found it at intake, photos taken on the
-- tablet, and the customer's signature of the intake terms (tables in 026_intake.sql).
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations.
--
-- Who: technicians and managers of the repair's store record; every staff role of that store
-- reads (a specialist shows the receipt at the desk). Staff of another store get 403, as
-- GET /api/repairs/{id} answers them. carnetd checks what HTTP owns (the bytes' type and size,
-- base64); these functions check the domain (states, values, who).

-- Intake rows are history: never rewritten or removed. A signature's sealed image is the one
-- column that may change, when the sealing job seals or re-seals it (017) or an erasure
-- removes it; its hash and everything else stay.
create or replace function intake_refuse_rewrite() returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE' and tg_table_name = 'repair_signatures'
       and (to_jsonb(new) - 'image') = (to_jsonb(old) - 'image') then
        return new;
    end if;
    perform carnet_fail(409, 'append_only', 'intake',
        'an intake is append-only: record a correction instead');
    return null;
end $$;

create or replace trigger repair_intakes_no_rewrite before update or delete on repair_intakes
    for each row execute function intake_refuse_rewrite();
create or replace trigger repair_photos_no_rewrite before update or delete on repair_photos
    for each row execute function intake_refuse_rewrite();
create or replace trigger repair_signatures_no_rewrite before update or delete on repair_signatures
    for each row execute function intake_refuse_rewrite();

create or replace function intake_check_open(r repair_orders) returns void
language plpgsql stable as $$
begin
    if (select terminal from repair_states where state = r.state) then
        perform carnet_fail(409, 'repair_closed', 'state',
            format('this repair is %s: its intake cannot change any more', r.state));
    end if;
end $$;

create or replace function intake_record_json(i repair_intakes) returns json
language sql stable as $$
    select json_build_object('id', i.id, 'screen', i.screen, 'housing', i.housing,
        'liquid', i.liquid, 'accessories', to_json(i.accessories), 'note', i.note,
        'corrects', i.corrects, 'entry_id', i.entry_id, 'recorded_at', i.recorded_at,
        'recorded_by', (select json_build_object('id', s.id, 'name', s.name)
                        from staff s where s.id = i.recorded_by),
        'signature', (select json_build_object('id', g.id, 'terms_version', g.terms_version,
                          'png', g.image, 'size', g.size, 'sha256', encode(g.sha256, 'hex'),
                          'signed_at', g.signed_at)
                      from repair_signatures g where g.intake_id = i.id))
$$;

create or replace function intake_photo_json(p_id bigint) returns json
language sql stable as $$
    select json_build_object('id', p.id, 'repair_id', p.repair_id, 'content_type', p.content_type,
        'size', p.size, 'sha256', encode(p.sha256, 'hex'), 'taken_at', p.taken_at,
        'taken_by', (select json_build_object('id', s.id, 'name', s.name)
                     from staff s where s.id = p.taken_by))
    from repair_photos p where p.id = p_id
$$;

-- Everything a ticket, a receipt and a bench label show of a repair's intake.
create or replace function intake_json(r repair_orders) returns json
language sql stable as $$
    select json_build_object(
        'repair', json_build_object('id', r.id, 'number', r.number, 'state', r.state,
                                    'problem', r.problem, 'opened_at', r.opened_at,
                                    'opening_checklist', r.intake),
        'device', (select json_build_object('serial', d.serial, 'model', d.model)
                   from devices d where d.id = r.device_id),
        'store', (select json_build_object('id', s.id, 'code', s.code, 'name', s.name)
                  from stores s where s.id = r.store_id),
        'current', (select intake_record_json(i) from repair_intakes i
                    where i.repair_id = r.id order by i.id desc limit 1),
        'records', (select coalesce(json_agg(intake_record_json(i) order by i.id desc), '[]')
                    from repair_intakes i where i.repair_id = r.id),
        'photos', (select coalesce(json_agg(intake_photo_json(p.id) order by p.id), '[]')
                   from repair_photos p where p.repair_id = r.id),
        'terms', (select json_build_object('version', t.version, 'en', t.text_en, 'fr', t.text_fr)
                  from intake_terms t order by t.created_at desc, t.version desc limit 1))
$$;

-- GET /api/repairs/{id}/intake
create or replace function intake_get(p_actor bigint, p_id bigint, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_read(p_actor, p_id, 'repair_intake', p_req);
begin
    return intake_json(r);
end $$;

-- POST /api/repairs/{id}/intake: {screen, housing, liquid, accessories?: [text], note?,
-- corrects?}. The first record is made while the repair is in intake; later ones are
-- corrections of the current record (corrects must name it: two technicians correcting at once
-- cannot both win), allowed while the repair is open. Returns the record (201).
create or replace function intake_record(p_actor bigint, p_id bigint, p jsonb, p_req text)
returns json language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    cur repair_intakes%rowtype;
    i repair_intakes%rowtype;
    acc text[] := '{}';
    a jsonb;
    e record_entries%rowtype;
begin
    perform intake_check_open(r);
    if jsonb_typeof(p->'screen') is distinct from 'string'
       or p->>'screen' not in ('intact', 'scratched', 'cracked', 'broken') then
        perform carnet_fail(422, 'invalid', 'screen', 'intact, scratched, cracked or broken');
    end if;
    if jsonb_typeof(p->'housing') is distinct from 'string'
       or p->>'housing' not in ('intact', 'scuffed', 'dented', 'cracked') then
        perform carnet_fail(422, 'invalid', 'housing', 'intact, scuffed, dented or cracked');
    end if;
    if jsonb_typeof(p->'liquid') is distinct from 'string'
       or p->>'liquid' not in ('not_triggered', 'triggered', 'not_checked') then
        perform carnet_fail(422, 'invalid', 'liquid', 'not_triggered, triggered or not_checked');
    end if;
    if p ? 'accessories' and p->'accessories' <> 'null'::jsonb then
        if jsonb_typeof(p->'accessories') <> 'array' or jsonb_array_length(p->'accessories') > 20 then
            perform carnet_fail(422, 'invalid', 'accessories', 'a list of at most 20 accessories');
        end if;
        for a in select * from jsonb_array_elements(p->'accessories') loop
            if jsonb_typeof(a) <> 'string' or length(btrim(a #>> '{}')) not between 1 and 100 then
                perform carnet_fail(422, 'invalid', 'accessories',
                    'each accessory is named (1 to 100 characters)');
            end if;
            acc := acc || btrim(a #>> '{}');
        end loop;
    end if;
    if p ? 'note' and p->'note' <> 'null'::jsonb
       and (jsonb_typeof(p->'note') <> 'string' or length(p->>'note') > 1000) then
        perform carnet_fail(422, 'invalid', 'note', 'a note of at most 1000 characters');
    end if;
    if p ? 'corrects' and p->'corrects' <> 'null'::jsonb
       and (jsonb_typeof(p->'corrects') <> 'number' or (p->>'corrects') !~ '^[0-9]{1,18}$') then
        perform carnet_fail(422, 'invalid', 'corrects', 'the id of the record this corrects');
    end if;
    select * into cur from repair_intakes where repair_id = r.id order by id desc limit 1;
    if not found then
        if r.state <> 'intake' then
            perform carnet_fail(409, 'bad_state', 'state',
                format('the intake is recorded while the repair is in intake, not %s', r.state));
        end if;
        if (p->>'corrects') is not null then
            perform carnet_fail(409, 'stale', 'corrects', 'there is no intake record to correct');
        end if;
    elsif (p->>'corrects') is null then
        perform carnet_fail_extra(409, 'already_recorded', 'corrects',
            'this repair''s intake is recorded: send a correction of the current record',
            jsonb_build_object('current', cur.id));
    elsif (p->>'corrects')::bigint <> cur.id then
        perform carnet_fail_extra(409, 'stale', 'corrects',
            'that is not the current intake record: reload and correct the current one',
            jsonb_build_object('current', cur.id));
    end if;
    e := record_append(r.device_id, 'intake_condition',
        jsonb_strip_nulls(jsonb_build_object('number', r.number, 'screen', p->>'screen',
            'housing', p->>'housing', 'liquid', p->>'liquid', 'accessories', to_jsonb(acc),
            'note', nullif(p->>'note', ''))),
        p_actor, r.store_id, 'repair', r.id, cur.entry_id);
    insert into repair_intakes (repair_id, store_id, screen, housing, liquid, accessories, note,
                                corrects, entry_id, recorded_by)
    values (r.id, r.store_id, p->>'screen', p->>'housing', p->>'liquid', acc,
            nullif(p->>'note', ''), cur.id, e.id, p_actor)
    returning * into i;
    perform carnet_audit(p_actor, 'create', 'repair_intake', i.id::text, p_req);
    return intake_record_json(i);
end $$;

-- POST /api/repairs/{id}/photos: the bytes as base64 (p_data) and their type, checked by
-- carnetd from the bytes themselves. The same bytes twice on one repair are one photo (a
-- retried upload). Returns the photo (201).
create or replace function intake_photo_add(p_actor bigint, p_id bigint, p_type text,
                                            p_data text, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    b bytea := decode(p_data, 'base64');
    h bytea := sha256(b);
    pid bigint;
begin
    perform intake_check_open(r);
    select id into pid from repair_photos where repair_id = r.id and sha256 = h;
    if not found then
        insert into repair_photos (repair_id, store_id, sha256, content_type, size, bytes, taken_by)
        values (r.id, r.store_id, h, p_type, length(b), b, p_actor)
        returning id into pid;
        perform record_append(r.device_id, 'intake_photo',
            jsonb_build_object('number', r.number, 'photo_id', pid, 'content_type', p_type,
                               'size', length(b), 'sha256', encode(h, 'hex')),
            p_actor, r.store_id, 'repair', r.id);
        perform carnet_audit(p_actor, 'create', 'repair_photo', pid::text, p_req);
    end if;
    return intake_photo_json(pid);
end $$;

-- GET /api/repairs/{id}/photos/{photo}: one row (content type, base64 of the bytes) for
-- carnetd to send as the image itself; staff of the repair's store only.
create or replace function intake_photo_get(p_actor bigint, p_id bigint, p_photo bigint,
                                            p_req text, out content_type text, out data text)
language plpgsql as $$
declare
    r repair_orders%rowtype :=
        repair_find(p_actor, p_id, array['specialist', 'technician', 'manager'], false);
begin
    select p.content_type, encode(p.bytes, 'base64') into content_type, data
    from repair_photos p where p.id = p_photo and p.repair_id = r.id;
    if not found then
        perform carnet_fail(404, 'not_found', 'photo', 'no such photo of this repair');
    end if;
    perform carnet_audit_read(p_actor, 'read', 'repair_photo', p_photo::text, p_req);
end $$;

-- POST /api/repairs/{id}/signature: {terms_version, png (sealed by carnetd), sha256, size
-- (of the PNG, computed by carnetd), intake_id?}. Signs the current intake record (intake_id,
-- when given, must be it: the customer signs what they were shown); once per record. The
-- health record keeps the hash, never the image. Returns the signed record (201).
create or replace function intake_sign(p_actor bigint, p_id bigint, p jsonb, p_req text)
returns json language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    cur repair_intakes%rowtype;
    g repair_signatures%rowtype;
begin
    perform intake_check_open(r);
    if jsonb_typeof(p->'terms_version') is distinct from 'string'
       or not exists (select 1 from intake_terms where version = p->>'terms_version') then
        perform carnet_fail(422, 'invalid', 'terms_version', 'not a version of the intake terms');
    end if;
    if (p->>'png') is null or (p->>'sha256') !~ '^[0-9a-f]{64}$'
       or (p->>'size') !~ '^[0-9]{1,5}$' then
        perform carnet_fail(422, 'required', 'png', 'the signature is required');
    end if;
    select * into cur from repair_intakes where repair_id = r.id order by id desc limit 1;
    if not found then
        perform carnet_fail(409, 'no_intake', 'intake',
            'record the device''s condition before the customer signs');
    end if;
    if p ? 'intake_id' and p->'intake_id' <> 'null'::jsonb and p->>'intake_id' <> cur.id::text then
        perform carnet_fail_extra(409, 'stale', 'intake_id',
            'the intake changed since it was shown: show the current one and sign again',
            jsonb_build_object('current', cur.id));
    end if;
    if exists (select 1 from repair_signatures where intake_id = cur.id) then
        perform carnet_fail(409, 'already_signed', 'png', 'this intake is already signed');
    end if;
    insert into repair_signatures (repair_id, store_id, intake_id, terms_version, image, sha256,
                                   size, recorded_by)
    values (r.id, r.store_id, cur.id, p->>'terms_version', p->>'png',
            decode(p->>'sha256', 'hex'), (p->>'size')::int, p_actor)
    returning * into g;
    perform record_append(r.device_id, 'intake_signature',
        jsonb_build_object('number', r.number, 'intake_id', cur.id,
                           'terms_version', g.terms_version, 'sha256', p->>'sha256'),
        p_actor, r.store_id, 'repair', r.id);
    perform carnet_audit(p_actor, 'create', 'repair_signature', g.id::text, p_req);
    return intake_record_json(cur);
end $$;
