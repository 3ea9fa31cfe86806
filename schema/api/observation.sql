-- Observation: a repair kept under observation overnight, the diagnostics of that night as a
-- timeline on the ticket, and the store's call-back list the next morning (schema/028).
--
-- A diagnostic session belongs to an observation when it was logged or imported for the
-- repair's device, in the repair's store, while the observation was open (its record entry's
-- time): read here, so device.sql's diagnostics stay as they are. The call-back is pending
-- until it is marked made; it is overdue when its time has passed (now(), read time).
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations.

-- How far ahead a call-back may be promised.
create or replace function observation_max_ahead() returns interval
language sql immutable as $$ select interval '7 days' $$;

-- The diagnostic sessions of one observation, oldest first, with their results.
create or replace function observation_sessions(o repair_observations) returns json
language sql stable as $$
    select coalesce(json_agg(json_build_object(
               'session_id', s.id, 'performed_at', s.performed_at, 'logged_at', e.at,
               'source', s.source, 'tool', s.tool, 'summary', e.content->>'summary',
               'passed', (e.content->>'passed')::int, 'failed', (e.content->>'failed')::int,
               'results', e.content->'results')
           order by e.at, s.id), '[]')
    from repair_orders r
    join diagnostic_sessions s on s.device_id = r.device_id and s.store_id = r.store_id
    join record_entries e on e.id = s.entry_id
    where r.id = o.repair_id and e.at >= o.started_at
      and (o.ended_at is null or e.at <= o.ended_at)
$$;

create or replace function observation_callback_json(o repair_observations) returns json
language sql stable as $$
    select json_build_object(
        'at', o.callback_at, 'state', o.callback_state,
        'overdue', o.callback_state = 'pending' and o.callback_at < now(),
        'done_at', o.callback_done_at, 'outcome', o.callback_outcome, 'note', o.callback_note,
        'done_by', (select json_build_object('id', s.id, 'name', s.name)
                    from staff s where s.id = o.callback_done_by))
$$;

-- GET /api/repairs/{id}/observation's answer: every observation of the repair, newest first,
-- each with its call-back and the sessions logged while it was open.
create or replace function observation_json(p_repair bigint) returns json
language sql stable as $$
    select json_build_object(
        'repair_id', r.id, 'number', r.number, 'state', r.state, 'timezone', st.timezone,
        'under_observation', exists (select 1 from repair_observations o
                                     where o.repair_id = r.id and o.ended_at is null),
        'callback_pending', exists (select 1 from repair_observations o
                                    where o.repair_id = r.id and o.callback_state = 'pending'),
        'observations', (select coalesce(json_agg(json_build_object(
                             'id', o.id, 'started_at', o.started_at, 'note', o.note,
                             'started_by', (select json_build_object('id', s.id, 'name', s.name)
                                            from staff s where s.id = o.started_by),
                             'ended_at', o.ended_at, 'end_reason', o.end_reason,
                             'callback', observation_callback_json(o),
                             'sessions', observation_sessions(o))
                         order by o.id desc), '[]')
                         from repair_observations o where o.repair_id = r.id))
    from repair_orders r join stores st on st.id = r.store_id
    where r.id = p_repair
$$;

-- The customer's language: the one of the repair's message thread (006), else English.
create or replace function observation_locale(r repair_orders) returns text
language sql stable as $$
    select coalesce((select t.locale from message_threads t
                     where t.ref_type = 'repair' and t.ref_id = r.id), 'en')
$$;

-- POST /api/repairs/{id}/observation: {callback_at, note?}. The customer gets one message
-- with the call-back time in the store's time zone, in their language.
create or replace function observation_start(p_actor bigint, p_id bigint, p jsonb, p_req text)
returns json language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    at timestamptz;
    c record;
    o repair_observations%rowtype;
