-- Store: a chain's stores and their services as admins and managers set them up (issue #14):
-- create, edit and close a store, the chain's view of today's load, and services edited in
-- place (price, description, archive). The public reads of stores and services stay in
-- booking.sql; a closed store is refused by the public writes through store_refuse_closed.
--
-- Who may change what is decided here, once: admins any field of any store; a manager of the
-- store its name, address and phone (the code, time zone and currency shape links, slots and
-- prices already given to customers, so they are the chain's to change).
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace); tables change only in numbered migrations.

-- The public writes (booking, walk-in line, standby, kiosk) call this first: a closed store
-- takes no new business, while its history stays readable by its staff. The share lock makes
-- a write that races a closing wait for it and then see it, so no booking slips in after the
-- closing counted (or cancelled) the bookings to come.
create or replace function store_refuse_closed(p_store bigint) returns void
language plpgsql as $$
begin
    perform 1 from stores where id = p_store for share;
    if exists (select 1 from stores where id = p_store and closed_at is not null) then
        perform carnet_fail(409, 'store_closed', 'store', 'this store is closed');
    end if;
end $$;

-- A store as staff see it (the public read is booking_store_detail).
create or replace function store_json(s stores) returns json
language sql stable as $$
    select json_build_object('id', s.id, 'code', s.code, 'name', s.name,
                             'timezone', s.timezone, 'currency', s.currency, 'lang', s.lang,
                             'address', s.address, 'phone', s.phone,
                             'closed', s.closed_at is not null, 'closed_at', s.closed_at)
$$;

-- Only the names PostgreSQL's zone database knows: "now() at time zone" would also take a
-- POSIX offset such as "XYZ+3", which no page could show as a zone.
create or replace function store_timezone_exists(p_tz text) returns boolean
language sql stable as $$
    select exists (select 1 from pg_timezone_names where name = p_tz)
$$;

