-- The store floor: the walk-in line, check-in, call next, visit moves, standby offers, the board,
-- live events and the floor settings (and the triggers that keep visits and appointments in step).
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations. A changed argument list needs a migration that drops
-- the old signature first (see 008_api_functions.sql).

create or replace function floor_cfg(p_store bigint) returns floor_settings
language sql stable as $$
    select coalesce((select s from floor_settings s where s.store_id = p_store),
                    row(p_store, 30, 15, 900, 20, 200, 3)::floor_settings)
$$;

-- The store's local date, which numbers tickets and bounds "today".
create or replace function floor_today(p_store bigint) returns date
language sql stable as $$
    select (now() at time zone (select timezone from stores where id = p_store))::date
$$;

create or replace function floor_topic(p_store bigint) returns text
language sql immutable as $$ select 'store:' || p_store::text $$;

-- Measured service time: the mean of the last N finished visits' service (start -> done), or the
-- store's default when it has no history; specialists: those who called or served someone in
-- the last hour, at least one.
create or replace function floor_estimate(p_store bigint)
returns table (mean_service_s int, samples int, specialists int)
language sql stable as $$
    with cfg as (select * from floor_cfg(p_store)),
    recent as (
        select extract(epoch from v.done_at - v.service_started_at) as s
        from visits v
        where v.store_id = p_store and v.status = 'done' and v.service_started_at is not null
          and v.done_at > v.service_started_at
        order by v.done_at desc
        limit (select service_sample from cfg))
    select coalesce(round((select avg(s) from recent))::int, (select default_service_s from cfg)),
           (select count(*)::int from recent),
           greatest(1, (select count(distinct v.specialist_id)::int from visits v
                        where v.store_id = p_store and v.specialist_id is not null
                          and (v.status in ('called', 'in_service')
                               or v.called_at > now() - interval '1 hour'
                               or v.done_at > now() - interval '1 hour')))
$$;

-- The one wait estimate, for whoever has p_ahead people before them: the join form (a newcomer
-- has everyone waiting ahead), the join answer, the line page, the kiosk and the board all read
-- it, so no two screens can disagree. Per person ahead, the measured mean service time; but while
-- the store has measured fewer than three visits (or fewer than its whole sample, when that is
-- smaller) never less than its assumed service time: one quick visit must not make a long line
-- look short. Divided by the staff serving. Nobody ahead waits 0 (the page says "you are next").
create or replace function floor_wait_basis(p_store bigint)
returns table (per_person_s int, staff int)
language sql stable as $$
    select case when e.samples < least(3, c.service_sample)
                then greatest(e.mean_service_s, c.default_service_s)
                else e.mean_service_s end,
           e.specialists
    from floor_estimate(p_store) e, floor_cfg(p_store) c
$$;

-- The formula alone, so that the whole line is estimated from one floor_wait_basis read
-- (floor_line); a single figure is floor_wait_s.
create or replace function floor_wait_formula(p_ahead int, p_per_person_s int, p_staff int) returns int
language sql immutable as $$
    select (greatest(p_ahead, 0)::bigint * p_per_person_s / greatest(p_staff, 1))::int
$$;

create or replace function floor_wait_s(p_store bigint, p_ahead int) returns int
language sql stable as $$
    select floor_wait_formula(p_ahead, b.per_person_s, b.staff) from floor_wait_basis(p_store) b
$$;

-- The store's call order, and why each person stands where they do: the one place that decides
-- who is next. floor_line (the queue, the board, a customer's place) and floor_call_next (which
-- locks the first it can take) both read it, so the queue never names someone call next would
-- pass over. The rule, "due_then_arrival": booked customers whose appointment time has come go
-- first, by appointment time (part "appointment_due"); then everyone else in the order they
-- joined the line (part "arrival"), a booked customer early for their time included, and
-- someone sent back after not answering ("not here") from the moment they were sent back.
-- The reason is structured for the pages to word (en/fr): code appointment_due | booked_early |
-- walk_in, the part of the rule that placed them, and the values the words need.
create or replace function floor_order(p_store bigint)
returns table (visit_id bigint, pos int, reason jsonb)
language sql stable as $$
    select o.id, o.pos,
           jsonb_build_object(
               'code', case when o.due then 'appointment_due'
                            when o.kind = 'booked' then 'booked_early' else 'walk_in' end,
               'rule', 'due_then_arrival',
               'part', case when o.due then 'appointment_due' else 'arrival' end,
               'position', o.pos, 'due_at', o.due_at, 'arrived_at', o.arrived_at,
               'queued_at', o.queued_at, 'skips', o.skips,
               'waited_s', greatest(0, extract(epoch from now() - o.arrived_at))::int)
    from (select v.id, v.kind, v.due_at, v.arrived_at, v.queued_at, v.skips, d.due,
                 row_number() over (order by d.due desc, case when d.due then v.due_at end,
                                             v.queued_at, v.id)::int as pos
          from visits v
          cross join lateral (select v.kind = 'booked' and v.due_at <= now() as due) d
          where v.store_id = p_store and v.status = 'waiting') o
$$;

-- The waiting line in call order (floor_order), with names and the wait estimate of each place.
create or replace function floor_line(p_store bigint)
returns table (visit_id bigint, ticket int, name text, initial text, kind text, party int,
               due_at timestamptz, arrived_at timestamptz, pos int, wait_s int, reason jsonb)
language sql stable as $$
    select v.id, v.ticket, v.name, v.initial, v.kind, v.party, v.due_at, v.arrived_at, o.pos,
           floor_wait_formula(o.pos - 1, b.per_person_s, b.staff), o.reason
    from floor_order(p_store) o join visits v on v.id = o.visit_id, floor_wait_basis(p_store) b
    order by o.pos
$$;

-- The public picture of one visit and of the line (no names beyond an initial: carnetd took it
-- from the clear name before sealing it, 018). Of whoever calls, only the desk they named or
-- their first name (036): not which staff member it is.
create or replace function floor_visit_public(v visits) returns jsonb
language sql stable as $$
    select jsonb_build_object('id', v.id, 'ticket', v.ticket, 'initial', v.initial,
                              'kind', v.kind, 'status', v.status, 'desk', v.desk,
                              'called_at', v.called_at)
$$;

create or replace function floor_line_public(p_store bigint) returns jsonb
language sql stable as $$
    select coalesce(jsonb_agg(jsonb_build_object('visit_id', l.visit_id, 'ticket', l.ticket,
                                                 'initial', l.initial,
                                                 'position', l.pos, 'wait_s', l.wait_s)
                              order by l.pos), '[]'::jsonb)
    from floor_line(p_store) l
$$;

-- Records one floor event and wakes every carnetd. Call it last in a transaction (after every
-- row lock is taken): the topic lock is held until commit, so that a transaction holding it never
-- waits for a row another one holds while waiting for the topic.
create or replace function floor_emit(p_store bigint, p_type text, v visits, p_staff jsonb default '{}')
returns bigint language plpgsql as $$
declare
    t text := floor_topic(p_store);
    eid bigint;
begin
    perform pg_advisory_xact_lock(hashtext('carnet_events:' || t));
    insert into events (store_id, topic, type, payload)
    values (p_store, t, p_type,
            jsonb_build_object('visit', case when v.id is null then null
                                             else floor_visit_public(v) end,
                               'line', floor_line_public(p_store),
                               'staff', coalesce(p_staff, '{}'::jsonb)))
    returning id into eid;
    perform pg_notify('carnet_events', json_build_object('id', eid, 'topic', t)::text);
    return eid;
end $$;

create or replace function floor_visit_json(v visits) returns json
language sql stable as $$
    select json_build_object('id', v.id, 'store_id', v.store_id, 'appointment_id',
                             v.appointment_id, 'kind', v.kind, 'ticket', v.ticket, 'name', v.name,
                             'contact', v.contact, 'party', v.party, 'status', v.status,
                             'due_at', v.due_at, 'arrived_at', v.arrived_at,
                             'called_at', v.called_at, 'service_started_at',
                             v.service_started_at, 'done_at', v.done_at, 'left_at', v.left_at,
                             'specialist_id', v.specialist_id, 'desk', v.desk, 'skips', v.skips,
                             'problem', v.problem, 'serial', v.device_serial,
                             'repair_id', v.repair_id, 'left_reason', v.left_reason)
$$;

create or replace function floor_next_ticket(p_store bigint, p_day date) returns int
language sql as $$
    insert into floor_tickets (store_id, day, last) values (p_store, p_day, 1)
    on conflict (store_id, day) do update set last = floor_tickets.last + 1
    returning last
$$;

