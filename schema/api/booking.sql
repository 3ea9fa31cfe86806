-- Booking: stores, services and free slots, booking with idempotency, the customer's manage
-- link, and the staff calls on a store's appointments and set-up (hours, closures, skills, shifts).
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations. A changed argument list needs a migration that drops
-- the old signature first (see 008_api_functions.sql).

-- The statuses that hold a staff member's time (see appointments in 002_booking.sql).
create or replace function booking_is_active(p_status text) returns boolean
language sql immutable as $$
    select p_status in ('booked', 'checked_in', 'in_service')
$$;

create or replace function booking_grid_minutes() returns int language sql immutable as 'select 15';

create or replace function booking_max_days() returns int language sql immutable as 'select 42';

-- How long a manage link stays valid after the appointment ends.
create or replace function booking_link_days() returns int language sql immutable as 'select 30';

create or replace function booking_nearest_count() returns int language sql immutable as 'select 5';

create or replace function booking_store(p_store bigint) returns stores
language plpgsql as $$
declare
    s stores%rowtype;
begin
    select * into s from stores where id = p_store;
    if not found then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    -- Every time in the reply is rendered in the store's time zone.
    perform set_config('TimeZone', s.timezone, true);
    return s;
end $$;

create or replace function booking_service(p_store bigint, p_service jsonb, p_field text) returns services
language plpgsql as $$
declare
    sv services%rowtype;
begin
    if p_service is null or jsonb_typeof(p_service) <> 'number'
       or p_service::text !~ '^[0-9]{1,18}$' then
        perform carnet_fail(422, 'invalid', p_field, 'a service id is required');
    end if;
    select * into sv from services
    where id = p_service::text::bigint and store_id = p_store and active;
    if not found then
        perform carnet_fail(404, 'not_found', p_field, 'no such service in this store');
    end if;
    return sv;
end $$;

-- A time with an explicit offset (or Z), as customers' clients must send: the one parser of
-- times in request bodies (device_parse_time hands its values here). The offset is checked
-- against the real ones (-12:00 to +14:00) before PostgreSQL reads it: PostgreSQL takes up to
-- +-15:59 and answers a junk one (+99:00) in its own words, which are not ours to send.
create or replace function booking_parse_time(p_value jsonb, p_field text) returns timestamptz
language plpgsql stable as $$
declare
    v text := p_value #>> '{}';
    off text[];
begin
    if p_value is null or jsonb_typeof(p_value) <> 'string'
       or v !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)$' then
        perform carnet_fail(422, 'invalid', p_field,
            'a time in ISO 8601 with an offset is required, e.g. 2027-03-29T10:00:00+02:00');
    end if;
    off := regexp_match(v, '([+-])(\d{2}):?(\d{2})?$');
    if off is not null
       and (coalesce(off[3], '0')::int >= 60
            or off[2]::int * 60 + coalesce(off[3], '0')::int
               > case off[1] when '+' then 14 * 60 else 12 * 60 end) then
        perform carnet_fail(422, 'invalid', p_field,
            'that time zone offset does not exist: offsets run from -12:00 to +14:00');
    end if;
    return v::timestamptz;
exception when datetime_field_overflow or invalid_datetime_format
               or invalid_time_zone_displacement_value then
    perform carnet_fail(422, 'invalid', p_field, 'that time does not exist');
    return null;
end $$;

create or replace function booking_parse_date(p_value text, p_field text) returns date
language plpgsql immutable as $$
begin
    if p_value is null or p_value !~ '^\d{4}-\d{2}-\d{2}$' then
        perform carnet_fail(422, 'invalid', p_field, 'a date YYYY-MM-DD is required');
    end if;
    return p_value::date;
exception when datetime_field_overflow or invalid_datetime_format then
    perform carnet_fail(422, 'invalid', p_field, 'that date does not exist');
    return null;
end $$;

-- The slot grid of a service in a store between two local dates (inclusive): every
-- booking_grid_minutes() from each opening instant while the service ends by closing time,
-- skipping closures. Past slots included; callers filter.
create or replace function booking_grid(p_store bigint, p_service bigint, p_from date, p_to date)
returns table (local_day date, starts_at timestamptz, ends_at timestamptz, blocked_until timestamptz)
language sql stable as $$
    select d.day, g, g + make_interval(mins => sv.duration_min),
           g + make_interval(mins => sv.duration_min + sv.buffer_min)
    from stores st
    join services sv on sv.store_id = st.id and sv.id = p_service
    cross join lateral (select x::date as day
                        from generate_series(p_from::timestamp, p_to::timestamp,
                                             interval '1 day') x) d
    join store_hours h on h.store_id = st.id and h.weekday = extract(isodow from d.day)
    cross join lateral generate_series(
        (d.day + h.opens) at time zone st.timezone,
        (d.day + h.closes) at time zone st.timezone - make_interval(mins => sv.duration_min),
        make_interval(mins => booking_grid_minutes())) g
    where st.id = p_store
      and not exists (select 1 from store_closures c where c.store_id = st.id and c.day = d.day)
$$;

