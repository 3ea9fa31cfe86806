-- Webhooks: a store's HTTPS endpoints, the events written where their facts happen, and the
-- delivery rows server/webhook.c claims, sends and marks (schema/039_webhooks.sql).
--
-- The events come from triggers on the facts' own tables, so every path that books, cancels,
-- calls, moves or answers (staff, customer link, kiosk, background job) emits without knowing
-- webhooks exist, in the same transaction: a rolled-back booking sends nothing. An event is
-- written only when an active endpoint of the store wants its type, one delivery per endpoint.
-- Payloads carry ids, times, states and the service, never a customer's name or contact, nor
-- a booking's code (it checks a customer in at the kiosk) or a survey's comment.
--
-- The URL's rules (https, a host that is not private) are checked by carnetd, which must
-- resolve the host off the loop anyway; the table's CHECK keeps plain http out whatever the
-- caller. The secret arrives sealed and never leaves in a reply but the one carnetd builds
-- when it is made or rotated.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations.

create or replace function webhook_event_types() returns text[]
language sql immutable as $$
    select array['booking.created', 'booking.cancelled', 'visit.called', 'repair.moved',
                 'survey.answered']
$$;

-- The wait before retry n (1-based) in units of the base (10 s by default): 10 s, 1 min,
-- 5 min, 30 min, 2 h, 6 h; NULL past the last one (the delivery has failed).
create or replace function webhook_backoff_factor(p_retry int) returns int
language sql immutable as $$
    select (array[1, 6, 30, 180, 720, 2160])[p_retry]
$$;

create or replace function webhook_endpoint_json(e webhook_endpoints) returns json
language sql stable as $$
    select json_build_object(
        'id', e.id, 'store_id', e.store_id, 'url', e.url_shown, 'events', to_json(e.events),
        'description', e.description, 'active', e.active, 'created_at', e.created_at,
        'updated_at', e.updated_at, 'secret_rotated_at', e.secret_rotated_at,
        'pending', (select count(*) from webhook_deliveries d
                    where d.endpoint_id = e.id and d.status in ('pending', 'sending')),
        'failed', (select count(*) from webhook_deliveries d
                   where d.endpoint_id = e.id and d.status = 'failed'),
        'last_delivered_at', (select max(d.delivered_at) from webhook_deliveries d
                              where d.endpoint_id = e.id))
$$;

-- The endpoint p_id of store p_store, locked; 404 when it is another store's (or none).
create or replace function webhook_lock(p_actor bigint, p_store bigint, p_id bigint)
returns webhook_endpoints language plpgsql as $$
declare
    e webhook_endpoints%rowtype;
begin
    perform carnet_require(p_actor, p_store, array['manager']);
    select * into e from webhook_endpoints where id = p_id and store_id = p_store for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such webhook in this store');
    end if;
    return e;
end $$;

-- Asked by carnetd before it checks a URL (POST and PATCH): the caller may manage the store's
-- webhooks and, given p_id, that endpoint is the store's; 403/404 otherwise. Whether a host
-- resolves, and to what kind of address, is told only to whoever may save it there.
create or replace function webhook_check_access(p_actor bigint, p_request_id text,
                                                p_store bigint, p_id bigint)
returns json language plpgsql stable as $$
begin
    perform carnet_require(p_actor, p_store, array['manager']);
    if p_id is not null
       and not exists (select 1 from webhook_endpoints where id = p_id and store_id = p_store) then
        perform carnet_fail(404, 'not_found', 'id', 'no such webhook in this store');
    end if;
    return json_build_object('store_id', p_store, 'id', p_id);
end $$;

-- The events member: a non-empty list of known types, each once.
create or replace function webhook_parse_events(p jsonb) returns text[]
language plpgsql immutable as $$
declare
    v text[];
begin
    if jsonb_typeof(p) is distinct from 'array' or jsonb_array_length(p) = 0
       or exists (select 1 from jsonb_array_elements(p) x where jsonb_typeof(x) <> 'string') then
        perform carnet_fail(422, 'invalid', 'events',
            'events is a non-empty list of: ' || array_to_string(webhook_event_types(), ', '));
    end if;
    select array_agg(distinct x order by x) into v from jsonb_array_elements_text(p) x;
    if not v <@ webhook_event_types() then
        perform carnet_fail(422, 'invalid', 'events',
            'events is a non-empty list of: ' || array_to_string(webhook_event_types(), ', '));
    end if;
    return v;
end $$;