-- Where one visit stands: its state, place and estimated wait (the customer's view).
create or replace function floor_visit_place(p_visit bigint) returns json
language sql stable as $$
    select json_build_object('visit_id', v.id, 'store_id', v.store_id,
                             'store_name', (select name from stores where id = v.store_id),
                             'ticket', v.ticket, 'kind', v.kind, 'status', v.status,
                             'position', l.pos, 'ahead', l.pos - 1, 'wait_s', l.wait_s,
                             'arrived_at', v.arrived_at, 'called_at', v.called_at)
    from visits v left join lateral floor_line(v.store_id) l on l.visit_id = v.id
    where v.id = p_visit
$$;

-- A visit's customer contact: their booking's (email first), else what carnetd made of the
-- free text a walk-in left when they joined (floor.c: an email, a phone, or nobody). Messages
-- about a booked visit are about its appointment, so they carry the manage link over.
create or replace function floor_visit_contact(v visits, out channel text, out recipient text,
                                    out ref_type text, out ref_id bigint)
language plpgsql stable as $$
declare
    a appointments;
begin
    if v.appointment_id is not null then
        select * into a from appointments where id = v.appointment_id;
        select c.channel, c.recipient into channel, recipient from booking_contact(a) c;
        ref_type := 'appointment';
        ref_id := a.id;
    else
        channel := v.contact_channel;
        recipient := v.contact_recipient;
        ref_type := 'visit';
        ref_id := v.id;
    end if;
end $$;

-- Appends a visit step to its device's health record, when the visit names a device.
create or replace function floor_visit_record(v visits, p_event text, p_actor bigint) returns void
language plpgsql as $$
begin
    if v.device_serial is null then
        return;
    end if;
    perform record_append(device_ensure(v.device_serial), 'visit',
        jsonb_strip_nulls(jsonb_build_object(
            'event', p_event, 'kind', v.kind, 'ticket', v.ticket, 'day', v.day,
            'appointment_id', v.appointment_id, 'repair_id', v.repair_id,
            'repair_number', (select number from repair_orders where id = v.repair_id),
            'waited_s', extract(epoch from v.service_started_at - v.arrived_at)::int,
            'service_s', extract(epoch from v.done_at - v.service_started_at)::int)),
        p_actor, v.store_id, 'visit', v.id);
end $$;

-- Joins the walk-in line (public: kiosk, phone, or staff tablet). p_token_hash is the hash of
-- the private line link carnetd hands back. carnetd checked name and contact and sealed them
-- (017): name, initial; contact, contact_bi, and contact_channel with contact_recipient (sealed)
-- when the contact is an email address or a phone number; problem (sealed), what the visit is
-- about in the customer's words ("what is it about"). An optional serial names the device the visit is
-- about; it is only checked here: the device itself is made when staff start the visit, so a
-- public kiosk cannot fill the device table.
create or replace function floor_join_line(p_store bigint, p_body jsonb, p_token_hash text) returns json
language plpgsql as $$
declare
    v visits;
    d date;
    n_party int;
    n_serial text;
begin
    if not exists (select 1 from stores where id = p_store) then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    perform store_refuse_closed(p_store);
    perform booking_pd_require(p_body, 'name', true);
    perform booking_pd_require(p_body, 'contact', false);
    perform booking_pd_require(p_body, 'problem', false);
    if p_body->>'contact_channel' is not null then
        perform booking_pd_require(p_body, 'contact_recipient', true);
        if p_body->>'contact_channel' not in ('email', 'sms') or p_body->>'contact' is null then
            perform carnet_fail(422, 'invalid', 'contact_channel', 'email or sms, for a contact');
        end if;
    end if;
    if p_body ? 'party' then
        if jsonb_typeof(p_body->'party') <> 'number' or (p_body->>'party') !~ '^[0-9]+$'
           or (p_body->>'party')::numeric not between 1 and 10 then
            perform carnet_fail(422, 'invalid', 'party', 'party is a whole number from 1 to 10');
        end if;
        n_party := (p_body->>'party')::int;
    end if;
    if p_body ? 'serial' and p_body->'serial' <> 'null'::jsonb then
        if jsonb_typeof(p_body->'serial') <> 'string' then
            perform carnet_fail(422, 'invalid', 'serial', 'serial must be text');
        end if;
        n_serial := device_serial_normalize(p_body->>'serial', 'serial');
    end if;
    -- One join at a time per store, so the size check below cannot be raced past.
    perform pg_advisory_xact_lock(hashtext('carnet_line:' || p_store::text));
    if (select count(*) from visits where store_id = p_store and status = 'waiting')
       >= (floor_cfg(p_store)).line_max then
        perform carnet_fail(409, 'line_full', null, 'the line is full: please ask at the desk');
    end if;
    d := floor_today(p_store);
    insert into visits (store_id, kind, day, ticket, name, initial, contact, contact_bi,
                        contact_channel, contact_recipient, party, line_token_hash, device_serial,
                        problem)
    values (p_store, 'walk_in', d, floor_next_ticket(p_store, d), p_body->>'name',
            p_body->>'initial', p_body->>'contact', p_body->>'contact_bi',
            p_body->>'contact_channel', p_body->>'contact_recipient', coalesce(n_party, 1),
            p_token_hash, n_serial, p_body->>'problem')
    returning * into v;
    perform floor_emit(p_store, 'joined', v, jsonb_build_object('name', v.name));
    return floor_visit_place(v.id);
end $$;

-- floor_join_line with an Idempotency-Key (idempotency.sql), scoped to the store (a walk-in has
-- no account; the key and the keyed fingerprint of the whole request must both match): a retry
-- answers the first join, its line link included (p_token, sealed by carnetd), instead of
-- making a second visit. With no key it is plain floor_join_line.
create or replace function floor_join_line_keyed(p_store bigint, p_body jsonb, p_token_hash text,
                                                 p_key_hash text, p_fingerprint text,
                                                 p_token text) returns json
language plpgsql as $$
declare
    scope text := format('floor_join_line:%s', p_store);
    answer jsonb := idem_claim(scope, p_key_hash, p_fingerprint);
begin
    if answer is not null then
        return answer::json;
    end if;
    if p_key_hash is null then
        return floor_join_line(p_store, p_body, p_token_hash);
    end if;
    answer := floor_join_line(p_store, p_body, p_token_hash)::jsonb
              || jsonb_build_object('token', p_token);
    perform idem_store(scope, p_key_hash, answer);
    return answer::json;
end $$;

create or replace function floor_line_visit(p_token_hash text) returns visits
language plpgsql stable as $$
declare
    v visits;
begin
    select * into v from visits where line_token_hash = p_token_hash;
    -- A line link is good for the day of the visit only.
    if not found or v.day < floor_today(v.store_id) - 1 then
        perform carnet_fail(404, 'not_found', 'token', 'this line link is unknown or expired');
    end if;
    return v;
end $$;

create or replace function floor_line_status(p_token_hash text) returns json
language sql stable as $$
    select floor_visit_place((floor_line_visit(p_token_hash)).id)
$$;

create or replace function floor_line_leave(p_token_hash text) returns json
language plpgsql as $$
declare
    v visits := floor_line_visit(p_token_hash);
begin
    select * into v from visits where id = v.id for update;
    if v.status <> 'waiting' then
        perform carnet_fail(409, 'not_waiting', 'status',
                            'you are no longer in the line (' || v.status || ')');
    end if;
    update visits set status = 'left', left_at = now(), left_reason = 'left' where id = v.id
    returning * into v;
    perform floor_emit(v.store_id, 'left', v, jsonb_build_object('name', v.name));
    return floor_visit_place(v.id);
end $$;

-- The staff view of the floor: the line with names and estimates, who is being served, and the
-- store's floor staff.
create or replace function floor_queue(p_actor bigint, p_store bigint) returns json
language sql stable as $$
    select json_build_object(
        'store_id', p_store,
        'waiting', coalesce((select json_agg(json_build_object(
                        'visit_id', l.visit_id, 'ticket', l.ticket, 'name', l.name,
                        'kind', l.kind, 'party', l.party, 'due_at', l.due_at,
                        'arrived_at', l.arrived_at, 'position', l.pos, 'wait_s', l.wait_s,
                        'reason', l.reason)
                        order by l.pos) from floor_line(p_store) l), '[]'::json),
        -- the store's rule of call order (floor_order), which each reason names a part of
        'rule', 'due_then_arrival',
        'serving', coalesce((select json_agg(floor_visit_json(v) order by v.called_at)
                             from visits v where v.store_id = p_store
                               and v.status in ('called', 'in_service')), '[]'::json),
        'estimate', (select json_build_object('mean_service_s', e.mean_service_s,
                                              'samples', e.samples,
                                              'specialists', e.specialists)
                     from floor_estimate(p_store) e),
        -- who a visit can be handed to (POST /api/visits/{id}/transfer)
        'colleagues', coalesce((select json_agg(json_build_object('id', s.id, 'name', s.name)
                                                order by s.name, s.id)
                                from staff s
                                where s.disabled_at is null and exists (
                                    select 1 from staff_roles r where r.staff_id = s.id
                                      and r.store_id = p_store
                                      and r.role in ('specialist', 'manager'))), '[]'::json),
        -- who a hand-over can go to straight away, instead of the bench (floor_handover)
        'technicians', coalesce((select json_agg(json_build_object('id', s.id, 'name', s.name)
                                                 order by s.name, s.id)
                                 from staff s
                                 where s.disabled_at is null and exists (
                                     select 1 from staff_roles r where r.staff_id = s.id
                                       and r.store_id = p_store and r.role = 'technician')),
                                '[]'::json))
$$;

-- Call next: hands the first person in call order (floor_order) to one specialist, recording
-- why they were next. FOR UPDATE SKIP LOCKED makes concurrent callers take different people; the
-- status re-check under the row lock means a person called by a transaction that just committed
-- is passed over, never handed out twice.
create or replace function floor_call_next(p_actor bigint, p_store bigint, p_specialist bigint,
                                p_req text, p_desk text default null) returns json
language plpgsql as $$
declare
    v visits;
    vid bigint;
    at_pos int;
    why jsonb;
    who bigint := coalesce(p_specialist, p_actor);
begin
    if p_specialist is not null and p_specialist <> p_actor
       and not carnet_staff_can(p_specialist, p_store, array['specialist', 'manager']) then
        perform carnet_fail(422, 'invalid', 'specialist_id',
                            'that staff member does not work the floor of this store');
    end if;
    select o.visit_id, o.pos, o.reason into vid, at_pos, why
    from floor_order(p_store) o join visits w on w.id = o.visit_id
    where w.status = 'waiting'
    order by o.pos
    limit 1
    for update of w skip locked;
    if not found then
        perform carnet_fail(409, 'line_empty', null, 'nobody is waiting');
    end if;
    -- The people ahead were passed over only because another caller holds them (SKIP LOCKED):
    -- this one is the first still callable, so the call is in turn, at position 1; how many
    -- were being called stays in the reason.
    if at_pos > 1 then
        why := why || jsonb_build_object('position', 1, 'passed_locked', at_pos - 1);
        at_pos := 1;
    end if;
    select * into v from visits where id = vid;
    return floor_call_do(v, p_actor, who, p_req, p_desk, at_pos, why, null, null);
end $$;

-- Where the board sends a called person: the caller's desk for this session (p_desk, from the
-- session carnetd resolved), or the first name of whoever serves them when they named no desk
-- or someone else is called for.
create or replace function floor_call_desk(p_actor bigint, who bigint, p_desk text) returns text
language sql stable as $$
    select coalesce(case when who = p_actor then nullif(btrim(p_desk), '') end,
                    left(split_part(btrim((select name from staff where id = who)), ' ', 1), 40))