-- The field checks that store_apply and store_service_apply share: field k of a body, value v.
-- A name: 1 to p_max characters once trimmed.
create or replace function store_field_name(k text, v jsonb, p_max int) returns text
language plpgsql immutable as $$
begin
    if jsonb_typeof(v) is distinct from 'string'
       or length(btrim(v #>> '{}')) not between 1 and p_max then
        perform carnet_fail(422, 'invalid', k,
                            format('a name of 1 to %s characters is required', p_max));
    end if;
    return btrim(v #>> '{}');
end $$;

-- A free text of at most p_max characters (counted before trimming), trimmed.
create or replace function store_field_text(k text, v jsonb, p_max int) returns text
language plpgsql immutable as $$
begin
    if jsonb_typeof(v) is distinct from 'string' then
        perform carnet_fail(422, 'invalid', k, 'a string is required');
    end if;
    if length(v #>> '{}') > p_max then
        perform carnet_fail(422, 'too_long', k, format('at most %s characters', p_max));
    end if;
    return btrim(v #>> '{}');
end $$;

-- A whole number of minutes from p_min to p_max (at most three digits).
create or replace function store_field_minutes(k text, v jsonb, p_min int, p_max int) returns int
language plpgsql immutable as $$
begin
    if jsonb_typeof(v) is distinct from 'number' or v::text !~ '^[0-9]{1,3}$'
       or v::text::int not between p_min and p_max then
        perform carnet_fail(422, 'invalid', k, format('minutes between %s and %s', p_min, p_max));
    end if;
    return v::text::int;
end $$;

-- true or false.
create or replace function store_field_bool(k text, v jsonb) returns boolean
language plpgsql immutable as $$
begin
    if jsonb_typeof(v) is distinct from 'boolean' then
        perform carnet_fail(422, 'invalid', k, format('%s is true or false', k));
    end if;
    return v = 'true';
end $$;

-- Applies the store fields present in p_body onto s, checking each; p_admin false refuses the
-- fields only admins may change. Unknown fields are refused rather than silently dropped.
create or replace function store_apply(s stores, p_body jsonb, p_admin boolean) returns stores
language plpgsql stable as $$
declare
    k text;
    v jsonb;
begin
    for k, v in select * from jsonb_each(p_body) loop
        if k not in ('name', 'code', 'timezone', 'currency', 'lang', 'address', 'phone',
                     'closed', 'hours', 'cancel_bookings') then
            perform carnet_fail(422, 'invalid', k, 'no such store field');
        end if;
        if not p_admin and k not in ('name', 'address', 'phone') then
            perform carnet_fail(403, 'forbidden', k,
                'only an admin may change a store''s code, time zone, currency, language or closing');
        end if;
        if k not in ('closed', 'hours', 'cancel_bookings')
           and jsonb_typeof(v) is distinct from 'string' then
            perform carnet_fail(422, 'invalid', k, 'a string is required');
        end if;
        case k
        when 'name' then
            s.name := store_field_name(k, v, 200);
        when 'code' then
            if (v #>> '{}') !~ '^[a-z0-9-]{2,32}$' then
                perform carnet_fail(422, 'invalid', k,
                    '2 to 32 lower-case letters, digits and dashes, e.g. "lyon-part-dieu"');
            end if;
            s.code := v #>> '{}';
        when 'timezone' then
            if not store_timezone_exists(v #>> '{}') then
                perform carnet_fail(422, 'invalid', k, 'no such time zone, e.g. "Europe/Paris"');
            end if;
            s.timezone := v #>> '{}';
        when 'currency' then
            if (v #>> '{}') !~ '^[A-Z]{3}$' then
                perform carnet_fail(422, 'invalid', k, 'an ISO 4217 code such as "EUR"');
            end if;
            s.currency := v #>> '{}';
        when 'lang' then
            if (v #>> '{}') not in ('en', 'fr') then
                perform carnet_fail(422, 'invalid', k, 'the language is "en" or "fr"');
            end if;
            s.lang := v #>> '{}';
        when 'address' then
            s.address := store_field_text(k, v, 300);
        when 'phone' then
            if (v #>> '{}') !~ '^[0-9+() .-]{0,40}$' then
                perform carnet_fail(422, 'invalid', k,
                    'at most 40 digits, spaces and + ( ) . - characters');
            end if;
            s.phone := btrim(v #>> '{}');
        when 'closed' then
            s.closed_at := case when store_field_bool(k, v) then coalesce(s.closed_at, now()) end;
        when 'cancel_bookings' then
            perform store_field_bool(k, v);
        else
            null; -- hours: set by booking_set_hours, which checks them
        end case;
    end loop;
    return s;
end $$;

-- POST /api/stores (admins): {"name", "code", "timezone", "currency", "lang"?, "address"?,
-- "phone"?, "hours"?}. Hours take the shape of PUT /api/stores/{store}/hours.
create or replace function store_create(p_actor bigint, p_request_id text, p_body jsonb)
returns json
language plpgsql as $$
declare
    s stores;
    k text;
begin
    if not staff_is_admin(p_actor) then
        perform carnet_fail(403, 'forbidden', null, 'only an admin may create a store');
    end if;
    foreach k in array array['name', 'code', 'timezone', 'currency'] loop
        if not p_body ? k then
            perform carnet_fail(422, 'invalid', k, format('%s is required', k));
        end if;
    end loop;
    if p_body ? 'closed' or p_body ? 'cancel_bookings' then
        perform carnet_fail(422, 'invalid', case when p_body ? 'closed' then 'closed'
                                                 else 'cancel_bookings' end,
                            'a new store is open');
    end if;
    s.lang := 'en';
    s.address := '';
    s.phone := '';
    s := store_apply(s, p_body, true);
    if exists (select 1 from stores where code = s.code) then
        perform carnet_fail(409, 'code_taken', 'code', 'another store has this code');
    end if;
    insert into stores (code, name, timezone, currency, lang, address, phone)
    values (s.code, s.name, s.timezone, s.currency, s.lang, s.address, s.phone)
    returning * into s;
    perform carnet_audit(p_actor, 'store.create', 'store', s.id::text, p_request_id);
    if p_body ? 'hours' then
        perform booking_set_hours(p_actor, s.id, jsonb_build_object('hours', p_body -> 'hours'),
                                  p_request_id);
    end if;
    return store_detail(s);
end $$;

-- The staff view of a store with its week.
create or replace function store_detail(s stores) returns json
language sql stable as $$
    select (store_json(s)::jsonb || jsonb_build_object('hours', coalesce((
        select jsonb_agg(jsonb_build_object('weekday', weekday, 'opens', to_char(opens, 'HH24:MI'),
                                            'closes', to_char(closes, 'HH24:MI'))
                         order by weekday, opens)
        from store_hours where store_id = s.id), '[]')))::json
$$;

-- A store's bookings still to come: customers who expect to be served. The placeholder held
-- for a standby offer is not one of them (closing ends the offer: store_close_standby).
create or replace function store_future_bookings(p_store bigint) returns setof appointments
language sql stable as $$
    select a.* from appointments a
    where a.store_id = p_store and a.status = 'booked' and a.starts_at > now()
      and not exists (select 1 from standby s
                      where s.offered_appointment_id = a.id and s.status = 'offered')
$$;

-- Closing a store with bookings still to come: a manager expects neither to strand customers
-- who will come to a closed door nor to have their bookings dropped silently. So closing is
-- refused with their count (409 has_bookings) until the admin says what to do with them:
-- {"closed": true, "cancel_bookings": true} cancels each one as staff would, and each customer
-- gets the usual cancellation message.
create or replace function store_close_bookings(p_actor bigint, p_request_id text, p_store bigint,
                                                p_cancel boolean) returns int
language plpgsql as $$
declare
    a appointments;
    n int := 0;
begin
    if not p_cancel then
        select count(*) into n from store_future_bookings(p_store);
        if n > 0 then
            perform carnet_fail_extra(409, 'has_bookings', 'closed',
                format('this store still has %s booking(s) to come: cancel them (the customers '
                       'are told) with "cancel_bookings": true, or move them first', n),
                jsonb_build_object('bookings', n));
        end if;
        return 0;
    end if;
    -- Each one as staff cancel a booking (booking_staff_cancel: the customer told, audited).
    for a in select * from appointments
             where id in (select id from store_future_bookings(p_store))
             order by starts_at, id for update loop
        perform booking_staff_cancel(p_actor, p_store, a.id, p_request_id);
        n := n + 1;
    end loop;
    return n;
end $$;

-- Closing a store ends its standby list: a customer waiting for a freed slot of a coming day
-- would otherwise wait for a slot that will never come, and be told nothing. Each place still
-- waiting or offered ends as the standby job ends a lapsed offer ('expired'; an offer's
-- placeholder is cancelled, and the job gives a closed store's freed slots to no one), and the
-- customer is told why, in the store's language. Places of days already past are left alone: their
-- day ended them. Returns how many places ended.
create or replace function store_close_standby(p_store bigint) returns int
language plpgsql as $$
declare
    st stores;
    s standby;
    n int := 0;
begin
    select * into st from stores where id = p_store;
    for s in select * from standby
             where store_id = p_store and status in ('waiting', 'offered')
               and day >= (now() at time zone st.timezone)::date
             order by id for update loop
        if s.status = 'offered' then
            update appointments set status = 'cancelled', cancelled_at = now(), updated_at = now()
            where id = s.offered_appointment_id and status = 'booked';
        end if;
        update standby set status = 'expired', offer_expires_at = null where id = s.id;
        -- A place whose contact was purged or erased has no one left to tell.
        if coalesce(s.email, s.phone) is not null then
            perform outbox_enqueue('standby_closed',
                                   case when s.email is not null then 'email' else 'sms' end,
                                   coalesce(s.email, s.phone), st.lang,
                                   jsonb_build_object('name', s.name, 'day', s.day),
                                   p_store, 'standby', s.id, null,
                                   case when s.email is not null then s.email_bi
                                        else s.phone_bi end);
        end if;
        n := n + 1;
    end loop;
    return n;
end $$;

-- PATCH /api/stores/{store}: any field for admins; name, address and phone for a manager of
-- the store (the route lets only managers of the store and admins in). {"closed": true}
-- closes the store (see store_close_bookings for its bookings still to come), false opens it
-- again.
create or replace function store_update(p_actor bigint, p_request_id text, p_store bigint,
                                        p_body jsonb)
returns json
language plpgsql as $$
declare
    old stores;
    s stores;
    n_cancelled int := 0;
begin
    select * into old from stores where id = p_store for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    perform carnet_require(p_actor, p_store, array['manager']);
    if p_body = '{}'::jsonb then
        perform carnet_fail(422, 'invalid', null, 'give at least one field to change');
    end if;
    s := store_apply(old, p_body, staff_is_admin(p_actor));
    if s.code <> old.code and exists (select 1 from stores where code = s.code) then
        perform carnet_fail(409, 'code_taken', 'code', 'another store has this code');
    end if;
    if p_body ? 'cancel_bookings' and not (old.closed_at is null and s.closed_at is not null) then
        perform carnet_fail(422, 'invalid', 'cancel_bookings',
                            'cancel_bookings goes with "closed": true, when closing an open store');
    end if;
    if old.closed_at is null and s.closed_at is not null then
        n_cancelled := store_close_bookings(p_actor, p_request_id, p_store,
                                            coalesce((p_body->>'cancel_bookings')::boolean, false));
    end if;
    update stores set code = s.code, name = s.name, timezone = s.timezone, currency = s.currency,
                      lang = s.lang, address = s.address, phone = s.phone, closed_at = s.closed_at
    where id = p_store
    returning * into s;
    if old.closed_at is null and s.closed_at is not null then
        perform store_close_standby(p_store);
    end if;
    perform carnet_audit(p_actor,
        case when old.closed_at is null and s.closed_at is not null then 'store.close'
             when old.closed_at is not null and s.closed_at is null then 'store.reopen'
             else 'store.update' end,
        'store', s.id::text, p_request_id);
    if p_body ? 'hours' then
        perform booking_set_hours(p_actor, s.id, jsonb_build_object('hours', p_body -> 'hours'),
                                  p_request_id);
    end if;
    if old.closed_at is null and s.closed_at is not null then
        return (store_detail(s)::jsonb
                || jsonb_build_object('cancelled_bookings', n_cancelled))::json;
    end if;
    return store_detail(s);
end $$;

-- GET /api/auth/stores: the stores the caller may work in, closed ones too (flagged), for the
-- staff app's store picker: the public list has open stores only, and a closed store's staff
-- still read its history. An admin may use every store.
create or replace function store_staff_stores(p_actor bigint, p_request_id text) returns json
language sql stable as $$
    select coalesce(json_agg(store_json(s) order by s.closed_at is not null, s.id), '[]')
    from stores s
    where staff_is_admin(p_actor)
       or exists (select 1 from staff_roles r where r.staff_id = p_actor and r.store_id = s.id)
$$;

-- GET /api/chain (admins): every store, closed ones flagged, with today's load in its own time
-- zone. One statement: each count is an aggregate over the store's rows of its local day.
create or replace function store_chain(p_actor bigint, p_request_id text) returns json
language plpgsql stable as $$
begin
    if not staff_is_admin(p_actor) then
        perform carnet_fail(403, 'forbidden', null, 'only an admin sees the whole chain');
    end if;
    return json_build_object('stores', coalesce((
        select json_agg(store_json(s)::jsonb || jsonb_build_object(
                   'today', d.today,
                   'appointments', coalesce(ap.total, 0),
                   'appointments_to_come', coalesce(ap.to_come, 0),
                   'waiting', coalesce(vi.waiting, 0),
                   'served', coalesce(vi.served, 0),
                   'open_repairs', coalesce(ro.open, 0))
               order by s.closed_at is not null, s.name, s.id)
        from stores s
        cross join lateral (select (now() at time zone s.timezone)::date as today) d
        left join lateral (
            select count(*) as total,
                   count(*) filter (where a.status = 'booked' and a.starts_at > now()) as to_come
            from appointments a
            where a.store_id = s.id and a.status <> 'cancelled'
              and a.starts_at >= d.today::timestamp at time zone s.timezone
              and a.starts_at < (d.today + 1)::timestamp at time zone s.timezone) ap on true
        left join lateral (
            select count(*) filter (where v.status = 'waiting') as waiting,
                   count(*) filter (where v.status = 'done') as served
            from visits v where v.store_id = s.id and v.day = d.today) vi on true
        left join lateral (
            select count(*) as open
            from repair_orders r join repair_states rs on rs.state = r.state
            where r.store_id = s.id and not rs.terminal) ro on true), '[]'));
end $$;

-- A service as staff see it, archived ones included.
create or replace function store_service_json(sv services, p_currency text) returns json
language sql stable as $$
    select json_build_object('id', sv.id, 'store_id', sv.store_id, 'name', sv.name,
                             'duration_min', sv.duration_min, 'buffer_min', sv.buffer_min,
                             'skill', sv.skill, 'price_minor', sv.price_minor,
                             'currency', p_currency, 'description', sv.description,
                             'active', sv.active)
$$;

-- Applies the service fields present in p_body onto sv, checking each (adding a service and
-- editing one share these rules).
create or replace function store_service_apply(sv services, p_body jsonb) returns services
language plpgsql stable as $$
declare
    k text;
    v jsonb;
begin
    for k, v in select * from jsonb_each(p_body) loop
        case k
        when 'name' then
            sv.name := store_field_name(k, v, 100);
        when 'duration_min' then
            sv.duration_min := store_field_minutes(k, v, 5, 480);
        when 'buffer_min' then
            sv.buffer_min := store_field_minutes(k, v, 0, 240);
        when 'skill' then
            if jsonb_typeof(v) is distinct from 'string' or (v #>> '{}') !~ '^[a-z][a-z_]{1,31}$' then
                perform carnet_fail(422, 'invalid', k, 'a skill like "repair" is required');
            end if;
            sv.skill := v #>> '{}';
        when 'price_minor' then
            if jsonb_typeof(v) = 'null' then
                sv.price_minor := null;
            elsif jsonb_typeof(v) is distinct from 'number' or v::text !~ '^[0-9]{1,9}$'
                  or v::text::bigint > 100000000 then
                perform carnet_fail(422, 'invalid', k,
                    'a whole number of minor units (cents) from 0 to 100000000, or null for no price');
            else
                sv.price_minor := v::text::bigint;
            end if;
        when 'description' then
            sv.description := store_field_text(k, v, 500);
        when 'active' then
            sv.active := store_field_bool(k, v);
        else
            perform carnet_fail(422, 'invalid', k, 'no such service field');
        end case;
    end loop;
    return sv;
end $$;

-- PATCH /api/stores/{store}/services/{id} (managers of the store): any of name, duration_min,
-- buffer_min, skill, price_minor, description, active. Archiving (active false) only stops new
-- bookings: appointments keep their service.
create or replace function store_service_update(p_actor bigint, p_request_id text, p_store bigint,
                                                p_id bigint, p_body jsonb)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    sv services;
begin
    select * into sv from services where id = p_id and store_id = st.id for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such service in this store');
    end if;
    perform carnet_require(p_actor, st.id, array['manager']);
    if p_body = '{}'::jsonb then
        perform carnet_fail(422, 'invalid', null, 'give at least one field to change');
    end if;
    sv := store_service_apply(sv, p_body);
    if exists (select 1 from services where store_id = st.id and name = sv.name and id <> sv.id) then
        perform carnet_fail(409, 'exists', 'name', 'this store already has a service of that name');
    end if;
    update services set name = sv.name, duration_min = sv.duration_min, buffer_min = sv.buffer_min,
                        skill = sv.skill, price_minor = sv.price_minor,
                        description = sv.description, active = sv.active
    where id = sv.id;
    perform carnet_audit(p_actor, 'service.update', 'service', sv.id::text, p_request_id);
    return store_service_json(sv, st.currency);
end $$;

-- GET /api/stores/{store}/services/all (staff of the store): every service, archived ones
-- too, so that set-up can bring one back.
create or replace function store_services_all(p_actor bigint, p_request_id text, p_store bigint)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
begin
    perform carnet_require(p_actor, st.id, array['specialist', 'technician', 'manager']);
    return json_build_object('store_id', st.id, 'currency', st.currency, 'services', coalesce((
        select json_agg(store_service_json(sv, st.currency) order by sv.active desc, sv.name, sv.id)
        from services sv where sv.store_id = st.id), '[]'));
end $$;
