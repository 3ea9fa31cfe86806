-- Calendar feeds (038): private URLs a calendar client polls, for the store's appointments or
-- one staff member's shifts and appointments, and the calls that make, list and revoke them.
--
-- The feed is built on every fetch, so it follows bookings as they change: SQL gathers what
-- the feed shows (events in the store's local time, the zone's real offsets and transitions
-- from PostgreSQL's tz data) as JSON, and carnetd writes it as RFC 5545 text (escaping and line
-- folding are byte work, done once in server/ics.c). A leaked URL must not hand out customers'
-- contact details: an event names the service and the customer's initial (018's
-- customer_initial, stored beside the sealed name), never a name, email, phone or the
-- customer's words. Nor the booking code: it checks the customer in at the kiosk, and feed
-- URLs end up on third-party calendar services.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers.

-- Days a feed looks back, and how long a cancelled booking stays in it (as CANCELLED, so the
-- clients that hold it update it rather than keep a stale event).
create or replace function ics_past_days() returns int language sql immutable as 'select 30';
create or replace function ics_cancelled_days() returns int language sql immutable as 'select 14';
-- Live feeds of one diary (the store's, or one person's): enough for a phone, a laptop and a
-- shared screen, few enough that forgotten copies do not pile up.
create or replace function ics_feeds_max() returns int language sql immutable as 'select 5';

-- The feed's clock: the local date a feed's range is counted from. One function, so that the
-- DST tests can move it to the days around a change (a booking is only possible a few weeks
-- ahead, so a real one never reaches them).
create or replace function ics_today(p_tz text) returns date
language sql stable as $$
    select (now() at time zone p_tz)::date
$$;

-- An appointment's revision (038) counts the changes a calendar must see: its time, its staff
-- member, its state. It is the event's SEQUENCE.
create or replace function ics_appointment_revision() returns trigger
language plpgsql as $$
begin
    if (new.starts_at, new.ends_at, new.staff_id, new.status)
       is distinct from (old.starts_at, old.ends_at, old.staff_id, old.status) then
        new.revision := old.revision + 1;
    end if;
    return new;
end $$;

create or replace trigger appointments_revision before update on appointments
    for each row execute function ics_appointment_revision();

-- A shift's revision and updated_at (042): a move, a resize or another person, so a calendar
-- replaces the shift it holds (SEQUENCE, DTSTAMP, LAST-MODIFIED).
create or replace function ics_shift_revision() returns trigger
language plpgsql as $$
begin
    if (new.starts_at, new.ends_at, new.staff_id, new.store_id)
       is distinct from (old.starts_at, old.ends_at, old.staff_id, old.store_id) then
        new.revision := old.revision + 1;
        new.updated_at := now();
    end if;
    return new;
end $$;

create or replace trigger shifts_revision before update on shifts
    for each row execute function ics_shift_revision();

-- The UTC offset of zone p_tz at the instant p_at, in seconds.
create or replace function ics_offset(p_tz text, p_at timestamptz) returns int
language sql stable as $$
    select extract(epoch from (p_at at time zone p_tz) - (p_at at time zone 'UTC'))::int
$$;

-- An offset as RFC 5545 writes it: +0100, -0700, +0530 (+HHMMSS when seconds remain).
create or replace function ics_offset_text(p_seconds int) returns text
language sql immutable as $$
    select case when p_seconds < 0 then '-' else '+' end
        || lpad((abs(p_seconds) / 3600)::text, 2, '0')
        || lpad((abs(p_seconds) % 3600 / 60)::text, 2, '0')
        || case when abs(p_seconds) % 60 <> 0 then lpad((abs(p_seconds) % 60)::text, 2, '0')
                else '' end
$$;

-- The instants in [p_from, p_to) where zone p_tz changes its offset, with the offsets either
-- side. PostgreSQL does not list a zone's transitions, so they are found by sampling: a day
-- whose offset differs from the day before holds one, found to the minute (every real
-- transition of the tz data in use since 1970 falls on a whole minute).
create or replace function ics_transitions(p_tz text, p_from timestamptz, p_to timestamptz)
returns table (at timestamptz, offset_from int, offset_to int)
language sql stable as $$
    with days as (
        select d, ics_offset(p_tz, d) as o, lag(ics_offset(p_tz, d)) over (order by d) as prev
        from generate_series(p_from, p_to, interval '1 day') d
    )
    select t.at, ics_offset(p_tz, t.at - interval '1 minute'), ics_offset(p_tz, t.at)
    from days
    cross join lateral (
        select min(m) as at
        from generate_series(days.d - interval '1 day' + interval '1 minute', days.d,
                             interval '1 minute') m
        where ics_offset(p_tz, m) <> days.prev) t
    where days.o <> days.prev and t.at < p_to
    order by t.at