$$;

-- Calls one waiting visit (locked by the caller, status re-checked under the lock) for `who`,
-- and records the call (visit_calls, 051): the place it held and why (p_pos, p_reason, from
-- floor_order), and for a call out of turn the visit that was next (p_passed) and the caller's
-- reason (p_override, sealed). The reply is the visit with the call's record as `call`.
create or replace function floor_call_do(v visits, p_actor bigint, who bigint, p_req text,
                                         p_desk text, p_pos int, p_reason jsonb,
                                         p_passed bigint, p_override text)
returns json language plpgsql as $$
declare
    c record;
    k visit_calls;
begin
    update visits set status = 'called', called_at = now(), specialist_id = who,
                      desk = floor_call_desk(p_actor, who, p_desk)
    where id = v.id returning * into v;
    -- Called: a booked customer's wait is over (no "running late" any more), and whoever left
    -- a way to reach them is told to come to the desk.
    if v.appointment_id is not null then
        perform promise_resolve('appointment', v.appointment_id);
    end if;
    select * into c from floor_visit_contact(v);
    if c.channel is not null then
        perform outbox_enqueue('youre_next', c.channel, c.recipient, 'en',
                               jsonb_build_object('name', v.name), v.store_id, c.ref_type, c.ref_id);
    end if;
    insert into visit_calls (visit_id, store_id, called_by, specialist_id, position, reason,
                             override, passed_visit_id, override_reason)
    values (v.id, v.store_id, p_actor, who, p_pos, p_reason, p_override is not null, p_passed,
            p_override)
    returning * into k;
    perform carnet_audit(p_actor, 'call', 'visit', v.id::text, p_req);
    perform floor_emit(v.store_id, 'called', v,
                       jsonb_build_object('name', v.name,
                                          'specialist', (select name from staff where id = who)));
    return (floor_visit_json(v)::jsonb || jsonb_build_object('call', floor_call_json(k)))::json;
end $$;

create or replace function floor_call_json(k visit_calls) returns jsonb
language sql stable as $$
    select jsonb_build_object('id', k.id, 'called_at', k.called_at, 'called_by', k.called_by,
                              'position', k.position, 'reason', k.reason,
                              'override', k.override, 'passed_visit_id', k.passed_visit_id,
                              'override_reason', k.override_reason)
$$;

-- POST /api/visits/{id}/call: calls this person for the caller. Only a waiting visit can be
-- called: the row lock and the re-check make a second caller get 409, so one person is never
-- handed to two staff. Someone who is not next in the store's order (floor_order) is called
-- out of turn: that needs a reason (p_body.reason, 1 to 200 characters, sealed by carnetd),
-- else 422 reason_required and nothing changes; with it the call is recorded as an override.
-- A reason given for the one who is next anyway is not an override and is not kept.
create or replace function floor_visit_call(p_actor bigint, p_visit bigint, p_req text,
                                            p_desk text default null, p_body jsonb default null)
returns json language plpgsql as $$
declare
    v visits := floor_visit_lock(p_actor, p_visit);
    at_pos int;
    why jsonb;
    first_id bigint;
    because text;
begin
    if v.status <> 'waiting' then
        perform carnet_fail_extra(409, 'not_waiting', 'status',
            format('cannot call a visit that is %s', v.status),
            jsonb_build_object('status', v.status));
    end if;
    select o.pos, o.reason into at_pos, why from floor_order(v.store_id) o where o.visit_id = v.id;
    if at_pos > 1 then
        select o.visit_id into first_id from floor_order(v.store_id) o where o.pos = 1;
        perform booking_pd_require(coalesce(p_body, '{}'), 'reason', false);
        because := p_body->>'reason';
        if because is null then
            perform carnet_fail_extra(422, 'reason_required', 'reason',
                format('this person is number %s in line: calling them first needs a reason',
                       at_pos),
                jsonb_build_object('position', at_pos, 'next_visit_id', first_id));
        end if;
    end if;
    return floor_call_do(v, p_actor, p_actor, p_req, p_desk, at_pos, why, first_id, because);
end $$;

-- POST /api/visits/{id}/recall: calls a called person again (they have not come to the desk).
-- The board takes it as a new call (its chime plays again); the desk becomes the recaller's
-- when they are the one serving, else stays where the person was sent. No second message.
create or replace function floor_visit_recall(p_actor bigint, p_visit bigint, p_req text,
                                              p_desk text default null)
returns json language plpgsql as $$
declare
    v visits := floor_visit_lock(p_actor, p_visit);
begin
    if v.status <> 'called' then
        perform carnet_fail_extra(409, 'wrong_state', 'status',
            format('cannot call again a visit that is %s', v.status),
            jsonb_build_object('status', v.status));
    end if;
    update visits set called_at = now(),
                      desk = case when specialist_id = p_actor
                                  then floor_call_desk(p_actor, p_actor, p_desk) else desk end
    where id = v.id returning * into v;
    perform carnet_audit(p_actor, 'recall', 'visit', v.id::text, p_req);
    perform floor_emit(v.store_id, 'called', v,
                       jsonb_build_object('name', v.name, 'recall', true,
                                          'specialist', (select name from staff
                                                         where id = v.specialist_id)));
    return floor_visit_json(v);
end $$;

-- Locks a visit that the actor works the floor of, or fails (404 / 403).
create or replace function floor_visit_lock(p_actor bigint, p_visit bigint) returns visits
language plpgsql as $$
declare
    v visits;
begin
    select * into v from visits where id = p_visit for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such visit');
    end if;
    perform carnet_require(p_actor, v.store_id, array['specialist', 'manager']);
    return v;
end $$;

