-- Repairs: repair orders through their life cycle, parts, notes, promises, and the customer's
-- status link. Estimates and their approval by link are in estimate.sql.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations. A changed argument list needs a migration that drops
-- the old signature first (see 008_api_functions.sql).

create or replace function repair_allowed_moves(p_state text) returns json
language sql stable as $$
    select coalesce(json_agg(to_state order by to_state), '[]')
    from repair_transitions where from_state = p_state
$$;

-- The language a repair's customer reads: the one stored with the repair (the booking's, or
-- chosen at intake), else the store's.
create or replace function repair_lang(r repair_orders) returns text
language sql stable as $$
    select coalesce(r.lang, (select s.lang from stores s where s.id = r.store_id), 'en')
$$;

-- Why a move in the transition table is refused now, from the approval state: NULL when it
-- may be made, else {code, message}. One rule for the buttons (allowed_transitions) and for
-- repair_transition: the customer must have approved an estimate that was written before any
-- work that costs them starts (parts ordered, repairing), and approval is asked only for an
-- estimate that exists.
create or replace function repair_move_refusal(r repair_orders, p_to text) returns jsonb
language sql stable as $$
    select case
        when p_to = 'awaiting_approval' and r.estimate_state = 'none' then
            jsonb_build_object('code', 'no_estimate',
                               'message', 'write an estimate before asking the customer to approve it')
        when p_to in ('awaiting_parts', 'repairing') and r.estimate_state in ('pending', 'declined') then
            jsonb_build_object('code', 'estimate_not_approved',
                               'message', 'the customer has not approved the estimate')
    end
$$;

-- The moves that may be made now: the transition table less the refused ones.
create or replace function repair_allowed_transitions(r repair_orders) returns json
language sql stable as $$
    select coalesce(json_agg(t.to_state order by t.to_state), '[]')
    from repair_transitions t
    where t.from_state = r.state and repair_move_refusal(r, t.to_state) is null
$$;

-- A store's repair message rules (the default when it never changed them).
create or replace function repair_cfg(p_store bigint) returns repair_settings
language sql stable as $$
    select coalesce((select s from repair_settings s where s.store_id = p_store),
                    row(p_store, array['awaiting_approval', 'ready', 'delayed'])::repair_settings)
$$;

-- The staff view of a repair order.
create or replace function repair_json(p_id bigint) returns json
language sql stable as $$
    select json_build_object(
        'id', r.id, 'number', r.number, 'store_id', r.store_id, 'state', r.state,
        'device', json_build_object('id', d.id, 'serial', d.serial, 'model', d.model),
        'problem', r.problem, 'intake', r.intake, 'promised_at', r.promised_at,
        'kept_overnight', r.kept_overnight, 'kind', r.kind,
        -- When it will likely be ready and the risk to its promise, with the reasons (promise.sql).
        'forecast', promise_forecast(r),
        'estimate', repair_estimate_current(r.id, true),
        'opened_at', r.opened_at, 'updated_at', r.updated_at,
        'allowed_moves', repair_allowed_moves(r.state),
        'allowed_transitions', repair_allowed_transitions(r),
        'lang', repair_lang(r),
        -- The customer the repair was opened for (repair_contact): sealed values, opened by
        -- carnetd on the way out.
        'customer', (select json_build_object('name', o.name, 'email', o.email, 'phone', o.phone,
                                              'channel', case when o.email is not null then 'email'
                                                              else 'sms' end)
                     from device_owners o where o.id = r.contact_owner_id),
        'moves', (select coalesce(json_agg(json_build_object('from', m.from_state, 'to', m.to_state,
                      'at', m.at, 'note', m.note,
                      'actor', case when s.id is null then null
                                    else json_build_object('id', s.id, 'name', s.name) end)
                      order by m.id), '[]')
                  from repair_moves m left join staff s on s.id = m.actor where m.repair_id = r.id),
        'parts', (select coalesce(json_agg(json_build_object('id', p.id,
                      'part_number', p.part_number, 'serial', p.part_serial,
                      'description', p.description, 'quantity', p.quantity, 'at', p.at,
                      'expected_at', p.expected_at)
                      order by p.id), '[]')
                  from repair_parts p where p.repair_id = r.id),
        'notes', (select coalesce(json_agg(json_build_object('id', e.id, 'at', e.at,
                      'text', e.content->>'text', 'actor_id', e.actor) order by e.id), '[]')
                  from record_entries e where e.ref_type = 'repair' and e.ref_id = r.id
                    and e.kind = 'repair_note'))
    from repair_orders r join devices d on d.id = r.device_id
    where r.id = p_id