begin
    perform repair_check_open(r);
    if p->'callback_at' is null or p->'callback_at' = 'null'::jsonb then
        perform carnet_fail(422, 'required', 'callback_at',
            'when the customer will be called back is required');
    end if;
    at := device_parse_time(p->'callback_at', 'callback_at');
    if at <= now() then
        perform carnet_fail(422, 'invalid', 'callback_at', 'a call-back time is in the future');
    end if;
    if at > now() + observation_max_ahead() then
        perform carnet_fail(422, 'invalid', 'callback_at',
            'a call-back time is within the next 7 days');
    end if;
    if p ? 'note' and p->'note' <> 'null'::jsonb
       and (jsonb_typeof(p->'note') <> 'string' or length(p->>'note') > 2000) then
        perform carnet_fail(422, 'invalid', 'note', 'a note of at most 2000 characters');
    end if;
    if exists (select 1 from repair_observations where repair_id = r.id and ended_at is null) then
        perform carnet_fail(409, 'already_observing', 'observation',
            'this repair is already under observation');
    end if;
    insert into repair_observations (repair_id, store_id, started_by, note, callback_at)
    values (r.id, r.store_id, p_actor, nullif(btrim(p->>'note'), ''), at)
    returning * into o;
    update repair_orders set kept_overnight = true, updated_at = now() where id = r.id;
    perform record_append(r.device_id, 'repair_observation',
        jsonb_strip_nulls(jsonb_build_object('number', r.number, 'callback_at', at,
                                             'note', o.note)),
        p_actor, r.store_id, 'repair', r.id);
    for c in select * from repair_contact(r) loop
        perform outbox_enqueue('repair_callback', c.channel, c.recipient, observation_locale(r),
            jsonb_strip_nulls(jsonb_build_object(
                'name', c.name, 'code', r.number, 'starts_at', at,
                'link', outbox_ref_data('repair', r.id)->>'status_link')),
            r.store_id, 'repair', r.id, null, c.recipient_bi);
    end loop;
    perform carnet_audit(p_actor, 'observe', 'repair', r.id::text, p_req);
    return observation_json(r.id);
end $$;

-- POST /api/repairs/{id}/observation/end: {} (the call-back stays pending).
create or replace function observation_end(p_actor bigint, p_id bigint, p jsonb, p_req text)
returns json language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
begin
    update repair_observations set ended_at = now(), ended_by = p_actor, end_reason = 'ended'
    where repair_id = r.id and ended_at is null;
    if not found then
        perform carnet_fail(409, 'not_observing', 'observation',
            'this repair is not under observation');
    end if;
    perform record_append(r.device_id, 'repair_observation_end',
        jsonb_build_object('number', r.number), p_actor, r.store_id, 'repair', r.id);
    perform carnet_audit(p_actor, 'observe_end', 'repair', r.id::text, p_req);
    return observation_json(r.id);
end $$;

-- GET /api/repairs/{id}/observation
create or replace function observation_get(p_actor bigint, p_id bigint, p_req text) returns json
language plpgsql as $$
begin
    perform repair_read(p_actor, p_id, 'repair', p_req);
    return observation_json(p_id);
end $$;

-- POST /api/repairs/{id}/callback/done: {outcome: reached|no_answer|left_message, note?}.
-- Marks the repair's pending call-back made (409 no_callback when none is pending) and tells
-- the store's tablets (a 'callback_done' event on the store's stream).
create or replace function observation_callback_done(p_actor bigint, p_id bigint, p jsonb,
                                                     p_req text) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype :=
        repair_lock(p_actor, p_id, array['specialist', 'technician', 'manager']);
    t text := floor_topic(r.store_id);
    eid bigint;
    done boolean;
begin
    if jsonb_typeof(p->'outcome') is distinct from 'string'
       or p->>'outcome' not in ('reached', 'no_answer', 'left_message') then
        perform carnet_fail(422, 'invalid', 'outcome', 'reached, no_answer or left_message');
    end if;
    if p ? 'note' and p->'note' <> 'null'::jsonb
       and (jsonb_typeof(p->'note') <> 'string' or length(p->>'note') > 2000) then
        perform carnet_fail(422, 'invalid', 'note', 'a note of at most 2000 characters');
    end if;
    update repair_observations
    set callback_state = 'done', callback_done_at = now(), callback_done_by = p_actor,
        callback_outcome = p->>'outcome', callback_note = nullif(btrim(p->>'note'), '')
    where repair_id = r.id and callback_state = 'pending';
    done := found;
    -- One call answers the customer's own "call me" about the estimate too (estimate.sql).
    update repair_estimates
    set callback_done_at = now(), callback_done_by = p_actor, callback_outcome = p->>'outcome'
    where repair_id = r.id and state = 'pending' and callback_requested_at is not null
      and callback_done_at is null;
    if not (done or found) then
        perform carnet_fail(409, 'no_callback', 'callback', 'no call-back is pending for this repair');
    end if;
    perform record_append(r.device_id, 'repair_callback',
        jsonb_strip_nulls(jsonb_build_object('number', r.number, 'outcome', p->>'outcome',
                                             'note', nullif(btrim(p->>'note'), ''))),
        p_actor, r.store_id, 'repair', r.id);
    perform carnet_audit(p_actor, 'callback', 'repair', r.id::text, p_req);
    -- Last, as floor_emit does: the topic lock is held until commit. The store's stream also
    -- feeds its public board, which drops the payload's "staff" member (sse.c): what it says
    -- goes there.
    perform pg_advisory_xact_lock(hashtext('carnet_events:' || t));
    insert into events (store_id, topic, type, payload)
    values (r.store_id, t, 'callback_done',
            jsonb_build_object('staff', jsonb_build_object('repair_id', r.id,
                                                           'outcome', p->>'outcome')))
    returning id into eid;
    perform pg_notify('carnet_events', json_build_object('id', eid, 'topic', t)::text);
    return observation_json(r.id);