$$;

-- What the VTIMEZONE of zone p_tz must say for events in [p_from, p_to): each observance
-- (STANDARD or DAYLIGHT) with its onset in local time before the change, its offsets and its
-- abbreviation; the change in effect at p_from comes first. A zone without a change in the last
-- year and the range (no DST, as Asia/Tokyo) has one STANDARD observance since 1970. A change
-- to a larger offset is daylight time. Sets TimeZone to p_tz for the transaction (as
-- booking_store does), so that to_char's TZ is the zone's abbreviation.
create or replace function ics_zone_json(p_tz text, p_from timestamptz, p_to timestamptz)
returns json
language plpgsql as $$
declare
    v json;
begin
    perform set_config('TimeZone', p_tz, true);
    with t as (
        select * from ics_transitions(p_tz, p_from - interval '1 year', p_to)
    ), kept as (
        select * from t where t.at >= p_from
        union all
        (select * from t where t.at < p_from order by t.at desc limit 1)
    )
    select json_agg(json_build_object(
               'kind', case when offset_to > offset_from then 'DAYLIGHT' else 'STANDARD' end,
               'start', to_char((at at time zone 'UTC')
                                + make_interval(secs => offset_from), 'YYYYMMDD"T"HH24MISS'),
               'offset_from', ics_offset_text(offset_from),
               'offset_to', ics_offset_text(offset_to),
               'name', to_char(at, 'TZ')) order by at)
    into v from kept;
    if v is null then
        v := json_build_array(json_build_object(
            'kind', 'STANDARD', 'start', '19700101T000000',
            'offset_from', ics_offset_text(ics_offset(p_tz, p_from)),
            'offset_to', ics_offset_text(ics_offset(p_tz, p_from)),
            'name', to_char(p_from, 'TZ')));
    end if;
    return v;
end $$;

-- A UTC instant as RFC 5545 writes it (20270328T010000Z).
create or replace function ics_utc(p_at timestamptz) returns text
language sql stable as $$
    select to_char(p_at at time zone 'UTC', 'YYYYMMDD"T"HH24MISS"Z"')
$$;

-- An event's time: its local time in p_tz (20271031T023000), as events are written with TZID;
-- but the second of a local time that happens twice (the hour the clocks go back) in UTC
-- (20271031T013000Z), since RFC 5545 (3.3.5) reads an ambiguous local time as the first.
create or replace function ics_time(p_at timestamptz, p_tz text) returns text
language sql stable as $$
    select case when exists (
        select 1
        from unnest(array[ics_offset(p_tz, p_at - interval '6 hours'),
                          ics_offset(p_tz, p_at + interval '6 hours')]) o,
             lateral (select ((p_at at time zone p_tz) - make_interval(secs => o))
                             at time zone 'UTC' as c) x
        where x.c < p_at and ics_offset(p_tz, x.c) = o)
        then ics_utc(p_at)
        else to_char(p_at at time zone p_tz, 'YYYYMMDD"T"HH24MISS') end
$$;

-- A feed still works while the person who made it could make it again: not disabled, and a
-- manager of the store (or an admin) for the store's feed, any staff of the store for a staff
-- feed. Taking someone's roles away, or disabling them, stops the feeds they handed out.
create or replace function ics_feed_live(f calendar_feeds) returns boolean
language sql stable as $$
    select f.revoked_at is null
       and carnet_staff_can(f.created_by, f.store_id,
                            case when f.kind = 'store' then array['manager']
                                 else array['specialist', 'technician', 'manager'] end)
$$;

-- A feed as the staff API shows it (never its token: only its hash is kept).
create or replace function ics_feed_json(f calendar_feeds) returns json
language sql stable as $$
    select json_build_object('id', f.id, 'store_id', f.store_id, 'kind', f.kind,
        'staff_id', f.staff_id, 'staff_name', (select name from staff where id = f.staff_id),
        'created_by', f.created_by,
        'created_by_name', (select name from staff where id = f.created_by),
        'created_at', f.created_at, 'revoked_at', f.revoked_at,
        'last_fetched_at', f.last_fetched_at, 'live', ics_feed_live(f))