$$;

-- The repair order `p_id` when the actor holds one of `p_roles` in its store, or fails (404 /
-- 403): the one check behind every staff call on a repair. With p_lock the row is locked until
-- commit (changes to one repair queue up behind each other); reads (the ticket, its intake, its
-- observation, its stream) leave it unlocked.
create or replace function repair_find(p_actor bigint, p_id bigint, p_roles text[],
                                       p_lock boolean) returns repair_orders
language plpgsql as $$
declare
    r repair_orders%rowtype;
begin
    if p_lock then
        select * into r from repair_orders where id = p_id for update;
    else
        select * into r from repair_orders where id = p_id;
    end if;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such repair order');
    end if;
    perform carnet_require(p_actor, r.store_id, p_roles);
    return r;
end $$;

-- A staff read of the repair order `p_id`: any staff role of its store (404 / 403 otherwise),
-- audited as a read of `p_what` (the repair, its intake ...). The repair, unlocked.
create or replace function repair_read(p_actor bigint, p_id bigint, p_what text, p_req text)
returns repair_orders
language plpgsql as $$
declare
    r repair_orders%rowtype :=
        repair_find(p_actor, p_id, array['specialist', 'technician', 'manager'], false);
begin
    perform carnet_audit(p_actor, 'read', p_what, p_id::text, p_req);
    return r;
end $$;

-- Locks a repair order the actor may work on, or fails (404 / 403).
create or replace function repair_lock(p_actor bigint, p_id bigint, p_roles text[]) returns repair_orders
language sql as $$
    select repair_find(p_actor, p_id, p_roles, true)
$$;

create or replace function repair_check_open(r repair_orders) returns void
language plpgsql stable as $$
begin
    if (select terminal from repair_states where state = r.state) then
        perform carnet_fail(409, 'repair_closed', 'state',
            format('this repair is %s: it cannot change any more', r.state));
    end if;
end $$;

-- The customer the repair was opened for and how to reach them (email when known, else SMS):
-- the device's owner at intake (contact_owner_id, 011), not whoever owns the device now, so a
-- later owner change never redirects the repair's messages or its status link. No row when
-- there was no owner on file, and then nobody is told. The values are sealed (017): they pass
-- through to the thread and the outbox, which carnetd opens; recipient_bi is their blind index.
create or replace function repair_contact(r repair_orders, out channel text, out recipient text,
                               out name text, out recipient_bi text)
returns setof record language sql stable as $$
    select case when o.email is not null then 'email' else 'sms' end, coalesce(o.email, o.phone),
           o.name, case when o.email is not null then o.email_bi else o.phone_bi end
    from device_owners o where o.id = r.contact_owner_id
$$;

-- A state as the customer reads it in a message: the words of the screens, in their language.
create or replace function repair_state_label(p_state text, p_locale text) returns text
language sql stable as $$
    select coalesce((select label from repair_state_labels where state = p_state and locale = p_locale),
                    (select label from repair_state_labels where state = p_state and locale = 'en'),
                    p_state)
$$;

-- Queues one message about a repair for its owner. The status link given when the repair was
-- opened (status_link) carries over in the outbox and is the link unless p_data names another.
create or replace function repair_notify(r repair_orders, p_kind text, p_data jsonb default '{}')
returns void language plpgsql as $$
declare
    c record;
    d jsonb := jsonb_strip_nulls(p_data);
begin
    select * into c from repair_contact(r);
    if not found then
        return;
    end if;
    if not d ? 'link' then
        d := d || jsonb_strip_nulls(jsonb_build_object(
            'link', coalesce(d->>'status_link', outbox_ref_data('repair', r.id)->>'status_link')));
    end if;
    perform outbox_enqueue(p_kind, c.channel, c.recipient, repair_lang(r),
                           jsonb_build_object('name', c.name, 'code', r.number) || d,
                           r.store_id, 'repair', r.id, null, c.recipient_bi);