-- POST /api/visits/{id}/transfer {staff_id}: hands a called or served visit to a colleague who
-- works the floor of the same store.
create or replace function floor_visit_transfer(p_actor bigint, p_visit bigint, p jsonb, p_req text)
returns json language plpgsql as $$
declare
    v visits := floor_visit_lock(p_actor, p_visit);
    target bigint;
begin
    if jsonb_typeof(p->'staff_id') is distinct from 'number' or (p->>'staff_id') !~ '^[0-9]{1,18}$' then
        perform carnet_fail(422, 'invalid', 'staff_id', 'staff_id is a staff id');
    end if;
    target := (p->>'staff_id')::bigint;
    if not carnet_staff_can(target, v.store_id, array['specialist', 'manager']) then
        perform carnet_fail(422, 'invalid', 'staff_id',
                            'that staff member does not work the floor of this store');
    end if;
    if v.status not in ('called', 'in_service') then
        perform carnet_fail_extra(409, 'wrong_state', 'status',
            format('cannot transfer a visit that is %s', v.status),
            jsonb_build_object('status', v.status));
    end if;
    update visits set specialist_id = target where id = v.id returning * into v;
    perform carnet_audit(p_actor, 'transfer', 'visit', v.id::text, p_req);
    perform floor_emit(v.store_id, 'transferred', v,
                       jsonb_build_object('name', v.name,
                                          'specialist', (select name from staff where id = target)));
    return floor_visit_json(v);
end $$;

-- Moves one visit: start (called -> in_service), done (in_service -> done), skip (called ->
-- waiting at the back of the line, or left as a no-show at the store's max_skips), requeue (called/in_service -> waiting at its old place),
-- left (waiting/called -> left).
create or replace function floor_visit_move(p_actor bigint, p_visit bigint, p_action text, p_req text)
returns json language plpgsql as $$
declare
    v visits;
    allowed text[];
    c record;
begin
    select * into v from visits where id = p_visit for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such visit');
    end if;
    perform carnet_require(p_actor, v.store_id, array['specialist', 'manager']);
    allowed := case p_action
        when 'start' then array['called']
        when 'done' then array['in_service']
        when 'skip' then array['called']
        when 'requeue' then array['called', 'in_service']
        when 'left' then array['waiting', 'called']
    end;
    if allowed is null then
        perform carnet_fail(400, 'bad_action', 'action', 'unknown action');
    end if;
    if not v.status = any (allowed) then
        perform carnet_fail_extra(409, 'wrong_state', 'status',
            format('cannot %s a visit that is %s', p_action, v.status),
            jsonb_build_object('status', v.status));
    end if;
    case p_action
    when 'start' then
        update visits set status = 'in_service', service_started_at = now(),
                          specialist_id = coalesce(specialist_id, p_actor)
        where id = v.id returning * into v;
    when 'done' then
        update visits set status = 'done', done_at = now() where id = v.id returning * into v;
    when 'skip' then
        -- "Not here" sends them to the back of the line, max_skips times at most: then they
        -- are gone (a no-show).
        if v.skips + 1 >= (floor_cfg(v.store_id)).max_skips then
            update visits set status = 'left', left_at = now(), left_reason = 'no_show',
                              called_at = null, specialist_id = null, skips = skips + 1
            where id = v.id returning * into v;
            p_action := 'no_show';
        else
            update visits set status = 'waiting', queued_at = now(), called_at = null,
                              specialist_id = null, skips = skips + 1
            where id = v.id returning * into v;
        end if;
    when 'requeue' then
        update visits set status = 'waiting', called_at = null, service_started_at = null,
                          specialist_id = null
        where id = v.id returning * into v;
    else
        update visits set status = 'left', left_at = now(), left_reason = 'left'
        where id = v.id returning * into v;
    end case;
    if p_action = 'start' then
        perform floor_visit_record(v, 'started', p_actor);
    elsif p_action = 'done' then
        perform floor_visit_record(v, 'done', p_actor);
        select * into c from floor_visit_contact(v);
        if c.channel is not null then
            perform survey_offer(v.store_id, 'visit', v.id, c.channel, c.recipient, 'en',
                                 jsonb_build_object('name', v.name));
        end if;
    elsif p_action in ('left', 'no_show') and v.appointment_id is not null then
        -- Gone: nobody is waiting to be warned.
        perform promise_resolve('appointment', v.appointment_id);
    end if;
    perform carnet_audit(p_actor, p_action, 'visit', v.id::text, p_req);
    perform floor_emit(v.store_id, p_action, v, jsonb_build_object('name', v.name));
    return floor_visit_json(v);
end $$;

-- GET /api/visits/{id}: the serving card. What the specialist needs before a word is said: the
-- service, the customer's own words (their booking's problem, or what they said joining the
-- line: sealed, opened by carnetd on the way out), the device (serial, model, coverage), its
-- earlier visits and repairs at any store (count and latest), the time waited, and where its
-- health record is.
create or replace function floor_visit_card(p_actor bigint, p_visit bigint, p_req text) returns json
language plpgsql as $$
declare
    v visits;
    a appointments;
    d devices;
begin
    select * into v from visits where id = p_visit;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such visit');
    end if;
    perform carnet_require(p_actor, v.store_id, array['specialist', 'technician', 'manager']);
    if v.appointment_id is not null then
        select * into a from appointments where id = v.appointment_id;
    end if;
    if v.device_serial is not null then
        select * into d from devices where serial = v.device_serial;
    end if;
    perform carnet_audit_read(p_actor, 'read', 'visit', v.id::text, p_req);
    return json_build_object(
        'visit', floor_visit_json(v),
        'service', (select json_build_object('id', sv.id, 'name', sv.name)
                    from services sv where sv.id = a.service_id),
        'appointment', case when a.id is null then null
                            else json_build_object('id', a.id, 'code', a.code,
                                                   'starts_at', a.starts_at) end,
        'customer', json_build_object('name', v.name, 'contact', v.contact),
        'problem', coalesce(nullif(btrim(a.problem), ''), v.problem),
        'waited_s', greatest(0, extract(epoch from coalesce(v.called_at, now()) - v.arrived_at))::int,
        'device', case when v.device_serial is null then null
                       else json_build_object('serial', v.device_serial, 'known', d.id is not null,
                                              'model', d.model, 'warranty_end', d.warranty_end,
                                              'covered', d.warranty_end >= floor_today(v.store_id))
                  end,
        'record_link', case when v.device_serial is null then null
                            else '#device/' || v.device_serial end,
        'history', case when v.device_serial is null then null else json_build_object(
            'visits', (select json_build_object('count', count(*),
                          'latest', (select json_build_object('id', o.id, 'day', o.day,
                                         'status', o.status, 'store', st.name,
                                         'repair_id', o.repair_id)
                                     from visits o join stores st on st.id = o.store_id
                                     where o.device_serial = v.device_serial and o.id <> v.id
                                     order by o.arrived_at desc limit 1))
                       from visits o where o.device_serial = v.device_serial and o.id <> v.id),
            'repairs', (select json_build_object('count', count(*),
                           'latest', (select json_build_object('id', r.id, 'number', r.number,
                                          'state', r.state, 'problem', r.problem,
                                          'opened_at', r.opened_at, 'store', st.name)
                                      from repair_orders r join stores st on st.id = r.store_id
                                      where r.device_id = d.id
                                      order by r.opened_at desc limit 1))
                        from repair_orders r where r.device_id = d.id)) end);
end $$;

-- What a hand-over carries from the visit that SQL cannot read: a walk-in's own words are
-- sealed, so carnetd asks for them first, opens them, and hands them to floor_handover.
create or replace function floor_handover_words(p_actor bigint, p_visit bigint) returns json
language plpgsql stable as $$
declare
    v visits;
begin
    select * into v from visits where id = p_visit;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such visit');
    end if;
    perform carnet_require(p_actor, v.store_id, array['specialist', 'manager']);
    return json_build_object('problem', v.problem);
end $$;