$$;

-- Makes a feed: {"kind": "store"} (managers and admins), or {"kind": "staff"} for oneself or,
-- by a manager, {"kind": "staff", "staff_id": n} for a staff member of the store. carnetd minted
-- the token and sends only its hash; it adds the URL to the answer, once.
create or replace function ics_feed_create(p_actor bigint, p_request_id text, p_store bigint,
                                           p_body jsonb, p_token_hash text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_kind text;
    v_staff bigint;
    f calendar_feeds%rowtype;
    v_manager boolean := carnet_staff_can(p_actor, p_store, array['manager']);
begin
    if jsonb_typeof(p_body -> 'kind') is distinct from 'string'
       or (p_body ->> 'kind') not in ('store', 'staff') then
        perform carnet_fail(422, 'invalid', 'kind', 'kind is "store" or "staff"');
    end if;
    v_kind := p_body ->> 'kind';
    if v_kind = 'store' then
        if p_body ? 'staff_id' and p_body -> 'staff_id' <> 'null'::jsonb then
            perform carnet_fail(422, 'invalid', 'staff_id', 'the store''s feed names nobody');
        end if;
        if not v_manager then
            perform carnet_fail(403, 'forbidden', 'kind', 'only a manager makes the store''s feed');
        end if;
    else
        v_staff := p_actor;
        if p_body ? 'staff_id' and p_body -> 'staff_id' <> 'null'::jsonb then
            if jsonb_typeof(p_body -> 'staff_id') <> 'number'
               or (p_body ->> 'staff_id') !~ '^[0-9]{1,18}$' then
                perform carnet_fail(422, 'invalid', 'staff_id', 'a staff member of this store is required');
            end if;
            v_staff := (p_body ->> 'staff_id')::bigint;
        end if;
        if v_staff <> p_actor and not v_manager then
            perform carnet_fail(403, 'forbidden', 'staff_id',
                                'only a manager makes a feed for someone else');
        end if;
        -- An admin may take a feed of their own anywhere; anyone else's feed is of a person
        -- with a role here.
        if not exists (select 1 from staff_roles r join staff s on s.id = r.staff_id
                       where r.staff_id = v_staff and r.store_id = st.id and s.disabled_at is null)
           and not (v_staff = p_actor and staff_is_admin(p_actor)) then
            perform carnet_fail(422, 'invalid', 'staff_id', 'a staff member of this store is required');
        end if;
    end if;
    -- One diary's feeds are made one at a time, so the count below holds.
    perform pg_advisory_xact_lock(hashtext('carnet.calendar_feeds'), st.id::int);
    if (select count(*) from calendar_feeds x
        where x.store_id = st.id and x.kind = v_kind and x.staff_id is not distinct from v_staff
          and ics_feed_live(x)) >= ics_feeds_max() then
        perform carnet_fail(409, 'too_many_feeds', 'kind',
            format('this diary has %s working feeds: revoke one first', ics_feeds_max()));
    end if;
    insert into calendar_feeds (store_id, kind, staff_id, created_by, token_hash)
    values (st.id, v_kind, v_staff, p_actor, p_token_hash)
    returning * into f;
    perform carnet_audit(p_actor, 'create_calendar_feed', 'calendar_feed', f.id::text, p_request_id);
    return ics_feed_json(f);
end $$;

-- The caller's feeds of the store (those they made or that show them); a manager's list has
-- every feed of the store, so a leaked one can be found and revoked. can_manage tells the page
-- whether to offer the store's feed.
create or replace function ics_feed_list(p_actor bigint, p_request_id text, p_store bigint)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_manager boolean := carnet_staff_can(p_actor, p_store, array['manager']);
begin
    perform carnet_audit_read(p_actor, 'read', 'calendar_feeds', st.id::text, p_request_id);
    return json_build_object('store_id', st.id, 'can_manage', v_manager,
        'feeds', coalesce((
            select json_agg(ics_feed_json(f) order by f.revoked_at is not null, f.created_at desc,
                                                      f.id desc)
            from calendar_feeds f
            where f.store_id = st.id
              and (v_manager or f.created_by = p_actor or f.staff_id = p_actor)), '[]'));
end $$;

-- Revokes a feed the caller may see (ics_feed_list); the URL answers 404 from now on. Revoking
-- twice keeps the first time. Someone else's feed answers as an unknown one.
create or replace function ics_feed_revoke(p_actor bigint, p_request_id text, p_store bigint,
                                           p_id bigint)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    f calendar_feeds%rowtype;
begin
    select * into f from calendar_feeds where id = p_id and store_id = st.id for update;
    if not found or not (f.created_by = p_actor or f.staff_id is not distinct from p_actor
                         or carnet_staff_can(p_actor, p_store, array['manager'])) then
        perform carnet_fail(404, 'not_found', 'id', 'no such calendar feed in this store');
    end if;
    if f.revoked_at is null then
        update calendar_feeds set revoked_at = now(), revoked_by = p_actor where id = f.id
        returning * into f;
        perform carnet_audit(p_actor, 'revoke_calendar_feed', 'calendar_feed', f.id::text,
                             p_request_id);
    end if;
    return ics_feed_json(f);
end $$;

-- What the feed behind a token shows (public: the token is the secret). An unknown token, one
-- of another store, a revoked one or one whose maker lost the right answer the same 404.
-- Events start from ics_past_days() ago to the end of the bookable horizon (booking_max_days),
-- in local days of the store.
create or replace function ics_feed_read(p_store bigint, p_token_hash text) returns json
language plpgsql as $$
declare
    f calendar_feeds%rowtype;
    st stores%rowtype;
    v_today date;
    v_from timestamptz;
    v_to timestamptz;
begin
    select * into f from calendar_feeds where token_hash = p_token_hash and store_id = p_store;
    if not found or not ics_feed_live(f) then
        perform carnet_fail(404, 'not_found', 'token', 'this calendar link is unknown or was revoked');
    end if;
    st := booking_store(p_store);
    v_today := ics_today(st.timezone);
    v_from := (v_today - ics_past_days())::timestamp at time zone st.timezone;
    v_to := (v_today + booking_max_days() + 1)::timestamp at time zone st.timezone;
    -- Enough to show the list when a feed is read, without a write on every poll.
    update calendar_feeds set last_fetched_at = now()
    where id = f.id and (last_fetched_at is null or last_fetched_at < now() - interval '5 minutes');
    return json_build_object(
        'name', case when f.kind = 'store' then st.name
                     else (select name from staff where id = f.staff_id) || ' · ' || st.name end,
        'timezone', st.timezone,
        'zones', ics_zone_json(st.timezone, v_from, v_to),
        'events', coalesce((select json_agg(e order by e ->> 'sort', e ->> 'uid') from (
            select json_build_object(
                'uid', 'appointment-' || a.id,
                'sort', ics_utc(a.starts_at),
                'start', ics_time(a.starts_at, st.timezone), 'end', ics_time(a.ends_at, st.timezone),
                'stamp', ics_utc(greatest(a.created_at, a.updated_at, a.cancelled_at,
                                          a.checked_in_at, a.service_started_at, a.done_at,
                                          a.no_show_at)),
                'created', ics_utc(a.created_at),
                'sequence', a.revision,
                'summary', sv.name || coalesce(' · ' || nullif(a.customer_initial, ''), ''),
                'description', 'Booking (' || replace(a.status, '_', ' ') || ')'
                               || case when f.kind = 'store' then E'\nWith ' || s.name else '' end,
                'cancelled', a.status = 'cancelled',
                'transparent', false) as e
            from appointments a
            join services sv on sv.id = a.service_id
            join staff s on s.id = a.staff_id
            where a.store_id = st.id
              and a.starts_at >= v_from and a.starts_at < v_to
              and (f.kind = 'store' or a.staff_id = f.staff_id)
              and (a.status <> 'cancelled'
                   or a.cancelled_at >= now() - make_interval(days => ics_cancelled_days()))
            union all
            select json_build_object(
                'uid', 'shift-' || sh.id,
                'sort', ics_utc(sh.starts_at),
                'start', ics_time(sh.starts_at, st.timezone), 'end', ics_time(sh.ends_at, st.timezone),
                'stamp', ics_utc(sh.updated_at), 'created', null, 'sequence', sh.revision,
                'summary', 'Shift · ' || st.name, 'description', null,
                'cancelled', false, 'transparent', true)
            from shifts sh
            where f.kind = 'staff' and sh.staff_id = f.staff_id and sh.store_id = st.id
              and sh.ends_at > v_from and sh.starts_at < v_to) x), '[]'));
end $$;