end $$;

-- Watches the repair's promised date (early warnings, 006), or stops when there is none.
create or replace function repair_promise_watch(r repair_orders) returns void
language plpgsql as $$
declare
    c record;
begin
    select * into c from repair_contact(r);
    if r.promised_at is null or not found then
        perform promise_resolve('repair', r.id);
        return;
    end if;
    perform promise_track(r.store_id, 'repair', r.id, r.promised_at, c.channel, c.recipient,
                          repair_lang(r),
                          jsonb_strip_nulls(jsonb_build_object(
                              'name', c.name, 'code', r.number,
                              'link', outbox_ref_data('repair', r.id)->>'status_link')),
                          r.state, c.recipient_bi);
    -- The bench's prediction (promise.sql) is what the early-warning job judges the promise by.
    perform promise_update('repair', r.id, null,
                           (promise_forecast(r)->>'predicted_at')::timestamptz);
end $$;

-- POST /api/stores/{store}/repairs: {serial, problem, intake: {checklist: [{item, ok, note?}],
-- accessories?, passcode_provided?}, promised_at?, kept_overnight?, owner?: {name, email?,
-- phone?}, lang?: en|fr (the customer's language; default the store's), kind?: the kind of work
-- (a-z, 0-9, _; its history predicts how long it takes, promise.sql)}. p_status_hash is the hash of the customer's status link token made by carnetd;
-- p_status_token the token itself, for the link in the owner's first message.
-- Makes a repair order for device `d` (locked by the caller, its owner already set) at p_store:
-- its number, first move, status link, record entry, the owner's thread and first message, the
-- promise watch and the audit row. Shared by repair_open (typed at the bench) and the floor's
-- hand-over (floor.sql), which have checked their input. A hand-over (p_from: the visit it came
-- from, for the record) goes to p_technician, or to the store's bench queue when that is null.
create or replace function repair_create(p_actor bigint, p_store bigint, d devices, p_problem text,
                                         p_intake jsonb, p_promised timestamptz,
                                         p_overnight boolean, p_lang text, p_technician bigint,
                                         p_status_hash text, p_status_token text, p_req text,
                                         p_from jsonb) returns repair_orders
language plpgsql as $$
declare
    r repair_orders;
    n int;
    code text;
    oc record;
    handed boolean := p_from <> '{}'::jsonb;
begin
    insert into repair_counters (store_id, last) values (p_store, 1)
    on conflict (store_id) do update set last = repair_counters.last + 1 returning last into n;
    select upper(s.code) into code from stores s where s.id = p_store;
    insert into repair_orders (number, device_id, store_id, problem, intake, promised_at,
                               kept_overnight, opened_by, contact_owner_id, lang,
                               bench_since, technician_id, taken_at)
    values (format('R-%s-%s', code, lpad(n::text, 5, '0')), d.id, p_store, p_problem,
            p_intake, p_promised, p_overnight, p_actor,
            (select o.id from device_owners o where o.device_id = d.id and o.until is null),
            p_lang, case when handed then now() end, p_technician,
            case when p_technician is not null then now() end)
    returning * into r;
    insert into repair_moves (repair_id, from_state, to_state, actor)
    values (r.id, null, 'intake', p_actor);
    insert into repair_links (token_hash, repair_id, purpose, expires_at)
    values (p_status_hash, r.id, 'status', now() + interval '1 year');
    perform record_append(d.id, 'repair_opened',
        jsonb_build_object('number', r.number, 'problem', r.problem, 'intake', r.intake,
                           'promised_at', r.promised_at, 'kept_overnight', r.kept_overnight)
        || case when handed then jsonb_build_object('handed_over', p_from) else '{}' end,
        p_actor, p_store, 'repair', r.id);
    -- The owner hears of it, can write to the store from the status link, and is warned if the
    -- promised date slips.
    for oc in select * from repair_contact(r) loop
        perform message_thread_open(p_store, 'repair', r.id, oc.channel, oc.recipient, repair_lang(r),
                                    oc.name, d.id, oc.recipient_bi);
    end loop;
    -- Always sent: it carries the status link, the customer's only way to the status page.
    perform repair_notify(r, 'repair_opened', jsonb_build_object(
        'status_link', '{{public_url}}/repair/#' || p_status_token));
    if r.promised_at is not null then
        perform repair_promise_watch(r);
    end if;
    perform carnet_audit(p_actor, 'create', 'repair', r.id::text, p_req);
    return r;