-- Staff members who could take [p_start, p_end) holding them until p_block: the skill in this
-- store, on shift for the whole service, no active appointment overlapping (p_exclude: an
-- appointment being moved, whose current time does not count). booking_slots is the same rule
-- over a range of slots at once: change both together.
-- Shifts last at most 24 hours (002), so only one starting in the day before p_end can hold the
-- slot: that bound lets shifts_store_idx read this store's shifts of that day, not the person's
-- whole rota through the exclusion index (issue #16: cost follows the store, not the chain).
create or replace function booking_free_staff(p_store bigint, p_skill text, p_start timestamptz,
                                   p_end timestamptz, p_block timestamptz, p_exclude bigint)
returns setof bigint
language sql stable as $$
    select k.staff_id
    from staff_skills k
    join staff s on s.id = k.staff_id and s.disabled_at is null
    where k.store_id = p_store and k.skill = p_skill
      and exists (select 1 from shifts sh
                  where sh.store_id = p_store and sh.staff_id = k.staff_id
                    and sh.starts_at >= p_end - interval '24 hours'
                    and sh.starts_at <= p_start and sh.ends_at >= p_end)
      and not exists (select 1 from appointments a
                      where a.staff_id = k.staff_id
                        and a.status in ('booked', 'checked_in', 'in_service')
                        and tstzrange(a.starts_at, a.blocked_until) && tstzrange(p_start, p_block)
                        and a.id is distinct from p_exclude)
    order by k.staff_id
$$;

-- Free future slots with how many places each has: booking_free_staff's rule for every slot of
-- the range at once (issue #16: run per slot, a month of a store open around the clock cost
-- 18 s in a 200-store chain). The store's candidates, their shifts in this store and their
-- active appointments over the range are each read once, through indexes that start from the
-- store or the person, then matched to the slots in memory. A person's shifts never overlap
-- (shifts_no_overlap), so each (slot, shift) pair that holds the slot is one person.
create or replace function booking_slots(p_store bigint, p_service bigint, p_from date, p_to date,
                              p_exclude bigint)
returns table (local_day date, starts_at timestamptz, ends_at timestamptz, free int)
language sql stable
-- The planner's guesses for the nested set-returning functions are huge, which would start JIT
-- compilation (~150 ms) for a query that runs in a few milliseconds.
set jit = off
as $$
    with g as materialized (
        select g.local_day, g.starts_at, g.ends_at, g.blocked_until
        from booking_grid(p_store, p_service, p_from, p_to) g
        where g.starts_at > now()
    ), r as materialized (
        select min(g.starts_at) as lo, max(g.ends_at) as hi_end,
               max(g.blocked_until) as hi_block
        from g
    ), k as materialized (
        select k.staff_id
        from services sv
        join staff_skills k on k.store_id = p_store and k.skill = sv.skill
        join staff s on s.id = k.staff_id and s.disabled_at is null
        where sv.id = p_service
    ), sh as materialized (
        -- Shifts last at most 24 hours (002): those holding a slot of the range start at most a
        -- day before it. Each is listed under the UTC days it touches (one or two), which the
        -- slots are matched on, so a slot meets only the shifts of its own day or the day before.
        select sh.staff_id, sh.starts_at, sh.ends_at, b.bucket
        from r join shifts sh on sh.store_id = p_store
                             and sh.starts_at >= r.lo - interval '24 hours'
                             and sh.starts_at < r.hi_end
        cross join lateral generate_series((sh.starts_at at time zone 'UTC')::date::timestamp,
                                           (sh.ends_at at time zone 'UTC')::date::timestamp,
                                           interval '1 day') d(day),
        lateral (select d.day::date as bucket) b
        where sh.staff_id in (select k.staff_id from k)
    ), ap as materialized (
        -- each candidate's own appointments (the index on staff and time), not the chain's
        select a.staff_id, a.starts_at, a.blocked_until
        from r cross join k
        cross join lateral (select a.staff_id, a.starts_at, a.blocked_until
                            from appointments a
                            where a.staff_id = k.staff_id
                              and a.status in ('booked', 'checked_in', 'in_service')
                              and tstzrange(a.starts_at, a.blocked_until)
                                  && tstzrange(r.lo, r.hi_block)
                              and a.id is distinct from p_exclude
                            offset 0) a
    )
    select g.local_day, g.starts_at, g.ends_at, count(*)::int
    from g
    join sh on sh.bucket = (g.starts_at at time zone 'UTC')::date
           and sh.starts_at <= g.starts_at and sh.ends_at >= g.ends_at
    where not exists (select 1 from ap
                      where ap.staff_id = sh.staff_id and ap.starts_at < g.blocked_until
                        and ap.blocked_until > g.starts_at)
    group by g.local_day, g.starts_at, g.ends_at
$$;

-- Up to booking_nearest_count() free slots closest to p_around on its local day, for a 409
-- reply. A loser of a race must hear at once (issue #16): the day's grid is ordered by distance
-- first and staff are counted slot by slot only until enough are found, so a day with room costs
-- a handful of slot checks, and a full day at most its own grid (never other days: the page
-- asks for those, GET .../availability).
create or replace function booking_nearest(p_store stores, p_service bigint, p_around timestamptz,
                                p_exclude bigint)
returns jsonb
-- PL/pgSQL for its cached plan: planning this query anew at every 409 cost more than running it.
language plpgsql stable set jit = off as $$
declare
    v_day date := (p_around at time zone p_store.timezone)::date;
    v_skill text := (select skill from services where id = p_service);
begin
    return (
        select coalesce(jsonb_agg(jsonb_build_object('starts_at', n.starts_at,
                                                     'ends_at', n.ends_at, 'free', n.free)
                                  order by n.starts_at), '[]')
        from (select g.starts_at, g.ends_at, f.n as free
              from (select * from booking_grid(p_store.id, p_service, v_day, v_day) g
                    where g.starts_at > now()
                    order by abs(extract(epoch from g.starts_at - p_around)), g.starts_at
                    offset 0) g
              cross join lateral (select count(*)::int as n
                                  from booking_free_staff(p_store.id, v_skill, g.starts_at,
                                                          g.ends_at, g.blocked_until,
                                                          p_exclude)) f
              where f.n > 0
              limit booking_nearest_count()) n);
end $$;

-- The booking lock, per staff member and half hour (issue #16: not per store, so bookings of
-- different people, or of one person at other times, never wait on each other). A booking
-- holding [p_start, p_block) of p_staff takes every 30-minute cell of absolute time that range
-- touches: two bookings whose ranges overlap share a cell, whatever the store, its time zone or
-- its grid, so they pick staff one after the other instead of colliding in the exclusion
-- constraint (colliding inserts wait on each other and can deadlock). Half hours rather than
-- the grid's quarters: the longest service and buffer (12 hours) then take 25 locks per person
-- tried, not 49, from PostgreSQL's shared lock table. Cells in ascending order, and candidates
-- in ascending staff order (booking_claim), so two bookings never wait on each other in a
-- cycle. The person's own key is taken shared: a change to their shifts takes it exclusively
-- (booking_lock_staff) and so waits for bookings in flight.
create or replace function booking_lock_time(p_staff bigint, p_start timestamptz,
                                             p_block timestamptz)
returns void language plpgsql as $$
declare
    c bigint;
begin
    perform pg_advisory_xact_lock_shared(hashtextextended('carnet.booking.staff:' || p_staff, 0));
    for c in select generate_series(floor(extract(epoch from p_start) / 1800)::bigint,
                                    ceil(extract(epoch from p_block) / 1800)::bigint - 1) loop
        perform pg_advisory_xact_lock(
            hashtextextended('carnet.booking.cell:' || p_staff || ':' || c, 0));
    end loop;
end $$;

-- The whole of a staff member's booking lock, for a change that removes or moves their shift
-- time: it waits for their bookings in flight and holds off new ones until it commits, so a
-- booking never rests on a shift removed beside it.
create or replace function booking_lock_staff(p_staff bigint) returns void
language sql as $$
    select pg_advisory_xact_lock(hashtextextended('carnet.booking.staff:' || p_staff, 0))
$$;

-- Checks that p_start is a bookable slot start of service sv in store st (future, on the grid,
-- open), then returns a free staff member holding their booking lock for the slot
-- (booking_lock_time), or fails with 409 and the nearest free slots.
create or replace function booking_claim(st stores, sv services, p_start timestamptz, p_exclude bigint,
                              p_field text)
returns bigint
language plpgsql set jit = off as $$
declare
    v_day date := (p_start at time zone st.timezone)::date;
    v_end timestamptz := p_start + make_interval(mins => sv.duration_min);
    v_block timestamptz := p_start + make_interval(mins => sv.duration_min + sv.buffer_min);
    v_cand bigint;
begin
    if p_start <= now() then
        perform carnet_fail(422, 'in_past', p_field, 'that time has passed');
    end if;
    if exists (select 1 from store_closures where store_id = st.id and day = v_day) then
        perform carnet_fail(422, 'closed', p_field, 'the store is closed that day');
    end if;
    if not exists (select 1 from booking_grid(st.id, sv.id, v_day, v_day) g
                   where g.starts_at = p_start) then
        perform carnet_fail(422, 'outside_hours', p_field,
            'that is not a slot of this service within the opening hours');
    end if;
    -- The candidates as this statement sees them (none: the slot is visibly full, refused
    -- without any lock, as most losers of a race are). Each is locked, then checked again by a
    -- new statement, which sees what the booking we may have waited for committed.
    for v_cand in select f from booking_free_staff(st.id, sv.skill, p_start, v_end, v_block,
                                                    p_exclude) f loop
        perform booking_lock_time(v_cand, p_start, v_block);
        if exists (select 1 from booking_free_staff(st.id, sv.skill, p_start, v_end, v_block,
                                                    p_exclude) f
                   where f = v_cand) then
            return v_cand;
        end if;
    end loop;
    perform booking_slot_taken(st, sv.id, p_start, p_exclude, p_field);
    return null;
end $$;

-- A lost race, however it was lost: 409 slot_taken with the nearest free slots of that day.
create or replace function booking_slot_taken(st stores, p_service bigint, p_start timestamptz,
                                              p_exclude bigint, p_field text)
returns void language plpgsql as $$
begin
    perform carnet_fail_extra(409, 'slot_taken', p_field, 'that slot is no longer free',
        jsonb_build_object('nearest', booking_nearest(st, p_service, p_start, p_exclude)));
end $$;

-- A confirmation code: 6 characters from an alphabet without look-alikes (no 0/O, 1/I/L),
-- drawn from gen_random_uuid()'s random bytes.
create or replace function booking_new_code() returns text
language plpgsql volatile as $$
declare
    alphabet constant text := '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
    b bytea := uuid_send(gen_random_uuid());
    s text := '';
begin
    -- Bytes 0..5 of a v4 UUID are fully random.
    for i in 0..5 loop
        s := s || substr(alphabet, 1 + get_byte(b, i) % length(alphabet), 1);
    end loop;
    return s;
end $$;

-- A member of a body carnetd sealed (017): a personal-data marker, and for an email or a phone
-- its blind index beside it (<field>_bi, 64 hex digits). carnetd checked the clear value; a clear
-- value here is a caller that skipped it, refused rather than stored in clear.
create or replace function booking_pd_require(p_body jsonb, p_field text, p_required boolean)
returns void language plpgsql immutable as $$
begin
    if p_body -> p_field is null or p_body -> p_field = 'null'::jsonb then
        if p_required then
            perform carnet_fail(422, 'invalid', p_field, p_field || ' is required');
        end if;
        return;
    end if;
    if jsonb_typeof(p_body -> p_field) <> 'string' or p_body ->> p_field not like '{{pd:%}}' then
        perform carnet_fail(422, 'not_sealed', p_field, p_field || ' must be sealed by carnetd');
    end if;
    if p_field in ('email', 'phone', 'contact')
       and coalesce(p_body ->> (p_field || '_bi'), '') !~ '^[0-9a-f]{64}$' then
        perform carnet_fail(422, 'not_sealed', p_field || '_bi',
                            p_field || ' comes with its blind index');
    end if;
end $$;

create or replace function booking_appointment_json(a appointments) returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', a.id, 'store_id', a.store_id, 'status', a.status, 'code', a.code,
        'service', jsonb_build_object('id', sv.id, 'name', sv.name,
                                      'duration_min', sv.duration_min),
        'staff_id', a.staff_id,
        'starts_at', a.starts_at, 'ends_at', a.ends_at,
        'customer', jsonb_build_object('name', a.customer_name, 'email', a.customer_email,
                                       'phone', a.customer_phone),
        'device_serial', a.device_serial, 'problem', a.problem,
        'created_at', a.created_at, 'cancelled_at', a.cancelled_at,
        'checked_in_at', a.checked_in_at)
    from services sv where sv.id = a.service_id
$$;

-- How we reach the customer of a booking: by email when they gave one, else by SMS.
create or replace function booking_contact(a appointments, out channel text, out recipient text)
language sql immutable as $$
    select case when a.customer_email is not null then 'email' else 'sms' end,
           coalesce(a.customer_email, a.customer_phone)
$$;

-- The manage link as the outbox stores it: carnetd's delivery worker fills {{public_url}}.
create or replace function booking_manage_link(p_token text) returns text
language sql immutable as $$
    select '{{public_url}}/manage/#' || p_token
$$;

-- Tells the customer about a booking event (outbox_booking_event of 006, in this transaction:
-- a booking that fails sends nothing). Name, code and link given at booking carry over.
create or replace function booking_notify(p_kind text, a appointments, p_data jsonb default '{}')
returns void language plpgsql as $$
declare
    c record := booking_contact(a);
begin
    perform outbox_booking_event(p_kind, a.id, a.store_id, a.starts_at, c.channel, c.recipient,
                                 'en', jsonb_build_object('name', a.customer_name, 'code', a.code)
                                       || jsonb_strip_nulls(p_data));
end $$;

-- Appends one step of a booking to its device's health record (record_append of 003) when the
-- customer gave a serial. The content stays free of personal data: the chain is forever.
create or replace function booking_record(a appointments, p_event text, p_actor bigint,
                               p_extra jsonb default '{}') returns void
language plpgsql as $$
begin
    if a.device_serial is null then
        return;
    end if;
    perform record_append(device_ensure(a.device_serial), 'appointment',
        jsonb_build_object('event', p_event, 'starts_at', a.starts_at, 'status', a.status,
                           'service', (select name from services where id = a.service_id))
        || p_extra,
        p_actor, a.store_id, 'appointment', a.id);
end $$;

-- Every later step reaches the record from wherever it happens (a move, a cancel, the floor's
-- check-in and service, the no-show job), so no caller can forget it. Starting service is the
-- visit's entry (004), not repeated here.
create or replace function booking_record_change() returns trigger
language plpgsql as $$
begin
    if new.status is distinct from old.status and new.status <> 'in_service' then
        perform booking_record(new, new.status,
                               case when new.status = 'cancelled' then new.cancelled_by end);
    elsif new.starts_at <> old.starts_at then
        perform booking_record(new, 'rescheduled', null,
                               jsonb_build_object('previous_starts_at', old.starts_at));
    end if;
    return new;
end $$;

create or replace trigger appointments_record after update of status, starts_at on appointments
    for each row when (new.device_serial is not null)
    execute function booking_record_change();

create or replace function booking_list_stores() returns json
language sql stable as $$
    select coalesce(json_agg(json_build_object('id', id, 'code', code, 'name', name,
                                               'timezone', timezone, 'currency', currency,
                                               'address', address, 'phone', phone)
                             order by id), '[]')
    from stores
    where closed_at is null
$$;

create or replace function booking_list_services(p_store bigint) returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
begin
    return coalesce((select json_agg(json_build_object('id', id, 'name', name,
                                                       'duration_min', duration_min,
                                                       'skill', skill, 'buffer_min', buffer_min,
                                                       'price_minor', price_minor,
                                                       'currency', st.currency,
                                                       'description', description)
                                     order by id)
                     from services where store_id = st.id and active), '[]');
end $$;

-- Free slots of a service over local dates [p_from, p_to] (at most booking_max_days()).
-- The checks of an availability request, in the order the month view makes them.
create or replace function booking_availability_args(p_store bigint, p_service text, p_from text,
                                                     p_to text, out st stores, out sv services,
                                                     out v_from date, out v_to date)
language plpgsql as $$
begin
    st := booking_store(p_store);
    -- Slots shown for a closed store would only lead to store_closed on booking: say it now,
    -- whatever the query (a read, so without the lock store_refuse_closed takes for writes).
    if st.closed_at is not null then
        perform carnet_fail(409, 'store_closed', 'store', 'this store is closed');
    end if;
    v_from := booking_parse_date(p_from, 'from');
    v_to := booking_parse_date(p_to, 'to');
    if p_service is null or p_service !~ '^[0-9]{1,18}$' then
        perform carnet_fail(422, 'invalid', 'service', 'service=<id> is required');
    end if;
    sv := booking_service(st.id, p_service::jsonb, 'service');
    if v_to < v_from then
        perform carnet_fail(422, 'invalid', 'to', '"to" must not be before "from"');
    end if;
    if v_to - v_from >= booking_max_days() then
        perform carnet_fail(422, 'range_too_long', 'to',
            format('ask for at most %s days at once', booking_max_days()));
    end if;
end $$;

-- One day of the month view as booking_availability writes it (null when it has no free slot).
create or replace function booking_availability_day(p_day date, p_slots json) returns json
language sql immutable as $$
    select json_build_object('date', p_day, 'slots', p_slots)
$$;

create or replace function booking_availability(p_store bigint, p_service text, p_from text, p_to text)
returns json
language plpgsql set jit = off as $$
declare
    a record := booking_availability_args(p_store, p_service, p_from, p_to);
begin
    return json_build_object(
        'store_id', (a.st).id, 'timezone', (a.st).timezone, 'service_id', (a.sv).id,
        'from', a.v_from, 'to', a.v_to,
        'days', coalesce((
            select json_agg(booking_availability_day(d.local_day, d.slots) order by d.local_day)
            from (select s.local_day,
                         json_agg(json_build_object('starts_at', s.starts_at,
                                                    'ends_at', s.ends_at, 'free', s.free)
                                  order by s.starts_at) as slots
                  from booking_slots((a.st).id, (a.sv).id, a.v_from, a.v_to, null) s
                  group by s.local_day) d), '[]'));
end $$;

-- The month view in pieces for carnetd's cache (booking.c): one row per day of the range, with
-- the day as booking_availability writes it (null: no free slot) and the epoch of its first
-- free slot, after which the day's answer changes as time passes (null: never). Every row also
-- carries the store's time zone as JSON text. The same checks and errors as booking_availability.
create or replace function booking_availability_days(p_store bigint, p_service text,
                                                      p_from text, p_to text)
returns table (local_day date, body text, first_start double precision, timezone text)
language plpgsql set jit = off as $$
declare
    a record := booking_availability_args(p_store, p_service, p_from, p_to);
begin
    return query
    select g.day::date,
           case when d.slots is not null then booking_availability_day(g.day::date, d.slots)::text end,
           extract(epoch from d.first_start)::double precision, to_json((a.st).timezone)::text
    from generate_series(a.v_from::timestamp, a.v_to::timestamp, interval '1 day') g(day)
    left join (select s.local_day,
                      json_agg(json_build_object('starts_at', s.starts_at,
                                                 'ends_at', s.ends_at, 'free', s.free)
                               order by s.starts_at) as slots,
                      min(s.starts_at) as first_start
               from booking_slots((a.st).id, (a.sv).id, a.v_from, a.v_to, null) s
               group by s.local_day) d on d.local_day = g.day::date
    order by 1;
end $$;

-- The booking itself. p_body was validated and normalised by carnetd (name, email, phone,
-- serial, problem), and name, email and phone sealed (017) with email_bi, phone_bi and the
-- name's initial beside them; this checks the slot, picks a staff member and inserts. Without an
-- idempotency key errors are raised as usual; with one, the first result is stored and every
-- retry with the same key and body gets it back: a success as it was, an error raised again
-- with the same SQLSTATE, message, detail and hint, so carnetd's one mapping gives the same
-- reply. Only errors the same request would meet again are stored: the caller's (CA4nn) and
-- data or constraint errors (classes 22 and 23); others (CA5nn, timeouts, serialisation
-- failures) are raised and the retry runs again.
-- p_token is the manage token itself, for the link in the confirmation message (the outbox
-- keeps the message, as it must, until it is delivered).
-- p_req_hash: carnetd's fingerprint of the clear request, which tells a retry from another
-- request under the same key (the sealed body differs at every try); md5 of the body without.
-- Returns {"status": http status, "body": reply, "sealed": sealed token of a replayed success},
-- or, for the first failure of an idempotent request (stored, so it cannot be raised),
-- {"error": {"sqlstate", "message", "detail", "hint", "constraint"}}.
create or replace function booking_create(p_store bigint, p_body jsonb, p_token_hash text,
                                          p_idem_hash text, p_sealed text, p_request_id text,
                                          p_token text default null,
                                          p_req_hash text default null)
returns json
language plpgsql as $$
declare
    v_req_hash text := coalesce(p_req_hash, md5(p_body::text));
    prior booking_idempotency%rowtype;
    v_reply jsonb;
    v_state text; v_msg text; v_detail text; v_hint text; v_constraint text;
begin
    if p_idem_hash is null then
        return booking_create_do(p_store, p_body, p_token_hash, p_token)::json;
    end if;
    perform pg_advisory_xact_lock(hashtextextended(p_idem_hash, 0));
    select * into prior from booking_idempotency where key_hash = p_idem_hash;
    if found then
        if prior.request_hash <> v_req_hash then
            perform carnet_fail(422, 'idempotency_key_reused', 'Idempotency-Key',
                'this Idempotency-Key was used for a different request');
        end if;
        perform booking_store(p_store);
        if prior.sqlstate is not null then
            raise exception using errcode = prior.sqlstate, message = prior.error_message,
                detail = coalesce(prior.error_detail, ''), hint = coalesce(prior.error_hint, ''),
                constraint = coalesce(prior.error_constraint, '');
        end if;
        return json_build_object('status', prior.status, 'body', prior.body,
                                 'sealed', prior.sealed_token, 'replayed', true);
    end if;
    begin
        v_reply := booking_create_do(p_store, p_body, p_token_hash, p_token);
    exception when others then
        get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text,
            v_detail = pg_exception_detail, v_hint = pg_exception_hint,
            v_constraint = constraint_name;
        if not (v_state like 'CA4%' or left(v_state, 2) in ('22', '23')) then
            raise;
        end if;
        insert into booking_idempotency (key_hash, request_hash, sqlstate, error_message,
                                         error_detail, error_hint, error_constraint)
        values (p_idem_hash, v_req_hash, v_state, v_msg, nullif(v_detail, ''),
                nullif(v_hint, ''), nullif(v_constraint, ''));
        return json_build_object('error', json_build_object(
            'sqlstate', v_state, 'message', v_msg, 'detail', nullif(v_detail, ''),
            'hint', nullif(v_hint, ''), 'constraint', nullif(v_constraint, '')));
    end;
    insert into booking_idempotency (key_hash, request_hash, status, body, sealed_token)
    values (p_idem_hash, v_req_hash, (v_reply ->> 'status')::int, v_reply -> 'body', p_sealed);
    return v_reply::json;
end $$;

create or replace function booking_create_do(p_store bigint, p_body jsonb, p_token_hash text,
                                  p_token text default null) returns jsonb
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    sv services%rowtype;
    v_start timestamptz;
    v_staff bigint;
    a appointments%rowtype;
begin
    perform store_refuse_closed(st.id);
    sv := booking_service(st.id, p_body -> 'service_id', 'service_id');
    v_start := booking_parse_time(p_body -> 'starts_at', 'starts_at');
    perform booking_pd_require(p_body, 'name', true);
    perform booking_pd_require(p_body, 'email', false);
    perform booking_pd_require(p_body, 'phone', false);
    if p_body ->> 'email' is null and p_body ->> 'phone' is null then
        perform carnet_fail(422, 'contact_required', 'email',
                            'an email or a phone number is required');
    end if;
    v_staff := booking_claim(st, sv, v_start, null, 'starts_at');
    loop
        begin
            insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,
                                      blocked_until, code, customer_name, customer_email,
                                      customer_phone, customer_email_bi, customer_phone_bi,
                                      customer_initial, device_serial, problem)
            values (st.id, sv.id, v_staff, v_start,
                    v_start + make_interval(mins => sv.duration_min),
                    v_start + make_interval(mins => sv.duration_min + sv.buffer_min),
                    booking_new_code(), p_body ->> 'name', p_body ->> 'email',
                    p_body ->> 'phone', p_body ->> 'email_bi', p_body ->> 'phone_bi',
                    p_body ->> 'initial', p_body ->> 'serial',
                    coalesce(p_body ->> 'problem', ''))
            returning * into a;
            exit;
        exception when unique_violation then
            -- Only the code can collide (31^6 codes): draw another one.
            continue;
        when exclusion_violation then
            -- An insert that takes no booking lock got there first (the standby job's offer).
            perform booking_slot_taken(st, sv.id, v_start, null, 'starts_at');
        end;
    end loop;
    insert into appointment_tokens (token_hash, appointment_id, purpose, expires_at)
    values (p_token_hash, a.id, 'manage', a.ends_at + make_interval(days => booking_link_days()));
    perform booking_record(a, 'booked', null, jsonb_build_object('problem', a.problem));
    perform booking_notify('booking_confirmed', a,
                           jsonb_build_object('link', booking_manage_link(p_token)));
    return jsonb_build_object('status', 201, 'body',
        jsonb_build_object('appointment', booking_appointment_json(a), 'code', a.code));
end $$;

-- Moves an active, not yet started appointment to another slot of its service (same row, same
-- code and link). Returns the appointment json.
create or replace function booking_move(a appointments, p_body jsonb, p_actor bigint) returns jsonb
language plpgsql as $$
declare
    st stores%rowtype := booking_store(a.store_id);
    sv services%rowtype;
    v_start timestamptz;
    v_staff bigint;
begin
    select * into sv from services where id = a.service_id;
    if a.status <> 'booked' then
        perform carnet_fail(409, 'not_reschedulable', 'status',
            format('a %s appointment cannot be moved', a.status));
    end if;
    -- Customers (no actor) cannot move a booking whose time has come; staff can.
    if p_actor is null and a.starts_at <= now() then
        perform carnet_fail(409, 'too_late', 'status', 'this appointment has already started');
    end if;
    v_start := booking_parse_time(p_body -> 'starts_at', 'starts_at');
    v_staff := booking_claim(st, sv, v_start, a.id, 'starts_at');
    update appointments
    set starts_at = v_start, ends_at = v_start + make_interval(mins => sv.duration_min),
        blocked_until = v_start + make_interval(mins => sv.duration_min + sv.buffer_min),
        staff_id = v_staff, updated_at = now()
    where id = a.id
    returning * into a;
    update appointment_tokens
    set expires_at = a.ends_at + make_interval(days => booking_link_days())
    where appointment_id = a.id;
    perform booking_notify('booking_changed', a);
    return booking_appointment_json(a);
end $$;

create or replace function booking_cancel(a appointments, p_actor bigint) returns jsonb
language plpgsql as $$
begin
    perform booking_store(a.store_id);
    if a.status <> 'booked' then
        perform carnet_fail(409, 'not_cancellable', 'status',
            format('a %s appointment cannot be cancelled', a.status));
    end if;
    if p_actor is null and a.starts_at <= now() then
        perform carnet_fail(409, 'too_late', 'status', 'this appointment has already started');
    end if;
    update appointments
    set status = 'cancelled', cancelled_at = now(), cancelled_by = p_actor, updated_at = now()
    where id = a.id
    returning * into a;
    -- "Book again" leads to the booking page, not to the cancelled booking.
    perform booking_notify('booking_cancelled', a, jsonb_build_object('link', '{{public_url}}/'));
    return booking_appointment_json(a);
end $$;

-- The appointment behind a manage token; locked when the caller is about to change it.
create or replace function booking_by_token(p_token_hash text, p_lock boolean) returns appointments
language plpgsql as $$
declare
    a appointments%rowtype;
begin
    if p_lock then
        select ap.* into a
        from appointment_tokens t join appointments ap on ap.id = t.appointment_id
        where t.token_hash = p_token_hash and t.purpose = 'manage' and t.expires_at > now()
        for update of ap;
    else
        select ap.* into a
        from appointment_tokens t join appointments ap on ap.id = t.appointment_id
        where t.token_hash = p_token_hash and t.purpose = 'manage' and t.expires_at > now();
    end if;
    if not found then
        perform carnet_fail(404, 'not_found', 'token', 'this link is unknown or has expired');
    end if;
    return a;
end $$;

create or replace function booking_manage_get(p_token_hash text) returns json
language plpgsql as $$
declare
    a appointments%rowtype := booking_by_token(p_token_hash, false);
    st stores%rowtype := booking_store(a.store_id);
begin
    return (booking_appointment_json(a) - 'staff_id'
            || jsonb_build_object('store', jsonb_build_object('id', st.id, 'name', st.name,
                                                              'timezone', st.timezone)))::json;
end $$;

-- A moved booking is a new time at the store: a closed store gives none. Its store is checked
-- (store_refuse_closed) before the booking is locked: closing takes the store, then its
-- bookings, so taking them in the same order cannot deadlock with it.
create or replace function booking_manage_reschedule(p_token_hash text, p_body jsonb) returns json
language plpgsql as $$
declare
    a appointments%rowtype;
begin
    perform store_refuse_closed((booking_by_token(p_token_hash, false)).store_id);
    a := booking_by_token(p_token_hash, true);
    return (booking_move(a, p_body, null) - 'staff_id')::json;
end $$;

create or replace function booking_manage_cancel(p_token_hash text) returns json
language plpgsql as $$
declare
    a appointments%rowtype := booking_by_token(p_token_hash, true);
begin
    return (booking_cancel(a, null) - 'staff_id')::json;
end $$;

-- The dispatcher checked the caller's role in p_store; the appointment must belong to it.
create or replace function booking_staff_appointment(p_store bigint, p_id bigint)
returns appointments
language plpgsql as $$
declare
    a appointments%rowtype;
begin
    select * into a from appointments where id = p_id and store_id = p_store for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such appointment in this store');
    end if;
    return a;
end $$;

-- The store's appointments of one local day; each carries staff_name, the name of the staff
-- member it is booked with, so the staff app can show who serves whom.
create or replace function booking_day(p_actor bigint, p_store bigint, p_date text,
                                       p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_day date := booking_parse_date(p_date, 'date');
begin
    perform carnet_audit_read(p_actor, 'read', 'appointment_day', st.id || ':' || v_day, p_request_id);
    return json_build_object('store_id', st.id, 'date', v_day, 'timezone', st.timezone,
        'appointments', coalesce((
            select json_agg(booking_appointment_json(a)
                            || jsonb_build_object('staff_name', s.name)
                            order by a.starts_at, a.id)
            from appointments a
            join staff s on s.id = a.staff_id
            where a.store_id = st.id
              and a.starts_at >= (v_day::timestamp at time zone st.timezone)
              and a.starts_at < ((v_day + 1)::timestamp at time zone st.timezone)), '[]'));
end $$;

create or replace function booking_staff_reschedule(p_actor bigint, p_store bigint, p_id bigint, p_body jsonb,
                                         p_request_id text)
returns json
language plpgsql as $$
declare
    a appointments%rowtype;
    v jsonb;
begin
    perform store_refuse_closed(p_store); -- before the booking's lock: see booking_manage_reschedule
    a := booking_staff_appointment(p_store, p_id);
    v := booking_move(a, p_body, p_actor);
    perform carnet_audit(p_actor, 'reschedule', 'appointment', a.id::text, p_request_id);
    return v::json;
end $$;

create or replace function booking_staff_cancel(p_actor bigint, p_store bigint, p_id bigint, p_request_id text)
returns json
language plpgsql as $$
declare
    a appointments%rowtype := booking_staff_appointment(p_store, p_id);
    v jsonb;
begin
    v := booking_cancel(a, p_actor);
    perform carnet_audit(p_actor, 'cancel', 'appointment', a.id::text, p_request_id);
    return v::json;
end $$;

create or replace function booking_parse_tod(p_value jsonb, p_field text) returns time
language plpgsql immutable as $$
begin
    if p_value is null or jsonb_typeof(p_value) <> 'string'
       or (p_value #>> '{}') !~ '^([01]\d|2[0-3]):[0-5]\d$|^24:00$' then
        perform carnet_fail(422, 'invalid', p_field, 'a local time HH:MM is required');
    end if;
    return (p_value #>> '{}')::time;
end $$;

-- Replaces the week's opening hours: {"hours": [{"weekday": 1, "opens": "10:00",
-- "closes": "20:00"}, ...]}.
create or replace function booking_set_hours(p_actor bigint, p_store bigint, p_body jsonb, p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    h jsonb;
    i int := 0;
    v_day int;
    v_opens time;
    v_closes time;
begin
    if jsonb_typeof(p_body -> 'hours') is distinct from 'array'
       or jsonb_array_length(p_body -> 'hours') > 7 * 4 then
        perform carnet_fail(422, 'invalid', 'hours', 'an array of at most 28 opening periods is required');
    end if;
    delete from store_hours where store_id = st.id;
    for h in select * from jsonb_array_elements(p_body -> 'hours') loop
        if jsonb_typeof(h -> 'weekday') is distinct from 'number'
           or (h ->> 'weekday') !~ '^[1-7]$' then
            perform carnet_fail(422, 'invalid', format('hours[%s].weekday', i),
                'weekday is 1 (Monday) to 7 (Sunday)');
        end if;
        v_day := (h ->> 'weekday')::int;
        v_opens := booking_parse_tod(h -> 'opens', format('hours[%s].opens', i));
        v_closes := booking_parse_tod(h -> 'closes', format('hours[%s].closes', i));
        if v_closes <= v_opens then
            perform carnet_fail(422, 'invalid', format('hours[%s].closes', i),
                'closing time must be after opening time');
        end if;
        if exists (select 1 from store_hours where store_id = st.id and weekday = v_day
                   and opens < v_closes and closes > v_opens) then
            perform carnet_fail(422, 'overlap', format('hours[%s]', i),
                'two opening periods overlap on that day');
        end if;
        insert into store_hours values (st.id, v_day, v_opens, v_closes);
        i := i + 1;
    end loop;
    perform carnet_audit(p_actor, 'set_hours', 'store', st.id::text, p_request_id);
    return json_build_object('store_id', st.id, 'hours', coalesce((
        select json_agg(json_build_object('weekday', weekday, 'opens', to_char(opens, 'HH24:MI'),
                                          'closes', to_char(closes, 'HH24:MI'))
                        order by weekday, opens)
        from store_hours where store_id = st.id), '[]'));
end $$;

-- A closure's "date" from a body (adding one, or moving one on the rota).
create or replace function booking_closure_day(p_body jsonb) returns date
language plpgsql immutable as $$
begin
    if jsonb_typeof(p_body -> 'date') is distinct from 'string' then
        perform carnet_fail(422, 'invalid', 'date', 'a date YYYY-MM-DD is required');
    end if;
    return booking_parse_date(p_body ->> 'date', 'date');
end $$;

-- A closure as added or edited, with the bookings still on that day for staff to move.
create or replace function booking_closure_json(c store_closures, p_tz text) returns json
language sql stable as $$
    select json_build_object('id', c.id, 'store_id', c.store_id, 'date', c.day,
                             'reason', c.reason,
                             'booked', (select count(*) from appointments a
                                        where a.store_id = c.store_id and a.status = 'booked'
                                          and (a.starts_at at time zone p_tz)::date = c.day))
$$;

create or replace function booking_add_closure(p_actor bigint, p_store bigint, p_body jsonb, p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_day date;
    v_reason text := coalesce(p_body ->> 'reason', '');
    c store_closures%rowtype;
begin
    v_day := booking_closure_day(p_body);
    if length(v_reason) > 200 then
        perform carnet_fail(422, 'too_long', 'reason', 'at most 200 characters');
    end if;
    if exists (select 1 from store_closures where store_id = st.id and day = v_day) then
        perform carnet_fail(409, 'exists', 'date', 'the store is already closed that day');
    end if;
    insert into store_closures (store_id, day, reason) values (st.id, v_day, v_reason)
    returning * into c;
    perform carnet_audit(p_actor, 'add_closure', 'store', st.id::text, p_request_id);
    return booking_closure_json(c, st.timezone);
end $$;

-- Adds a service: {"name", "duration_min", "skill", "buffer_min"?, "price_minor"?,
-- "description"?}, each checked by store_service_apply (store.sql), which edits share.
create or replace function booking_add_service(p_actor bigint, p_store bigint, p_body jsonb, p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    sv services%rowtype;
begin
    sv.store_id := st.id;
    sv.buffer_min := 0;
    sv.description := '';
    -- The required fields start as JSON null, which their checks refuse.
    sv := store_service_apply(sv, '{"name": null, "duration_min": null, "skill": null}'::jsonb
                                  || (p_body - 'active'));
    if exists (select 1 from services where store_id = st.id and name = sv.name) then
        perform carnet_fail(409, 'exists', 'name', 'this store already has a service of that name');
    end if;
    insert into services (store_id, name, duration_min, skill, buffer_min, price_minor, description)
    values (st.id, sv.name, sv.duration_min, sv.skill, sv.buffer_min, sv.price_minor,
            sv.description)
    returning * into sv;
    perform carnet_audit(p_actor, 'add_service', 'service', sv.id::text, p_request_id);
    return store_service_json(sv, st.currency);
end $$;

-- Replaces a staff member's skills in this store: {"skills": ["repair", "diagnostics"]}.
create or replace function booking_set_skills(p_actor bigint, p_store bigint, p_staff bigint, p_body jsonb,
                                   p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_staff bigint;
    k jsonb;
begin
    if not exists (select 1 from staff_roles where staff_id = p_staff and store_id = st.id) then
        perform carnet_fail(404, 'not_found', 'staff', 'no such staff member in this store');
    end if;
    v_staff := p_staff;
    if jsonb_typeof(p_body -> 'skills') is distinct from 'array'
       or jsonb_array_length(p_body -> 'skills') > 32 then
        perform carnet_fail(422, 'invalid', 'skills', 'an array of at most 32 skills is required');
    end if;
    for k in select * from jsonb_array_elements(p_body -> 'skills') loop
        if jsonb_typeof(k) <> 'string' or (k #>> '{}') !~ '^[a-z][a-z_]{1,31}$' then
            perform carnet_fail(422, 'invalid', 'skills', 'skills look like "repair"');
        end if;
    end loop;
    delete from staff_skills where staff_id = v_staff and store_id = st.id;
    insert into staff_skills (staff_id, store_id, skill)
    select distinct v_staff, st.id, x from jsonb_array_elements_text(p_body -> 'skills') x;
    perform carnet_audit(p_actor, 'set_skills', 'staff', v_staff::text, p_request_id);
    return json_build_object('staff_id', v_staff, 'store_id', st.id, 'skills', coalesce((
        select json_agg(skill order by skill) from staff_skills
        where staff_id = v_staff and store_id = st.id), '[]'));
end $$;

-- A staff member of the store from the body's "staff_id", or 422 (shifts and rota patterns).
create or replace function booking_staff_member(p_store bigint, p_body jsonb) returns bigint
language plpgsql stable as $$
begin
    if jsonb_typeof(p_body -> 'staff_id') is distinct from 'number'
       or (p_body ->> 'staff_id') !~ '^[0-9]{1,18}$' or not exists (
        select 1 from staff_roles where staff_id = (p_body ->> 'staff_id')::bigint
                                    and store_id = p_store) then
        perform carnet_fail(422, 'invalid', 'staff_id', 'a staff member of this store is required');
    end if;
    return (p_body ->> 'staff_id')::bigint;
end $$;

-- A shift's {"starts_at", "ends_at"} (adding one, or moving one on the rota): it ends after it
-- starts, within 24 hours.
create or replace function booking_parse_shift(p_body jsonb, out starts_at timestamptz,
                                               out ends_at timestamptz)
language plpgsql stable as $$
begin
    starts_at := booking_parse_time(p_body -> 'starts_at', 'starts_at');
    ends_at := booking_parse_time(p_body -> 'ends_at', 'ends_at');
    if ends_at <= starts_at or ends_at > starts_at + interval '24 hours' then
        perform carnet_fail(422, 'invalid', 'ends_at', 'a shift ends after it starts, within 24 hours');
    end if;
end $$;

create or replace function booking_add_shift(p_actor bigint, p_store bigint, p_body jsonb, p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_staff bigint;
    v_start timestamptz;
    v_end timestamptz;
    sh shifts%rowtype;
begin
    v_staff := booking_staff_member(st.id, p_body);
    select * into v_start, v_end from booking_parse_shift(p_body);
    if exists (select 1 from shifts where staff_id = v_staff
               and tstzrange(starts_at, ends_at) && tstzrange(v_start, v_end)) then
        perform carnet_fail(409, 'overlap', 'starts_at', 'this person already has a shift then');
    end if;
    insert into shifts (store_id, staff_id, starts_at, ends_at)
    values (st.id, v_staff, v_start, v_end)
    returning * into sh;
    perform carnet_audit(p_actor, 'add_shift', 'shift', sh.id::text, p_request_id);
    return json_build_object('id', sh.id, 'store_id', sh.store_id, 'staff_id', sh.staff_id,
                             'starts_at', sh.starts_at, 'ends_at', sh.ends_at);
end $$;

-- A store with its week and its closures from today on (public: what the booking page shows).
create or replace function booking_store_detail(p_store bigint) returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
begin
    return json_build_object('id', st.id, 'code', st.code, 'name', st.name,
        'timezone', st.timezone, 'currency', st.currency,
        'address', st.address, 'phone', st.phone, 'closed', st.closed_at is not null,
        'hours', coalesce((select json_agg(json_build_object('weekday', weekday,
                                                             'opens', to_char(opens, 'HH24:MI'),
                                                             'closes', to_char(closes, 'HH24:MI'))
                                           order by weekday, opens)
                           from store_hours where store_id = st.id), '[]'),
        'closures', coalesce((select json_agg(json_build_object('id', id, 'date', day,
                                                                'reason', reason) order by day)
                              from store_closures
                              where store_id = st.id
                                and day >= (now() at time zone st.timezone)::date), '[]'));
end $$;

-- Shifts starting on local dates [p_from, p_to], with who and their skills here.
create or replace function booking_shifts(p_actor bigint, p_store bigint, p_from text, p_to text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_from date := booking_parse_date(p_from, 'from');
    v_to date := booking_parse_date(p_to, 'to');
begin
    if v_to < v_from or v_to - v_from >= booking_max_days() then
        perform carnet_fail(422, 'invalid', 'to',
            format('"to" is on or after "from", at most %s days later', booking_max_days()));
    end if;
    return json_build_object('store_id', st.id, 'from', v_from, 'to', v_to,
        'shifts', coalesce((
            select json_agg(json_build_object(
                       'id', sh.id, 'staff_id', sh.staff_id, 'staff_name', s.name,
                       'starts_at', sh.starts_at, 'ends_at', sh.ends_at,
                       'skills', (select coalesce(json_agg(k.skill order by k.skill), '[]')
                                  from staff_skills k
                                  where k.staff_id = sh.staff_id and k.store_id = st.id))
                   order by sh.starts_at, sh.staff_id)
            from shifts sh join staff s on s.id = sh.staff_id
            where sh.store_id = st.id
              and sh.starts_at >= (v_from::timestamp at time zone st.timezone)
              and sh.starts_at < ((v_to + 1)::timestamp at time zone st.timezone)), '[]'));
end $$;

-- Removes a shift unless an active appointment of that person falls in it (move or cancel
-- those first: a booking must keep someone on shift to honour it). Only this occurrence of a
-- weekly pattern goes (schema/api/rota.sql).
create or replace function booking_delete_shift(p_actor bigint, p_store bigint, p_id bigint, p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    sh shifts%rowtype;
    n int;
begin
    select * into sh from shifts where id = p_id and store_id = st.id for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such shift in this store');
    end if;
    -- Waits for this person's bookings in flight, and holds off new ones (booking_lock_time).
    perform booking_lock_staff(sh.staff_id);
    select count(*) into n from appointments
    where staff_id = sh.staff_id and status in ('booked', 'checked_in', 'in_service')
      and tstzrange(starts_at, ends_at) && tstzrange(sh.starts_at, sh.ends_at);
    if n > 0 then
        perform carnet_fail_extra(409, 'has_appointments', 'id',
            format('%s active appointment(s) rely on this shift: move or cancel them first', n),
            jsonb_build_object('appointments', n));
    end if;
    delete from shifts where id = sh.id;
    -- One occurrence of a weekly pattern: remember it, or the daily job would bring it back.
    if sh.pattern_id is not null then
        insert into shift_pattern_skips (pattern_id, day) values (sh.pattern_id, sh.pattern_day)
        on conflict do nothing;
    end if;
    perform carnet_audit(p_actor, 'delete_shift', 'shift', sh.id::text, p_request_id);
    return json_build_object('id', sh.id, 'deleted', true);
end $$;

-- Forgets idempotency records after a day: retries come within seconds or minutes.
create or replace function job_booking_idempotency() returns int
language plpgsql as $$
declare
    n int;
begin
    delete from booking_idempotency where created_at < now() - interval '1 day';
    get diagnostics n = row_count;
    return n;
end $$;