-- POST /api/visits/{id}/handover {note?, technician_id?, serial?}: the visit being served
-- becomes a repair order, pre-filled from the booking or the visit: the device (the visit's
-- serial, or `serial` given now when it had none), its owner and contact (the booking's or the
-- walk-in's, sealed as they are), the problem in the customer's words (p_words: a walk-in's
-- opened by carnetd; else the booking's), and the specialist's note as the repair's first note.
-- With technician_id the repair is that technician's; without, it waits on the store's bench
-- queue. The visit is done and its record entry names the repair. p_key_hash: SHA-256 of the
-- Idempotency-Key, or NULL: a key seen before answers its repair again (same visit) or 422.
-- p_status_hash / p_status_token: the customer's status link, as repair_open takes them.
create or replace function floor_handover(p_actor bigint, p_visit bigint, p jsonb, p_words text,
                               p_key_hash text, p_status_hash text, p_req text,
                               p_status_token text default null) returns json
language plpgsql as $$
declare
    v visits;
    a appointments;
    k handover_keys;
    n_serial text;
    note text;
    tech bigint;
    words text;
    d devices;
    owner jsonb;
    r repair_orders;
begin
    select * into v from visits where id = p_visit for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such visit');
    end if;
    perform carnet_require(p_actor, v.store_id, array['specialist', 'manager']);
    if p_key_hash is not null then
        select * into k from handover_keys where store_id = v.store_id and key_hash = p_key_hash;
        if found then
            if k.visit_id <> v.id then
                perform carnet_fail(422, 'key_reused', 'Idempotency-Key',
                                    'this Idempotency-Key was used for another hand-over');
            end if;
            return repair_json(k.repair_id);
        end if;
    end if;
    if v.status <> 'in_service' then
        perform carnet_fail_extra(409, 'not_in_service', 'status',
            format('only a visit being served can be handed over (this one is %s)', v.status),
            jsonb_build_object('status', v.status));
    end if;
    if p ? 'note' and p->'note' <> 'null'::jsonb then
        if jsonb_typeof(p->'note') <> 'string' or length(p->>'note') > 2000 then
            perform carnet_fail(422, 'invalid', 'note', 'a note of at most 2000 characters');
        end if;
        note := nullif(btrim(p->>'note'), '');
    end if;
    if p ? 'technician_id' and p->'technician_id' <> 'null'::jsonb then
        if jsonb_typeof(p->'technician_id') <> 'number'
           or (p->>'technician_id') !~ '^[0-9]{1,18}$' then
            perform carnet_fail(422, 'invalid', 'technician_id', 'technician_id is a staff id');
        end if;
        tech := (p->>'technician_id')::bigint;
        if not carnet_staff_can(tech, v.store_id, array['technician']) then
            perform carnet_fail(422, 'invalid', 'technician_id',
                                'that staff member is not a technician of this store');
        end if;
    end if;
    n_serial := v.device_serial;
    if n_serial is null then
        if jsonb_typeof(p->'serial') is distinct from 'string' then
            perform carnet_fail(422, 'serial_required', 'serial',
                                'a repair needs the device: add its serial number');
        end if;
        n_serial := device_serial_normalize(p->>'serial', 'serial');
    end if;
    if v.appointment_id is not null then
        select * into a from appointments where id = v.appointment_id;
    end if;
    words := left(coalesce(nullif(btrim(a.problem), ''), nullif(btrim(p_words), ''), note,
                             (select name from services where id = a.service_id),
                             'walk-in visit'), 2000);
    -- (device_ensure may insert it: read it back in a statement of its own, which sees it)
    d.id := device_ensure(n_serial);
    select * into d from devices where id = d.id for no key update;
    -- The customer, as they gave themselves: the booking's name and contact, or the walk-in's
    -- (sealed values pass as they are). Nobody to reach: no owner is recorded.
    if a.id is not null then
        owner := jsonb_build_object('name', a.customer_name, 'email', a.customer_email,
                                    'email_bi', a.customer_email_bi, 'phone', a.customer_phone,
                                    'phone_bi', a.customer_phone_bi);
    elsif v.contact_channel is not null then
        owner := jsonb_build_object('name', v.name)
                 || case when v.contact_channel = 'email'
                         then jsonb_build_object('email', v.contact_recipient, 'email_bi', v.contact_bi)
                         else jsonb_build_object('phone', v.contact_recipient, 'phone_bi', v.contact_bi) end;
    end if;
    owner := jsonb_strip_nulls(owner);
    if owner ? 'name' and (owner ? 'email' or owner ? 'phone') then
        perform device_owner_set(p_actor, d, owner, v.store_id, 'owner', p_req);
    end if;
    -- Without the intake checklist: the technician records the device's condition when they
    -- take it in (intake.sql).
    r := repair_create(p_actor, v.store_id, d, words, '{}', null, false, null, tech,
                       p_status_hash, p_status_token, p_req,
                       jsonb_build_object('visit_id', v.id, 'ticket', v.ticket));
    if note is not null then
        perform record_append(d.id, 'repair_note', jsonb_build_object('number', r.number, 'text', note),
                              p_actor, v.store_id, 'repair', r.id);
    end if;
    if p_key_hash is not null then
        insert into handover_keys (store_id, key_hash, visit_id, repair_id)
        values (v.store_id, p_key_hash, v.id, r.id);
    end if;
    update visits set status = 'done', done_at = now(), repair_id = r.id, device_serial = n_serial
    where id = v.id returning * into v;
    perform floor_visit_record(v, 'done', p_actor);
    perform carnet_audit(p_actor, 'handover', 'visit', v.id::text, p_req);
    perform floor_emit(v.store_id, 'done', v,
                       jsonb_build_object('name', v.name, 'repair_id', r.id, 'number', r.number));
    if tech is null then
        perform floor_emit(v.store_id, 'bench_added', null::visits,
                           jsonb_build_object('repair_id', r.id, 'number', r.number));
    end if;
    return repair_json(r.id);
end $$;

-- PUT /api/session/desk {"desk": "Desk 3"}: the desk the caller serves from, for the session
-- they call with (p_session, its token hash); '' clears it. The next call carries it to the board.
create or replace function floor_desk_set(p_actor bigint, p_request_id text, p_session text,
                                          p_body jsonb) returns json
language plpgsql as $$
declare
    d text;
begin
    if jsonb_typeof(p_body->'desk') is distinct from 'string' then
        perform carnet_fail(422, 'invalid', 'desk', 'desk is a text (empty to clear it)');
    end if;
    d := btrim(p_body->>'desk');
    if char_length(d) > 40 then
        perform carnet_fail(422, 'invalid', 'desk', 'a desk name has at most 40 characters');
    end if;
    if d ~ '[[:cntrl:]]' then
        perform carnet_fail(422, 'invalid', 'desk', 'a desk name is one line of text');
    end if;
    update sessions set desk = d where token_hash = p_session and staff_id = p_actor;
    if not found then
        perform carnet_fail(401, 'unauthenticated', null, 'sign in first');
    end if;
    perform carnet_audit(p_actor, 'desk', 'staff', p_actor::text, p_request_id);
    return json_build_object('desk', d);
end $$;

-- The wall board: tickets and initials only, and the desk (or first name) each one is called to.
-- 'recent' is the last few called who are no longer waiting for the desk; the time zone is for
-- the board's clock.
create or replace function floor_board(p_store bigint) returns json
language plpgsql stable as $$
declare
    st stores;
    line jsonb;
begin
    select * into st from stores where id = p_store;
    if not found then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    line := floor_line_public(p_store);
    return json_build_object(
        'store_id', p_store,
        'store_name', st.name,
        'store_code', st.code,
        'timezone', st.timezone,
        'recent', coalesce((select json_agg(floor_visit_public(x) order by x.called_at desc)
                            from (select * from visits v
                                  where v.store_id = p_store and v.day = floor_today(p_store)
                                    and v.called_at is not null and v.status <> 'called'
                                    and v.status <> 'waiting'
                                  order by v.called_at desc limit 5) x), '[]'::json),
        'serving', coalesce((select json_agg(floor_visit_public(v) order by v.called_at)
                             from visits v where v.store_id = p_store
                               and v.status in ('called', 'in_service')), '[]'::json),
        'waiting', line,
        -- What joining now would mean: everyone waiting is ahead (the join form's figure).
        'join_wait_s', floor_wait_s(p_store, jsonb_array_length(line)),
        'last_event_id', (select max(id) from events where topic = floor_topic(p_store)));
end $$;

-- What a live stream follows: a store's topic (p_kind 'store') or one visit's place in it
-- (p_kind 'line', p_key the line link's hash).
create or replace function floor_stream_open(p_kind text, p_key text) returns json
language plpgsql stable as $$
declare
    v visits;
    s bigint;
begin
    -- 'max' is where a stream without Last-Event-ID starts: read before the stream's 200 goes
    -- out, so anything the client causes after seeing the 200 is newer and reaches it.
    if p_kind = 'line' then
        v := floor_line_visit(p_key);
        return json_build_object('topic', floor_topic(v.store_id), 'visit_id', v.id,
            'max', coalesce((select max(id) from events where topic = floor_topic(v.store_id)), 0));
    end if;
    s := p_key::bigint;
    if not exists (select 1 from stores where id = s) then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    return json_build_object('topic', floor_topic(s), 'visit_id', null,
        'max', coalesce((select max(id) from events where topic = floor_topic(s)), 0));
end $$;

-- Events of a topic after p_after (all newer ones up to p_limit), and the topic's newest id so
-- a reader without a position can start from now.
create or replace function sse_events(p_topic text, p_after bigint, p_limit int) returns json
language sql stable as $$
    select json_build_object(
        'max', coalesce((select max(id) from events where topic = p_topic), 0),
        'events', case when p_after is null then '[]'::json else
            coalesce((select json_agg(json_build_object('id', e.id, 'type', e.type,
                                                        'payload', e.payload) order by e.id)
                      from (select * from events where topic = p_topic and id > p_after
                            order by id limit p_limit) e), '[]'::json) end)
$$;

-- Events are for live delivery and short reconnects, not history: the visits table keeps that.
create or replace function job_prune_events() returns int
language plpgsql as $$
declare
    n int;
begin
    delete from events where at < now() - interval '2 days';
    get diagnostics n = row_count;
    return n;
end $$;

-- Checks in one appointment (locked by the caller): the early/late window of its store, then
-- the appointment becomes checked_in and a booked visit joins the line, due at its start.
-- p_line_hash: hash of the line link handed to the customer. Returns {visit, place}.
create or replace function floor_checkin_do(a appointments, p_actor bigint, p_line_hash text, p_req text)
returns json language plpgsql as $$
declare
    cfg floor_settings := floor_cfg(a.store_id);
    v visits;
    d date := floor_today(a.store_id);
    c record;
begin
    case a.status
    when 'booked' then null;
    when 'checked_in', 'in_service' then
        perform carnet_fail(409, 'already_checked_in', 'status', 'this booking is already checked in');
    when 'cancelled' then
        perform carnet_fail(409, 'cancelled', 'status', 'this booking was cancelled');
    when 'no_show' then
        perform carnet_fail(409, 'no_show', 'status',
                            'this booking was marked as a no-show: please join the line');
    else
        perform carnet_fail(409, 'already_done', 'status', 'this booking is already done');
    end case;
    if now() < a.starts_at - make_interval(mins => cfg.checkin_early_min) then
        perform carnet_fail_extra(409, 'too_early', 'status',
            format('check-in opens %s minutes before the appointment', cfg.checkin_early_min),
            jsonb_build_object('opens_at', a.starts_at - make_interval(mins => cfg.checkin_early_min)));
    end if;
    if now() > a.starts_at + make_interval(mins => cfg.checkin_late_min) then
        perform carnet_fail(409, 'too_late', 'status',
            'the check-in window of this booking has passed: please ask at the desk');
    end if;
    update appointments set status = 'checked_in', checked_in_at = now(), updated_at = now()
    where id = a.id;
    -- Name and contact are copied sealed as they are (the contact's blind index with them).
    insert into visits (store_id, appointment_id, kind, day, ticket, name, initial, contact,
                        contact_bi, due_at, line_token_hash, device_serial)
    values (a.store_id, a.id, 'booked', d, floor_next_ticket(a.store_id, d),
            a.customer_name, a.customer_initial, coalesce(a.customer_phone, a.customer_email),
            case when a.customer_phone is not null then a.customer_phone_bi
                 else a.customer_email_bi end,
            a.starts_at, p_line_hash, a.device_serial)
    returning * into v;
    -- Checked in on time: if we keep them waiting past their time, they are told (006).
    select * into c from booking_contact(a);
    perform promise_track(a.store_id, 'appointment', a.id, a.starts_at, c.channel, c.recipient,
                          'en', jsonb_build_object('name', a.customer_name, 'code', a.code));
    perform carnet_audit(p_actor, 'checkin', 'appointment', a.id::text, p_req);
    perform floor_emit(a.store_id, 'checked_in', v, jsonb_build_object('name', v.name));
    return json_build_object('visit', floor_visit_json(v), 'place', floor_visit_place(v.id));
end $$;

-- Staff check-in at a store: by confirmation code, appointment id, or the manage link's token
-- (its QR code; carnetd sends the hash as token_hash). Only this store's bookings are looked
-- up: another store's booking is answered as an unknown one, so the desk learns nothing of it.
create or replace function floor_checkin(p_actor bigint, p_store bigint, p_body jsonb, p_line_hash text,
                              p_req text) returns json
language plpgsql as $$
declare
    a appointments;
    field text;
    v_code text := upper(regexp_replace(coalesce(p_body->>'code', ''), '\s', '', 'g'));
begin
    if p_body ? 'code' then
        field := 'code';
        if v_code !~ '^[2-9A-HJKMNP-Z]{6}$' then
            perform carnet_fail(422, 'invalid', 'code', 'a confirmation code is 6 letters and digits');
        end if;
        -- A live booking first; else the newest finished one, to say why it cannot check in.
        select * into a from appointments where appointments.code = v_code and store_id = p_store
        order by (status in ('booked', 'checked_in', 'in_service')) desc, starts_at desc
        limit 1 for update;
    elsif p_body ? 'appointment_id' then
        field := 'appointment_id';
        if jsonb_typeof(p_body->'appointment_id') <> 'number'
           or (p_body->>'appointment_id') !~ '^[0-9]{1,18}$' then
            perform carnet_fail(422, 'invalid', 'appointment_id', 'appointment_id is an id');
        end if;
        select * into a from appointments
        where id = (p_body->>'appointment_id')::bigint and store_id = p_store
        for update;
    elsif p_body ? 'token_hash' then
        field := 'token';
        select ap.* into a from appointment_tokens t join appointments ap on ap.id = t.appointment_id
        where t.token_hash = p_body->>'token_hash' and t.purpose = 'manage'
          and t.expires_at > now() and ap.store_id = p_store
        for update of ap;
    else
        perform carnet_fail(422, 'invalid', 'code', 'give a code, an appointment_id or a token');
    end if;
    if a.id is null then
        perform carnet_fail(404, 'not_found', field, 'no booking matches');
    end if;
    return floor_checkin_do(a, p_actor, p_line_hash, p_req);
end $$;

-- floor_checkin with an Idempotency-Key (idempotency.sql), scoped to the actor and the store:
-- a retry answers the first check-in, the same line link included. p_token is that link's token
-- sealed by carnetd (seal.h), kept in the answer so a retry can hand it back; with no key
-- (p_key_hash null) it is plain floor_checkin and carnetd adds the link itself.
create or replace function floor_checkin_keyed(p_actor bigint, p_store bigint, p_body jsonb,
                                               p_line_hash text, p_req text, p_key_hash text,
                                               p_fingerprint text, p_token text) returns json
language plpgsql as $$
declare
    scope text := format('floor_checkin:%s:%s', p_actor, p_store);
    answer jsonb := idem_claim(scope, p_key_hash, p_fingerprint);
begin
    if answer is not null then
        return answer::json;
    end if;
    if p_key_hash is null then
        return floor_checkin(p_actor, p_store, p_body, p_line_hash, p_req);
    end if;
    answer := floor_checkin(p_actor, p_store, p_body, p_line_hash, p_req)::jsonb
              || jsonb_build_object('token', p_token);
    perform idem_store(scope, p_key_hash, answer);
    return answer::json;
end $$;

-- Self check-in by the customer, with the manage link's token.
create or replace function floor_self_checkin(p_token_hash text, p_line_hash text) returns json
language plpgsql as $$
declare
    a appointments;
    r json;
begin
    select ap.* into a from appointment_tokens t join appointments ap on ap.id = t.appointment_id
    where t.token_hash = p_token_hash and t.purpose = 'manage' and t.expires_at > now();
    if not found then
        perform carnet_fail(404, 'not_found', 'token', 'this link is unknown or expired');
    end if;
    -- Staff at the desk may still check a booking in; the customer alone may not, at a closed
    -- door. The store before the booking's lock, the order closing takes them in.
    perform store_refuse_closed(a.store_id);
    select * into a from appointments where id = a.id for update;
    r := floor_checkin_do(a, null, p_line_hash, null);
    return r->'place';
end $$;

-- Today's bookings of a store that may be checked in, for the check-in desk's search by name:
-- names are sealed (017), so carnetd opens them and keeps those that contain p_name
-- (floor.c). p_name is checked here all the same, and the search audited.
create or replace function floor_checkin_search(p_actor bigint, p_store bigint, p_name text, p_req text)
returns json language plpgsql as $$
declare
    d date := floor_today(p_store);
    tz text := (select timezone from stores where id = p_store);
begin
    if p_name is null or length(btrim(p_name)) < 2 or length(p_name) > 100 then
        perform carnet_fail(422, 'invalid', 'name', 'search with 2 to 100 characters of the name');
    end if;
    perform carnet_audit_read(p_actor, 'search', 'appointment', null, p_req);
    return coalesce((
        select json_agg(json_build_object('id', a.id, 'code', a.code, 'status', a.status,
                                          'customer_name', a.customer_name,
                                          'starts_at', a.starts_at, 'ends_at', a.ends_at,
                                          'service', sv.name, 'staff_id', a.staff_id)
                        order by a.starts_at, a.id)
        from appointments a join services sv on sv.id = a.service_id
        where a.store_id = p_store
          and (a.starts_at at time zone tz)::date = d
          and a.status in ('booked', 'checked_in')), '[]'::json);
end $$;

-- A visit's service moves carry over to its appointment.
create or replace function floor_sync_appointment() returns trigger
language plpgsql as $$
begin
    if new.appointment_id is null or new.status = old.status then
        return new;
    end if;
    if new.status = 'in_service' then
        update appointments set status = 'in_service', service_started_at = new.service_started_at,
                                updated_at = now()
        where id = new.appointment_id and status = 'checked_in';
    elsif new.status = 'done' then
        update appointments set status = 'done', done_at = new.done_at, updated_at = now()
        where id = new.appointment_id and status in ('checked_in', 'in_service');
    elsif new.status = 'waiting' and old.status = 'in_service' then
        update appointments set status = 'checked_in', service_started_at = null,
                                updated_at = now()
        where id = new.appointment_id and status = 'in_service';
    end if;
    return new;
end $$;

create or replace trigger visits_sync_appointment after update of status on visits
    for each row execute function floor_sync_appointment();

-- What carnetd derived from a walk-in's contact goes with it: a contact erased (retention,
-- erasure) leaves no address to reach them by.
create or replace function floor_contact_erased() returns trigger
language plpgsql as $$
begin
    if new.contact is null then
        new.contact_bi := null;
        new.contact_channel := null;
        new.contact_recipient := null;
    end if;
    return new;
end $$;

create or replace trigger visits_contact_erased before update of contact on visits
    for each row when (new.contact is null) execute function floor_contact_erased();

-- Bookings not checked in by the end of their store's late window become no-shows. SKIP LOCKED:
-- several carnetd may run this at once, and a check-in in progress is left to finish.
create or replace function job_mark_no_shows() returns int
language plpgsql as $$
declare
    ids bigint[];
    st record;
begin
    with due as (
        select ap.id from appointments ap
        where ap.status = 'booked'
          and ap.starts_at < now() - make_interval(mins => (floor_cfg(ap.store_id)).checkin_late_min)
        order by ap.starts_at
        limit 500
        for update of ap skip locked),
    marked as (
        update appointments a set status = 'no_show', no_show_at = now(), updated_at = now()
        from due where a.id = due.id
        returning a.id)
    select array_agg(id) into ids from marked;
    if ids is null then
        return 0;
    end if;
    -- One event per store touched, written after every row lock is held.
    for st in select store_id, array_agg(id order by id) as appts from appointments
              where id = any (ids) group by store_id order by store_id
    loop
        perform floor_emit(st.store_id, 'no_show', null::visits,
                           jsonb_build_object('appointments', to_jsonb(st.appts)));
    end loop;
    return cardinality(ids);
end $$;

create or replace function floor_standby_slot_freed() returns trigger
language plpgsql as $$
begin
    if old.status in ('booked', 'checked_in') and old.starts_at > now()
       and (new.status = 'cancelled' or new.starts_at <> old.starts_at
            or new.staff_id <> old.staff_id) then
        insert into standby_slots (store_id, service_id, staff_id, starts_at, ends_at,
                                   blocked_until)
        values (old.store_id, old.service_id, old.staff_id, old.starts_at, old.ends_at,
                old.blocked_until);
    end if;
    return new;
end $$;

create or replace trigger appointments_standby_slot after update on appointments
    for each row execute function floor_standby_slot_freed();

-- Whether the offered appointment is still the one held for the customer: booked, at the time
-- offered. Staff may cancel it (the slot then goes to the next customer) or move it from the
-- day list while it is held; either way it is no longer this offer.
create or replace function floor_standby_held(s standby, a appointments) returns boolean
language sql stable as $$
    select coalesce(a.id = s.offered_appointment_id and a.status = 'booked'
                    and a.starts_at = s.offered_starts_at, false)
$$;

create or replace function floor_standby_json(s standby) returns json
language sql stable as $$
    select json_build_object(
        'id', s.id, 'store_id', s.store_id, 'service_id', s.service_id,
        'service', (select name from services where id = s.service_id), 'day', s.day,
        'status', s.status,
        'position', case when s.status = 'waiting' then
            (select count(*) from standby o where o.store_id = s.store_id
               and o.service_id = s.service_id and o.day = s.day and o.status = 'waiting'
               and (o.created_at, o.id) <= (s.created_at, s.id)) end,
        'offer', case when s.status in ('offered', 'booked') then
            (select json_build_object('appointment_id', a.id, 'starts_at', a.starts_at,
                                      'ends_at', a.ends_at, 'expires_at', s.offer_expires_at,
                                      'held', s.status = 'offered' and s.offer_expires_at > now()
                                              and floor_standby_held(s, a))
             from appointments a where a.id = s.offered_appointment_id) end)
$$;

-- Joins the standby list of a full day (public). p_token_hash: hash of the standby link.
create or replace function floor_standby_join(p_store bigint, p_body jsonb, p_token_hash text) returns json
language plpgsql as $$
declare
    st stores;
    sv services;
    d date;
    s standby;
begin
    st := booking_store(p_store);
    perform store_refuse_closed(st.id);
    if jsonb_typeof(p_body->'service_id') is distinct from 'number'
       or (p_body->>'service_id') !~ '^[0-9]{1,18}$' then
        perform carnet_fail(422, 'invalid', 'service_id', 'service_id is required');
    end if;
    select * into sv from services
    where id = (p_body->>'service_id')::bigint and store_id = st.id and active;
    if not found then
        perform carnet_fail(422, 'invalid', 'service_id', 'no such service at this store');
    end if;
    d := booking_parse_date(p_body->>'date', 'date');
    if d < floor_today(st.id) or d > floor_today(st.id) + booking_max_days() then
        perform carnet_fail(422, 'invalid', 'date', 'standby is for today or a coming day');
    end if;
    -- carnetd checked name, email and phone (floor.c) and sealed them (017).
    perform booking_pd_require(p_body, 'name', true);
    perform booking_pd_require(p_body, 'email', false);
    perform booking_pd_require(p_body, 'phone', false);
    if p_body->>'email' is null and p_body->>'phone' is null then
        perform carnet_fail(422, 'invalid', 'email', 'an email or a phone number is required');
    end if;
    if exists (select 1 from booking_slots(st.id, sv.id, d, d, null)) then
        perform carnet_fail(409, 'slots_available', 'date',
                            'there are free slots that day: book one instead');
    end if;
    insert into standby (store_id, service_id, day, name, initial, email, phone, email_bi,
                         phone_bi, token_hash)
    values (st.id, sv.id, d, p_body->>'name', p_body->>'initial', p_body->>'email',
            p_body->>'phone', p_body->>'email_bi', p_body->>'phone_bi', p_token_hash)
    returning * into s;
    return floor_standby_json(s);
end $$;

create or replace function floor_standby_by_token(p_token_hash text) returns standby
language plpgsql stable as $$
declare
    s standby;
begin
    -- The link given when joining, or the one the offer message carried (010).
    select * into s from standby where token_hash = p_token_hash or offer_token_hash = p_token_hash;
    if not found or s.day < floor_today(s.store_id) - 1 then
        perform carnet_fail(404, 'not_found', 'token', 'this standby link is unknown or expired');
    end if;
    return s;
end $$;

create or replace function floor_standby_status(p_token_hash text) returns json
language sql stable as $$
    select floor_standby_json(floor_standby_by_token(p_token_hash))
$$;

-- Takes the offered slot: the placeholder appointment becomes the customer's booking, with a
-- manage link (p_manage_hash; p_manage_token for the confirmation message) like any other, and
-- the same confirmation and reminders. Only a live offer whose appointment is still the held
-- one can be claimed; any refusal raises, so nothing is written and no message is queued.
create or replace function floor_standby_claim(p_token_hash text, p_manage_hash text,
                                    p_manage_token text default null) returns json
language plpgsql as $$
declare
    s standby := floor_standby_by_token(p_token_hash);
    a appointments;
begin
    select * into s from standby where id = s.id for update;
    -- An offer made before the store closed is not a booking yet: it cannot become one.
    perform store_refuse_closed(s.store_id);
    if s.status = 'waiting' then
        perform carnet_fail(409, 'no_offer', 'status', 'no slot has been offered to you yet');
    elsif s.status <> 'offered' then
        perform carnet_fail(409, 'not_offered', 'status',
                            'there is no offer to claim (' || s.status || ')');
    elsif s.offer_expires_at <= now() then
        perform carnet_fail(409, 'offer_expired', 'status', 'the offer has expired');
    end if;
    select * into a from appointments where id = s.offered_appointment_id for update;
    if not floor_standby_held(s, a) then
        perform carnet_fail(409, 'offer_gone', 'offer',
                            'the store has given this time away: it is no longer held for you');
    end if;
    update standby set status = 'booked', offer_expires_at = null where id = s.id
    returning * into s;
    insert into appointment_tokens (token_hash, appointment_id, purpose, expires_at)
    values (p_manage_hash, a.id, 'manage', a.ends_at + make_interval(days => booking_link_days()));
    perform booking_notify('booking_confirmed', a,
                           jsonb_build_object('link', booking_manage_link(p_manage_token)));
    perform floor_emit(s.store_id, 'standby_claimed', null::visits,
                       jsonb_build_object('standby_id', s.id, 'appointment_id', a.id));
    return json_build_object('standby', floor_standby_json(s),
                             'appointment', booking_appointment_json(a), 'code', a.code);
end $$;

create or replace function floor_standby_leave(p_token_hash text) returns json
language plpgsql as $$
declare
    s standby := floor_standby_by_token(p_token_hash);
begin
    select * into s from standby where id = s.id for update;
    if s.status not in ('waiting', 'offered') then
        perform carnet_fail(409, 'not_waiting', 'status',
                            'you are no longer on the standby list (' || s.status || ')');
    end if;
    if s.status = 'offered' then
        -- Frees the held slot: the trigger records it for the next customer.
        update appointments set status = 'cancelled', cancelled_at = now(), updated_at = now()
        where id = s.offered_appointment_id and status = 'booked';
    end if;
    update standby set status = 'left', offer_expires_at = null where id = s.id returning * into s;
    return floor_standby_json(s);
end $$;

-- The standby job: lapsed offers expire (their placeholder is cancelled, freeing the slot), then
-- each freed slot is offered to the first customer waiting for that store, service and day,
-- held for p_hold_s seconds. SKIP LOCKED throughout, so several carnetd can run it at once.
create or replace function job_expire_standby_offers(p_hold_s int) returns int
language plpgsql as $$
declare
    s standby;
    slot record;
    a appointments;
    st stores;
    sv services;
    v_staff bigint;
    n int := 0;
    offers jsonb := '[]';
    o jsonb;
    k record;
begin
    for s in select * from standby where status = 'offered' and offer_expires_at <= now()
             order by offer_expires_at limit 200 for update skip locked
    loop
        update standby set status = 'expired', offer_expires_at = null where id = s.id;
        update appointments set status = 'cancelled', cancelled_at = now(), updated_at = now()
        where id = s.offered_appointment_id and status = 'booked';
        n := n + 1;
    end loop;
    for slot in select * from standby_slots
                order by freed_at limit 200 for update skip locked
    loop
        delete from standby_slots where id = slot.id;
        continue when slot.starts_at <= now();
        -- A closed store's freed slots (its bookings cancelled at closing) go to no one.
        continue when exists (select 1 from stores where id = slot.store_id
                                                     and closed_at is not null);
        select * into s from standby
        where store_id = slot.store_id and service_id = slot.service_id and status = 'waiting'
          and day = (slot.starts_at at time zone (select timezone from stores
                                                  where id = slot.store_id))::date
        order by created_at, id limit 1 for update skip locked;
        continue when not found;
        -- The freed slot is booked as any booking is (booking_claim): someone still on shift
        -- there, enabled, with the skill, holding their booking lock, so a shift removal
        -- (booking_lock_staff) cannot commit beside the offer, and a slot freed before its
        -- shift was removed is not offered on the shift that is gone. Not necessarily the
        -- person whose booking freed it. Any refusal (the slot taken or gone from the hours)
        -- means nothing to offer.
        select * into st from stores where id = slot.store_id;
        select * into sv from services where id = slot.service_id;
        begin
            v_staff := booking_claim(st, sv, slot.starts_at, null, 'starts_at');
            insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,
                                      blocked_until, code, customer_name, customer_email,
                                      customer_phone, customer_email_bi, customer_phone_bi,
                                      customer_initial)
            values (slot.store_id, slot.service_id, v_staff, slot.starts_at,
                    slot.starts_at + make_interval(mins => sv.duration_min),
                    slot.starts_at + make_interval(mins => sv.duration_min + sv.buffer_min),
                    booking_new_code(), s.name, s.email, s.phone,
                    s.email_bi, s.phone_bi, s.initial)
            returning * into a;
        exception when exclusion_violation or unique_violation
                    or sqlstate 'CA409' or sqlstate 'CA422' then
            -- Booked by someone else meanwhile, nobody on shift for it any more (or, rarely,
            -- a code clash): nothing to offer.
            continue;
        end;
        -- The link the customer got when joining is stored only as its hash, so the message
        -- carries a new link to the same standby place, taken from carnetd's stock like every
        -- link the database puts in a message (link_stock_take), opened through offer_token_hash.
        k := link_stock_take();
        update standby set status = 'offered', offered_appointment_id = a.id,
                           offered_at = now(), offered_starts_at = a.starts_at,
                           offer_expires_at = now() + make_interval(secs => p_hold_s),
                           offer_token_hash = k.token_hash
        where id = s.id;
        perform outbox_enqueue('standby_offer', case when s.email is not null then 'email'
                                                     else 'sms' end,
                               coalesce(s.email, s.phone), 'en',
                               jsonb_build_object('name', s.name, 'starts_at', a.starts_at,
                                                  'link', '{{public_url}}/standby/#' || k.sealed),
                               slot.store_id, 'standby', s.id);
        offers := offers || jsonb_build_object('store_id', slot.store_id, 'standby_id', s.id,
                                               'appointment_id', a.id, 'starts_at', a.starts_at);
        n := n + 1;
    end loop;
    -- Events last, once every row lock is held (see floor_emit).
    for o in select * from jsonb_array_elements(offers) loop
        perform floor_emit((o->>'store_id')::bigint, 'standby_offered', null::visits,
                           o - 'store_id');
    end loop;
    return n;
end $$;

create or replace function floor_settings_get(p_store bigint) returns json
language sql stable as $$
    select (to_jsonb(floor_cfg(p_store)))::json
$$;

-- Changes some of a store's floor rules (a manager's call); members not given keep their value.
create or replace function floor_settings_put(p_actor bigint, p_store bigint, p_body jsonb, p_req text)
returns json language plpgsql as $$
declare
    k text;
    lim record;
    cur floor_settings := floor_cfg(p_store);
    s floor_settings;
begin
    for k in select jsonb_object_keys(p_body) loop
        select * into lim from (values ('checkin_early_min', 0, 240), ('checkin_late_min', 0, 240),
                                       ('default_service_s', 60, 14400), ('service_sample', 1, 500),
                                       ('line_max', 1, 2000), ('max_skips', 1, 20)) x(name, lo, hi)
        where x.name = k;
        if not found then
            perform carnet_fail(422, 'unknown_field', k, 'no such floor setting');
        end if;
        if jsonb_typeof(p_body->k) <> 'number' or (p_body->>k) !~ '^[0-9]{1,9}$'
           or (p_body->>k)::int not between lim.lo and lim.hi then
            perform carnet_fail(422, 'invalid', k,
                                format('%s is a whole number from %s to %s', k, lim.lo, lim.hi));
        end if;
    end loop;
    insert into floor_settings as f (store_id, checkin_early_min, checkin_late_min,
                                     default_service_s, service_sample, line_max, max_skips)
    values (p_store,
            coalesce((p_body->>'checkin_early_min')::int, cur.checkin_early_min),
            coalesce((p_body->>'checkin_late_min')::int, cur.checkin_late_min),
            coalesce((p_body->>'default_service_s')::int, cur.default_service_s),
            coalesce((p_body->>'service_sample')::int, cur.service_sample),
            coalesce((p_body->>'line_max')::int, cur.line_max),
            coalesce((p_body->>'max_skips')::int, cur.max_skips))
    on conflict (store_id) do update
        set checkin_early_min = excluded.checkin_early_min,
            checkin_late_min = excluded.checkin_late_min,
            default_service_s = excluded.default_service_s,
            service_sample = excluded.service_sample, line_max = excluded.line_max,
            max_skips = excluded.max_skips
    returning * into s;
    perform carnet_audit(p_actor, 'update', 'floor_settings', p_store::text, p_req);
    return (to_jsonb(s))::json;
end $$;