create or replace function webhook_parse_description(p jsonb) returns text
language plpgsql immutable as $$
begin
    if p is null or p = 'null'::jsonb then
        return '';
    end if;
    if jsonb_typeof(p) <> 'string' or length(p #>> '{}') > 200 then
        perform carnet_fail(422, 'invalid', 'description', 'a description of at most 200 characters');
    end if;
    return btrim(p #>> '{}');
end $$;

-- What a list shows of a URL, which may carry a secret in its path or query: its scheme and
-- host (with any port), and "/…" for whatever follows (040 wrote the rows before it with the
-- same mask).
create or replace function webhook_url_shown(p_url text) returns text
language sql immutable as $$
    select substring(p_url from '^https://[^/?#]*') ||
           case when substr(p_url, length(substring(p_url from '^https://[^/?#]*')) + 1)
                     in ('', '/') then '/' else '/…' end
$$;

-- The sealed URL carnetd gives beside the body: it must come sealed.
create or replace function webhook_sealed_url(p_url text, p_fn text) returns text
language plpgsql immutable as $$
begin
    if p_url is null or p_url not like '{{pd:%' then
        raise exception '%: the URL must come sealed', p_fn;
    end if;
    return p_url;
end $$;

-- The URL in clear as carnetd checked it (it is stored only sealed): here only what the table
-- held of it must be true.
create or replace function webhook_parse_url(p jsonb) returns text
language plpgsql immutable as $$
begin
    if jsonb_typeof(p) is distinct from 'string' or length(p #>> '{}') > 2000 then
        perform carnet_fail(422, 'invalid', 'url', 'an https:// URL is required');
    end if;
    if (p #>> '{}') !~* '^https://' then
        perform carnet_fail(422, 'not_https', 'url', 'webhooks are delivered over https:// only');
    end if;
    return p #>> '{}';
end $$;

-- POST /api/stores/{store}/webhooks: {url, events, description?}; p_secret is the signing
-- secret and p_url the body's url, both sealed by carnetd, which adds them in clear to this
-- answer, once.
create or replace function webhook_create(p_actor bigint, p_request_id text, p_store bigint,
                                          p jsonb, p_secret text, p_url text)
returns json language plpgsql as $$
declare
    e webhook_endpoints%rowtype;
    v_shown text;
begin
    perform carnet_require(p_actor, p_store, array['manager']);
    if p_secret is null or p_secret not like '{{pd:%' then
        raise exception 'webhook_create: the secret must come sealed';
    end if;
    v_shown := webhook_url_shown(webhook_parse_url(p -> 'url')); -- the caller's error first
    insert into webhook_endpoints (store_id, url, url_shown, events, description, secret,
                                   created_by)
    values (p_store, webhook_sealed_url(p_url, 'webhook_create'), v_shown,
            webhook_parse_events(p -> 'events'),
            webhook_parse_description(p -> 'description'), p_secret, p_actor)
    returning * into e;
    perform carnet_audit(p_actor, 'webhook_create', 'webhook', e.id::text, p_request_id);
    return webhook_endpoint_json(e);
end $$;

-- GET /api/stores/{store}/webhooks
create or replace function webhook_list(p_actor bigint, p_request_id text, p_store bigint)
returns json language plpgsql stable as $$
begin
    perform carnet_require(p_actor, p_store, array['manager']);
    return (select json_build_object(
                'events', to_json(webhook_event_types()),
                'webhooks', coalesce(json_agg(webhook_endpoint_json(e) order by e.id), '[]'))
            from webhook_endpoints e where e.store_id = p_store);
end $$;

-- PATCH /api/stores/{store}/webhooks/{id}: {url?, events?, description?, active?}. Disabling
-- stops deliveries (they wait; enabling sends them again), it does not drop them. p_url: the
-- body's url sealed by carnetd, when it has one.
create or replace function webhook_update(p_actor bigint, p_request_id text, p_store bigint,
                                          p_id bigint, p jsonb, p_url text)
returns json language plpgsql as $$
declare
    e webhook_endpoints%rowtype := webhook_lock(p_actor, p_store, p_id);
    v_shown text;
begin
    if not (p ?| array['url', 'events', 'description', 'active']) then
        perform carnet_fail(422, 'invalid', null,
            'nothing to change: give url, events, description or active');
    end if;
    if p ? 'active' and jsonb_typeof(p -> 'active') is distinct from 'boolean' then
        perform carnet_fail(422, 'invalid', 'active', 'active is true or false');
    end if;
    if p ? 'url' then
        v_shown := webhook_url_shown(webhook_parse_url(p -> 'url')); -- the caller's error first
    end if;
    update webhook_endpoints set
        url_shown = coalesce(v_shown, url_shown),
        url = case when p ? 'url' then webhook_sealed_url(p_url, 'webhook_update') else url end,
        events = case when p ? 'events' then webhook_parse_events(p -> 'events') else events end,
        description = case when p ? 'description'
                           then webhook_parse_description(p -> 'description') else description end,
        active = coalesce((p ->> 'active')::boolean, active),
        updated_at = now()
    where id = e.id returning * into e;
    perform carnet_audit(p_actor, 'webhook_update', 'webhook', e.id::text, p_request_id);
    return webhook_endpoint_json(e);
end $$;

-- DELETE /api/stores/{store}/webhooks/{id}: the endpoint and its log go; a send under way
-- finds its row gone and records nothing.
create or replace function webhook_delete(p_actor bigint, p_request_id text, p_store bigint,
                                          p_id bigint)
returns json language plpgsql as $$
declare
    e webhook_endpoints%rowtype := webhook_lock(p_actor, p_store, p_id);
begin
    delete from webhook_endpoints where id = e.id;
    perform carnet_audit(p_actor, 'webhook_delete', 'webhook', e.id::text, p_request_id);
    return json_build_object('id', e.id, 'deleted', true);
end $$;

-- POST /api/stores/{store}/webhooks/{id}/rotate-secret: the new sealed secret signs every
-- send from now on, retries of older events included.
create or replace function webhook_rotate_secret(p_actor bigint, p_request_id text,
                                                 p_store bigint, p_id bigint, p_secret text)
returns json language plpgsql as $$
declare
    e webhook_endpoints%rowtype := webhook_lock(p_actor, p_store, p_id);
begin
    if p_secret is null or p_secret not like '{{pd:%' then
        raise exception 'webhook_rotate_secret: the secret must come sealed';
    end if;
    update webhook_endpoints set secret = p_secret, secret_rotated_at = now(), updated_at = now()
    where id = e.id returning * into e;
    perform carnet_audit(p_actor, 'webhook_rotate', 'webhook', e.id::text, p_request_id);
    return webhook_endpoint_json(e);
end $$;

-- GET /api/stores/{store}/webhooks/{id}/deliveries: the log, newest first, each delivery with
-- its tries.
create or replace function webhook_delivery_log(p_actor bigint, p_request_id text,
                                                p_store bigint, p_id bigint, p_limit int)
returns json language plpgsql stable as $$
begin
    perform carnet_require(p_actor, p_store, array['manager']);
    if not exists (select 1 from webhook_endpoints where id = p_id and store_id = p_store) then
        perform carnet_fail(404, 'not_found', 'id', 'no such webhook in this store');
    end if;
    return (select json_build_object('webhook_id', p_id,
                                     'deliveries', coalesce(json_agg(s.x order by s.id desc), '[]'))
            from (select d.id, json_build_object(
                      'id', d.id, 'event_id', ev.public_id, 'type', ev.type,
                      'event_created_at', ev.created_at, 'status', d.status,
                      'attempts', d.attempts, 'next_attempt_at',
                      case when d.status in ('pending', 'sending') then d.next_attempt_at end,
                      'last_status_code', d.last_status_code, 'last_error', d.last_error,
                      'delivered_at', d.delivered_at, 'failed_at', d.failed_at,
                      'tries', (select coalesce(json_agg(json_build_object(
                                    'attempt', a.attempt, 'at', a.at,
                                    'status_code', a.status_code, 'error', a.error,
                                    'duration_ms', a.duration_ms) order by a.attempt), '[]')
                                from webhook_attempts a where a.delivery_id = d.id)) as j
                  from webhook_deliveries d join webhook_events ev on ev.id = d.event_id
                  where d.endpoint_id = p_id
                  order by d.id desc limit p_limit) s(id, x));
end $$;

-- ---- events ----

-- Writes one event of p_type for store p_store and a delivery to each active endpoint of the
-- store that wants it; nothing when none does. The payload is what every endpoint receives.
create or replace function webhook_emit(p_store bigint, p_type text, p_data jsonb) returns void
language plpgsql as $$
declare
    v_public uuid := gen_random_uuid();
    ev webhook_events%rowtype;
begin
    if not exists (select 1 from webhook_endpoints
                   where store_id = p_store and active and p_type = any (events)) then
        return;
    end if;
    insert into webhook_events (public_id, store_id, type, payload)
    values (v_public, p_store, p_type, jsonb_build_object(
        'id', v_public, 'type', p_type, 'created_at', now(), 'store_id', p_store, 'data', p_data))
    returning * into ev;
    insert into webhook_deliveries (endpoint_id, event_id)
    select e.id, ev.id from webhook_endpoints e
    where e.store_id = p_store and e.active and p_type = any (e.events)
    order by e.id;
end $$;

create or replace function webhook_appointment_data(a appointments) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'appointment_id', a.id, 'status', a.status, 'starts_at', a.starts_at,
        'ends_at', a.ends_at, 'staff_id', a.staff_id,
        'service', (select jsonb_build_object('id', s.id, 'name', s.name)
                    from services s where s.id = a.service_id),
        'created_at', a.created_at)
$$;

-- A standby offer holds its slot with a 'booked' appointment (job_expire_standby_offers) that is
-- no one's booking until the customer claims it: it may lapse or be left. Receivers hear of it
-- only once claimed (booking.created then), and never of an unclaimed one's cancellation.
create or replace function webhook_standby_placeholder(p_appointment bigint) returns boolean
language sql stable as $$
    select exists (select 1 from standby
                   where offered_appointment_id = p_appointment and status <> 'booked')
$$;

-- booking.created, booking.cancelled
create or replace function webhook_on_appointment() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        perform webhook_emit(new.store_id, 'booking.created', webhook_appointment_data(new));
    elsif new.status = 'cancelled' and old.status <> 'cancelled'
          and not webhook_standby_placeholder(new.id) then
        perform webhook_emit(new.store_id, 'booking.cancelled',
            webhook_appointment_data(new) || jsonb_build_object(
                'cancelled_at', coalesce(new.cancelled_at, now()),
                'cancelled_by', case when new.cancelled_by is null then 'customer' else 'staff' end));
    end if;
    return null;
end $$;

create or replace trigger appointments_webhook after insert or update of status on appointments
    for each row execute function webhook_on_appointment();

-- A standby offer's placeholder and its claim. The standby job inserts the placeholder before it
-- points the standby place at it, so at the insert it looks like any booking: the booking.created
-- that insert wrote is taken back when the place becomes 'offered', in the same transaction
-- (its deliveries are not yet visible to any claim, so nothing was sent). The claim writes it.
create or replace function webhook_on_standby() returns trigger
language plpgsql as $$
declare
    a appointments;
    v_event bigint;
begin
    if new.status = 'offered' and old.status is distinct from 'offered' then
        -- Only when an endpoint may have wanted it; then it is among the newest events.
        if exists (select 1 from webhook_endpoints where store_id = new.store_id
                                                   and 'booking.created' = any (events)) then
            select id into v_event from webhook_events
            where store_id = new.store_id and type = 'booking.created'
              and (payload -> 'data' ->> 'appointment_id')::bigint = new.offered_appointment_id
            order by id desc limit 1;
            delete from webhook_deliveries where event_id = v_event;
            delete from webhook_events where id = v_event;
        end if;
    elsif new.status = 'booked' and old.status is distinct from 'booked' then
        select * into a from appointments where id = new.offered_appointment_id;
        if found then
            perform webhook_emit(a.store_id, 'booking.created', webhook_appointment_data(a));
        end if;
    end if;
    return null;
end $$;

create or replace trigger standby_webhook after update of status on standby
    for each row execute function webhook_on_standby();

-- visit.called: the ticket is called to be served (again after a skip counts as a call too).
create or replace function webhook_on_visit() returns trigger
language plpgsql as $$
begin
    if new.status = 'called' and old.status is distinct from 'called' then
        perform webhook_emit(new.store_id, 'visit.called', jsonb_build_object(
            'visit_id', new.id, 'ticket', new.ticket, 'kind', new.kind, 'day', new.day,
            'appointment_id', new.appointment_id, 'called_at', coalesce(new.called_at, now()),
            'staff_id', new.specialist_id, 'arrived_at', new.arrived_at));
    end if;
    return null;
end $$;

create or replace trigger visits_webhook after update of status on visits
    for each row execute function webhook_on_visit();

-- repair.moved: every move of a repair's state (from null when it is opened).
create or replace function webhook_on_repair_move() returns trigger
language plpgsql as $$
declare
    r repair_orders%rowtype;
begin
    select * into r from repair_orders where id = new.repair_id;
    perform webhook_emit(r.store_id, 'repair.moved', jsonb_build_object(
        'repair_id', r.id, 'number', r.number, 'device_id', r.device_id,
        'from', new.from_state, 'to', new.to_state, 'moved_at', new.at, 'staff_id', new.actor));
    return null;
end $$;

create or replace trigger repair_moves_webhook after insert on repair_moves
    for each row execute function webhook_on_repair_move();

-- survey.answered: the scores, not the comment (the customer's own words).
create or replace function webhook_on_survey() returns trigger
language plpgsql as $$
begin
    if new.answered_at is not null and old.answered_at is null then
        perform webhook_emit(new.store_id, 'survey.answered', jsonb_build_object(
            'survey_id', new.id, 'ref_type', new.ref_type, 'ref_id', new.ref_id,
            'satisfaction', new.satisfaction, 'effort', new.effort,
            'recommendation', new.recommendation, 'answered_at', new.answered_at,
            'has_comment', coalesce(new.comment, '') <> ''));
    end if;
    return null;
end $$;

create or replace trigger surveys_webhook after update of answered_at on surveys
    for each row execute function webhook_on_survey();

-- ---- delivery (server/webhook.c) ----

-- Claims up to p_limit due deliveries under a lease of p_lease_seconds: at most one per
-- endpoint, and not while an older one of that endpoint is being sent or was never tried, so
-- an endpoint receives its events in order unless one of them is waiting for a retry. A
-- disabled endpoint's deliveries wait. Returns {backlog, deliveries: [...]} with each
-- delivery's URL, sealed secret and body.
create or replace function webhook_claim(p_limit int, p_lease_seconds int) returns json
language plpgsql as $$
declare
    res json;
begin
    with c as (
        select d.id from webhook_deliveries d
        where d.id in (
            select distinct on (x.endpoint_id) x.id
            from webhook_deliveries x join webhook_endpoints e on e.id = x.endpoint_id
            where e.active
              and (x.status = 'sending'
                   or (x.status = 'pending' and (x.attempts = 0 or x.next_attempt_at <= now())))
            order by x.endpoint_id, x.id)
          and ((d.status = 'pending' and d.next_attempt_at <= now())
               or (d.status = 'sending' and d.claimed_until < now()))
        order by d.next_attempt_at, d.id
        limit p_limit
        for update skip locked
    ), u as (
        update webhook_deliveries d
        set status = 'sending', attempts = d.attempts + 1, claim = gen_random_uuid(),
            claimed_until = now() + make_interval(secs => p_lease_seconds)
        from c where d.id = c.id
        returning d.*
    )
    select coalesce(json_agg(json_build_object(
               'id', u.id, 'claim', u.claim, 'attempt', u.attempts, 'url', e.url,
               'secret', e.secret, 'event_id', ev.public_id, 'type', ev.type,
               'body', ev.payload::text) order by u.id), '[]'::json)
    into res
    from u join webhook_endpoints e on e.id = u.endpoint_id
    join webhook_events ev on ev.id = u.event_id;
    return json_build_object(
        'backlog', (select count(*) from webhook_deliveries where status in ('pending', 'sending')),
        'deliveries', res);
end $$;

-- Records one try: p_status_code the HTTP status (NULL when none came back), p_error NULL
-- when it was delivered (a 2xx). A failed try waits base x (1, 6, 30, 180, 720, 2160) with
-- up to a fifth of jitter either way, then the delivery has failed. Returns the new status,
-- or NULL when the claim was lost (the lease ran out and another worker took the row, or the
-- endpoint was deleted).
create or replace function webhook_mark(p_id bigint, p_claim uuid, p_status_code int,
                                        p_error text, p_duration_ms int, p_backoff_ms int)
returns text language plpgsql as $$
declare
    d webhook_deliveries%rowtype;
    f int;
begin
    select * into d from webhook_deliveries where id = p_id and claim = p_claim
        and status = 'sending' for update;
    if not found then
        return null;
    end if;
    insert into webhook_attempts (delivery_id, attempt, status_code, error, duration_ms)
    values (d.id, d.attempts, p_status_code, left(p_error, 1000), greatest(p_duration_ms, 0));
    if p_error is null then
        update webhook_deliveries set status = 'delivered', delivered_at = now(), claim = null,
            claimed_until = null, last_status_code = p_status_code, last_error = null
        where id = d.id;
        return 'delivered';
    end if;
    f := webhook_backoff_factor(d.attempts);
    if f is null then
        update webhook_deliveries set status = 'failed', failed_at = now(), claim = null,
            claimed_until = null, last_status_code = p_status_code, last_error = left(p_error, 1000)
        where id = d.id;
        return 'failed';
    end if;
    update webhook_deliveries set status = 'pending', claim = null, claimed_until = null,
        last_status_code = p_status_code, last_error = left(p_error, 1000),
        next_attempt_at = now() + make_interval(secs => p_backoff_ms / 1000.0 * f
                                                        * (0.8 + 0.4 * random()))
    where id = d.id;
    return 'pending';
end $$;