end $$;

create or replace function repair_open(p_actor bigint, p_store bigint, p jsonb, p_status_hash text,
                            p_req text, p_status_token text default null) returns json
language plpgsql as $$
declare
    d devices%rowtype;
    r repair_orders%rowtype;
    n int;
    it jsonb := p->'intake';
    c jsonb;
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
    if p->'lang' is not null and p->'lang' <> 'null'::jsonb
       and (p->>'lang') is distinct from 'en' and (p->>'lang') is distinct from 'fr' then
        perform carnet_fail(422, 'invalid', 'lang', 'the customer''s language: en or fr');
    end if;
    if p->'kind' is not null and p->'kind' <> 'null'::jsonb
       and (jsonb_typeof(p->'kind') <> 'string' or (p->>'kind') !~ '^[a-z][a-z0-9_]{1,31}$') then
        perform carnet_fail(422, 'invalid', 'kind',
                            'the kind of work: 2 to 32 of a-z, 0-9 and _, starting with a letter');
    end if;
    n := device_ensure(p->>'serial');
    -- Taken before the owner is read: an owner change racing this intake either committed
    -- before it (and is the contact) or waits for it (and is judged on its custody).
    select * into d from devices where id = n for no key update;
    if p->'owner' is not null and p->'owner' <> 'null'::jsonb then
        perform device_owner_set(p_actor, d, p->'owner', p_store, 'owner', p_req);
    end if;
    r := repair_create(p_actor, p_store, d, btrim(p->>'problem'), it, promised,
                       coalesce((p->>'kept_overnight')::boolean, false),
                       case when jsonb_typeof(p->'lang') = 'string' then p->>'lang' end,
                       null, p_status_hash, p_status_token, p_req, '{}');
    if jsonb_typeof(p->'kind') = 'string' and p->>'kind' <> r.kind then
        update repair_orders set kind = p->>'kind' where id = r.id returning * into r;
        -- The prediction the promise watch took at creation knew no kind yet.
        if r.promised_at is not null then
            perform repair_promise_watch(r);
        end if;
    end if;
    return repair_json(r.id);
end $$;

-- GET /api/repairs/{id}
create or replace function repair_get(p_actor bigint, p_id bigint, p_req text) returns json
language plpgsql as $$
begin
    perform repair_read(p_actor, p_id, 'repair', p_req);
    return repair_json(p_id);
end $$;