end $$;

-- GET /api/stores/{store}/callbacks: who to call, oldest promise first: an observation's
-- call-back (kind 'observation') or a customer's "call me" about an estimate (kind 'estimate').
-- Each with the customer (opened by carnetd from the sealed owner of the repair's intake), the
-- repair, the device, when, whether it is overdue, and the night's results (the sessions of the
-- repair's observations) or the customer's note.
create or replace function observation_callbacks(p_actor bigint, p_store bigint, p_req text)
returns json language plpgsql as $$
declare
    out json;
begin
    perform carnet_require(p_actor, p_store, array['specialist', 'technician', 'manager']);
    select json_build_object(
        'store_id', st.id, 'timezone', st.timezone, 'now', now(),
        'callbacks', (select coalesce(json_agg(x.j order by x.at, x.id), '[]') from (
            select o.callback_at as at, o.id, json_build_object(
                'kind', 'observation', 'observation_id', o.id, 'repair_id', r.id, 'number', r.number, 'state', r.state,
                'callback_at', o.callback_at, 'overdue', o.callback_at < now(),
                'under_observation', o.ended_at is null, 'note', o.note,
                'device', json_build_object('serial', d.serial, 'model', d.model),
                'customer', (select json_build_object('name', w.name, 'email', w.email,
                                                      'phone', w.phone)
                             from device_owners w where w.id = r.contact_owner_id),
                'results', (select json_build_object(
                                'sessions', count(*),
                                'passed', coalesce(sum((e.content->>'passed')::int), 0),
                                'failed', coalesce(sum((e.content->>'failed')::int), 0),
                                'last_at', max(e.at),
                                'failed_tests', coalesce((
                                    select json_agg(distinct t->>'test')
                                    from diagnostic_sessions s2
                                    join record_entries e2 on e2.id = s2.entry_id,
                                         jsonb_array_elements(e2.content->'results') t
                                    where s2.device_id = r.device_id and s2.store_id = r.store_id
                                      and e2.at >= o.started_at
                                      and (o.ended_at is null or e2.at <= o.ended_at)
                                      and not (t->>'passed')::boolean), '[]'))
                            from diagnostic_sessions s join record_entries e on e.id = s.entry_id
                            where s.device_id = r.device_id and s.store_id = r.store_id
                              and e.at >= o.started_at
                              and (o.ended_at is null or e.at <= o.ended_at))) as j
            from repair_observations o
            join repair_orders r on r.id = o.repair_id
            join devices d on d.id = r.device_id
            where o.store_id = p_store and o.callback_state = 'pending'
            union all
            -- The customers who asked to be called about an estimate (estimate.sql): at the
            -- time they asked for, or within the hour.
            select coalesce(c.call_at, c.requested_at), -c.repair_id, json_build_object(
                'kind', 'estimate', 'repair_id', r.id, 'number', r.number, 'state', r.state,
                'callback_at', coalesce(c.call_at, c.requested_at),
                'overdue', coalesce(c.call_at, c.requested_at + interval '1 hour') < now(),
                'under_observation', false, 'estimate_version', c.version,
                'requested_at', c.requested_at, 'customer_note', c.note,
                'device', json_build_object('serial', d.serial, 'model', d.model),
                'customer', (select json_build_object('name', w.name, 'email', w.email,
                                                      'phone', w.phone)
                             from device_owners w where w.id = r.contact_owner_id))
            from repair_estimate_callbacks(p_store) c
            join repair_orders r on r.id = c.repair_id
            join devices d on d.id = r.device_id) x))
    into out
    from stores st where st.id = p_store;
    perform carnet_audit_read(p_actor, 'read_callbacks', 'store', p_store::text, p_req);
    return out;
end $$;

-- A state move ends the repair's observation; a move that closes the repair cancels its
-- pending call-back too (the customer is no longer waiting for it).
create or replace function observation_on_move() returns trigger
language plpgsql as $$
begin
    update repair_observations set ended_at = now(), ended_by = new.actor, end_reason = 'moved'
    where repair_id = new.repair_id and ended_at is null;
    if (select terminal from repair_states where state = new.to_state) then
        update repair_observations set callback_state = 'cancelled'
        where repair_id = new.repair_id and callback_state = 'pending';
    end if;
    return null;
end $$;

create or replace trigger repair_moves_observation after insert on repair_moves
    for each row execute function observation_on_move();