-- POST /api/repairs/{id}/transition: {to, note?}. Moves not in repair_transitions are 409
-- bad_transition on field state, with the allowed moves in the error.
create or replace function repair_transition(p_actor bigint, p_id bigint, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    to_st text := p->>'to';
    c record;
    refusal jsonb;
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
    refusal := repair_move_refusal(r, to_st);
    if refusal is not null then
        perform carnet_fail_extra(409, refusal->>'code', 'estimate', refusal->>'message',
            jsonb_build_object('from', r.state, 'to', to_st,
                               'allowed', repair_allowed_transitions(r)::jsonb));
    end if;
    update repair_orders set state = to_st, updated_at = now() where id = r.id;
    insert into repair_moves (repair_id, from_state, to_state, actor, note)
    values (r.id, r.state, to_st, p_actor, p->>'note');
    perform record_append(r.device_id, 'repair_state',
        jsonb_strip_nulls(jsonb_build_object('number', r.number, 'from', r.state, 'to', to_st,
                                             'note', p->>'note')),
        p_actor, r.store_id, 'repair', r.id);
    -- The customer hears of the moves the store chose (repair_settings); the promise watch
    -- follows the state, and a repair that is ready or over has no promise left to break.
    perform promise_update('repair', r.id, to_st);
    if (select terminal from repair_states where state = to_st) or to_st = 'ready' then
        perform promise_resolve('repair', r.id);
    end if;
    if to_st = 'collected' then
        for c in select * from repair_contact(r) loop
            perform survey_offer(r.store_id, 'repair', r.id, c.channel, c.recipient, repair_lang(r),
                                 jsonb_build_object('name', c.name, 'code', r.number),
                                 c.recipient_bi);
        end loop;
    elsif to_st = any((repair_cfg(r.store_id)).notify) then
        if to_st = 'ready' then
            perform repair_notify(r, 'ready_for_pickup');
        else
            perform repair_notify(r, 'repair_status',
                                  jsonb_build_object('state', repair_state_label(to_st, repair_lang(r))));
        end if;
    end if;
    perform carnet_audit(p_actor, 'transition', 'repair', r.id::text, p_req);
    return repair_json(r.id);
end $$;

-- POST /api/repairs/{id}/parts: {part_number, serial?, description?, quantity?, expected_at?:
-- when an ordered part should arrive (the prediction waits for it until the work starts)}
create or replace function repair_part_add(p_actor bigint, p_id bigint, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    ps text;
    pid bigint;
    expected timestamptz;
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
    expected := device_parse_time(p->'expected_at', 'expected_at');
    if expected is not null and expected < now() - interval '1 day' then
        perform carnet_fail(422, 'invalid', 'expected_at', 'when the part should arrive: not in the past');
    end if;
    if expected > now() + interval '1 year' then
        perform carnet_fail(422, 'invalid', 'expected_at', 'when the part should arrive: within a year');
    end if;
    insert into repair_parts (repair_id, part_number, part_serial, description, quantity, actor,
                              expected_at)
    values (r.id, p->>'part_number', ps, p->>'description', coalesce((p->>'quantity')::int, 1), p_actor,
            expected)
    returning id into pid;
    update repair_orders set updated_at = now() where id = r.id;
    perform record_append(r.device_id, 'repair_part',
        jsonb_strip_nulls(jsonb_build_object('number', r.number, 'part_id', pid,
            'part_number', p->>'part_number', 'serial', ps, 'description', p->>'description',
            'quantity', coalesce((p->>'quantity')::int, 1), 'expected_at', expected)),
        p_actor, r.store_id, 'repair', r.id);
    if expected is not null and r.promised_at is not null then
        perform repair_promise_watch(r);
    end if;
    perform carnet_audit(p_actor, 'part', 'repair', r.id::text, p_req);
    return repair_json(r.id);
end $$;

-- POST /api/repairs/{id}/notes: {text}: labour notes, staff-only.
create or replace function repair_note_add(p_actor bigint, p_id bigint, p jsonb, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    e record_entries%rowtype;
begin
    if jsonb_typeof(p->'text') is distinct from 'string' or length(btrim(p->>'text')) not between 1 and 4000 then
        perform carnet_fail(422, 'invalid', 'text', 'a note of 1 to 4000 characters');
    end if;
    update repair_orders set updated_at = now() where id = r.id;
    e := record_append(r.device_id, 'repair_note',
        jsonb_build_object('number', r.number, 'text', btrim(p->>'text')),
        p_actor, r.store_id, 'repair', r.id);
    perform carnet_audit(p_actor, 'note', 'repair', r.id::text, p_req);
    return json_build_object('id', e.id, 'at', e.at, 'text', e.content->>'text', 'repair_id', r.id);
end $$;

-- repair_note_add with an Idempotency-Key (idempotency.sql), scoped to the actor: a tablet that
-- resends a note it wrote offline gets the first note back instead of a second one. With no key
-- it is plain repair_note_add.
create or replace function repair_note_add_keyed(p_actor bigint, p_id bigint, p jsonb, p_req text,
                                                 p_key_hash text, p_fingerprint text) returns json
language plpgsql as $$
declare
    scope text := format('repair_note_add:%s', p_actor);
    answer jsonb := idem_claim(scope, p_key_hash, p_fingerprint);
begin
    if answer is not null then
        return answer::json;
    end if;
    answer := repair_note_add(p_actor, p_id, p, p_req)::jsonb;
    perform idem_store(scope, p_key_hash, answer);
    return answer::json;
end $$;

-- PUT /api/repairs/{id}/promise: {promised_at?, kept_overnight?, note?}
create or replace function repair_promise(p_actor bigint, p_id bigint, p jsonb, p_req text) returns json
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
    -- A promise moved later is news the customer hears, with both dates (when the store wants).
    if previous is not null and promised > previous
       and 'delayed' = any((repair_cfg(r.store_id)).notify) then
        perform repair_notify(r, 'repair_delayed',
                              jsonb_build_object('starts_at', previous, 'estimate_at', promised));
    end if;
    perform record_append(r.device_id, 'repair_promise',
        jsonb_strip_nulls(jsonb_build_object('number', r.number, 'promised_at', promised,
            'previous_promised_at', previous, 'kept_overnight', overnight,
            'note', p->>'note')),
        p_actor, r.store_id, 'repair', r.id);
    perform carnet_audit(p_actor, 'promise', 'repair', r.id::text, p_req);
    return repair_json(r.id);
end $$;

-- The repair behind a customer link of this purpose, or 404 (unknown, revoked; an estimate link
-- that answers no version, estimate.sql) / 410 (expired).
create or replace function repair_link_find(p_hash text, p_purpose text) returns repair_links
language plpgsql stable as $$
declare
    l repair_links%rowtype;
begin
    select * into l from repair_links where token_hash = p_hash and purpose = p_purpose;
    if not found or l.revoked_at is not null
       or (p_purpose = 'estimate' and l.estimate_id is null) then
        perform carnet_fail(404, 'not_found', 'token', 'this link is not valid');
    end if;
    if l.expires_at < now() then
        perform carnet_fail(410, 'expired', 'token', 'this link has expired');
    end if;
    return l;
end $$;

-- What a customer may see of a repair: no serial, no staff, no notes, nothing of anyone else.
create or replace function repair_customer_json(p_id bigint) returns json
language sql stable as $$
    select json_build_object(
        'number', r.number, 'state', r.state, 'promised_at', r.promised_at,
        'kept_overnight', r.kept_overnight, 'opened_at', r.opened_at, 'updated_at', r.updated_at,
        'device', json_build_object('model', d.model, 'serial_end', right(d.serial, 4)),
        'store', json_build_object('name', s.name, 'timezone', s.timezone),
        'estimate', repair_estimate_current(r.id, false),
        'history', (select json_agg(json_build_object('state', m.to_state, 'at', m.at) order by m.id)
                    from repair_moves m where m.repair_id = r.id),
        -- Thread messages (006) are entries {author: customer|staff, body}, and since 019
        -- {author, message_id, sha256}: their text then rests sealed in messages.
        'messages', (select coalesce(json_agg(json_build_object('at', e.at,
                         'from', coalesce(e.content->>'from',
                                          case e.content->>'author' when 'staff' then 'store'
                                                                    when 'customer' then 'customer' end,
                                          case when e.actor is null
                                               then 'customer' else 'store' end),
                         'text', coalesce(e.content->>'text', e.content->>'body',
                                          (select mb.body from messages mb
                                           where mb.id = (e.content->>'message_id')::bigint)))
                         order by e.id), '[]')
                     from record_entries e
                     where e.ref_type = 'repair' and e.ref_id = r.id and e.kind = 'message'))
    from repair_orders r join devices d on d.id = r.device_id join stores s on s.id = r.store_id
    where r.id = p_id
$$;

-- GET /api/repair-status/{token}
create or replace function repair_status(p_hash text) returns json
language plpgsql stable as $$
begin
    return repair_customer_json((repair_link_find(p_hash, 'status')).repair_id);
end $$;

-- ---- live updates: every change of a repair order is an event on its own topic ----

create or replace function repair_topic(p_id bigint) returns text
language sql immutable as $$
    select 'repair:' || p_id
$$;

-- A changed repair order wakes its streams (sse.c): the staff ticket and the customer's status
-- page read it again. The payload says only what changed, nothing personal, so it suits both.
-- The row lock of the update is held until commit, so one repair's events commit in id order
-- (what a reader resuming after an id relies on).
create or replace function repair_emit() returns trigger
language plpgsql as $$
declare
    t text := repair_topic(new.id);
    eid bigint;
begin
    insert into events (store_id, topic, type, payload)
    values (new.store_id, t, 'repair',
            jsonb_build_object('state', new.state, 'estimate_state', new.estimate_state,
                               'updated_at', new.updated_at))
    returning id into eid;
    perform pg_notify('carnet_events', json_build_object('id', eid, 'topic', t)::text);
    return null;
end $$;

create or replace trigger repair_orders_emit after update on repair_orders
    for each row execute function repair_emit();

-- GET /api/repairs/{id}/events: what the staff ticket's stream follows.
create or replace function repair_stream_open(p_actor bigint, p_id bigint) returns json
language plpgsql as $$
begin
    perform repair_find(p_actor, p_id, array['specialist', 'technician', 'manager'], false);
    return json_build_object('topic', repair_topic(p_id),
        'max', coalesce((select max(id) from events where topic = repair_topic(p_id)), 0));
end $$;

-- GET /api/repair-status/{token}/events: the customer's status page.
create or replace function repair_status_stream_open(p_hash text) returns json
language plpgsql stable as $$
declare
    v_id bigint := (repair_link_find(p_hash, 'status')).repair_id;
begin
    return json_build_object('topic', repair_topic(v_id),
        'max', coalesce((select max(e.id) from events e where e.topic = repair_topic(v_id)), 0));
end $$;

-- ---- which moves send a message, and the store's language (a manager's call) ----

create or replace function repair_settings_json(p_store bigint) returns json
language sql stable as $$
    select json_build_object('lang', (select lang from stores where id = p_store),
                             'notify', to_json((repair_cfg(p_store)).notify),
                             'choices', json_build_array('diagnosing', 'awaiting_approval',
                                 'awaiting_parts', 'repairing', 'testing', 'ready',
                                 'returned_unrepaired', 'cancelled', 'delayed'))
$$;

-- GET /api/stores/{store}/repair-settings
create or replace function repair_settings_get(p_actor bigint, p_store bigint, p_req text) returns json
language plpgsql as $$
begin
    if not exists (select 1 from stores where id = p_store) then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    perform carnet_require(p_actor, p_store, array['manager']);
    perform carnet_audit(p_actor, 'read', 'repair_settings', p_store::text, p_req);
    return repair_settings_json(p_store);
end $$;

-- PUT /api/stores/{store}/repair-settings: {lang?: en|fr, notify?: [state or 'delayed', ...]};
-- members not given keep their value.
create or replace function repair_settings_put(p_actor bigint, p_store bigint, p jsonb, p_req text)
returns json language plpgsql as $$
declare
    k text;
    e jsonb;
    choices text[] := array['diagnosing', 'awaiting_approval', 'awaiting_parts', 'repairing',
                            'testing', 'ready', 'returned_unrepaired', 'cancelled', 'delayed'];
    i int := 0;
begin
    if not exists (select 1 from stores where id = p_store) then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    perform carnet_require(p_actor, p_store, array['manager']);
    for k in select jsonb_object_keys(p) loop
        if k not in ('lang', 'notify') then
            perform carnet_fail(422, 'unknown_field', k, 'no such repair setting');
        end if;
    end loop;
    if p ? 'lang' and (p->>'lang') is distinct from 'en' and (p->>'lang') is distinct from 'fr' then
        perform carnet_fail(422, 'invalid', 'lang', 'the store''s language: en or fr');
    end if;
    if p ? 'notify' then
        if jsonb_typeof(p->'notify') <> 'array' then
            perform carnet_fail(422, 'invalid', 'notify', 'a list of moves');
        end if;
        for e in select x from jsonb_array_elements(p->'notify') x loop
            if jsonb_typeof(e) <> 'string' or not ((e #>> '{}') = any(choices)) then
                perform carnet_fail(422, 'invalid', format('notify[%s]', i),
                    'a repair state a message may follow, or delayed');
            end if;
            i := i + 1;
        end loop;
    end if;
    if p ? 'lang' then
        update stores set lang = p->>'lang' where id = p_store;
    end if;
    if p ? 'notify' then
        insert into repair_settings (store_id, notify)
        values (p_store, array(select distinct x from jsonb_array_elements_text(p->'notify') x order by x))
        on conflict (store_id) do update set notify = excluded.notify;
    end if;
    perform carnet_audit(p_actor, 'update', 'repair_settings', p_store::text, p_req);
    return repair_settings_json(p_store);
end $$;
