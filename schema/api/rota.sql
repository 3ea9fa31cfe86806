-- Rota: weekly shift patterns and their occurrences, the week grid, copying a week, moving one
-- shift, and editing or removing a closure (schema/034_rota.sql for the model).
--
-- Occurrences are ordinary rows of `shifts` (availability reads nothing else); a pattern adds
-- the missing ones of its window and never touches an existing one, so a moved occurrence
-- (exception) keeps its new times and a deleted one (shift_pattern_skips) stays deleted.
-- Occurrences that would overlap another shift of the person are skipped and counted: the
-- exclusion constraint decides, through ON CONFLICT DO NOTHING.

-- Adds a shift unless it would overlap another of the person (or repeat a pattern's day): the
-- exclusion constraint decides, through ON CONFLICT DO NOTHING. True when it was added.
create or replace function rota_try_shift(p_store bigint, p_staff bigint, p_starts timestamptz,
                                          p_ends timestamptz, p_pattern bigint, p_day date)
returns boolean
language plpgsql as $$
declare
    n int;
begin
    insert into shifts (store_id, staff_id, starts_at, ends_at, pattern_id, pattern_day)
    values (p_store, p_staff, p_starts, p_ends, p_pattern, p_day)
    on conflict do nothing;
    get diagnostics n = row_count;
    return n > 0;
end $$;

-- The days a pattern materialises: from its start (or today, if later) for the bookable horizon,
-- so a pattern that starts in a few weeks shows its first weeks at once.
create or replace function rota_fill(p_pattern bigint, out created int, out skipped int)
language plpgsql as $$
declare
    p shift_patterns%rowtype;
    v_tz text;
    v_first date;
    v_last date;
    d date;
begin
    created := 0;
    skipped := 0;
    -- FOR SHARE: waits for a rota_update_pattern in flight (FOR UPDATE) and then reads its new
    -- end, or finds the pattern gone; an unlocked read would let the job re-add the days that
    -- update is removing.
    select * into p from shift_patterns where id = p_pattern for share;
    if not found then
        return;
    end if;
    select timezone into v_tz from stores where id = p.store_id;
    v_first := greatest(p.from_day, (now() at time zone v_tz)::date);
    v_last := v_first + booking_max_days();
    if p.until_day is not null and p.until_day < v_last then
        v_last := p.until_day;
    end if;
    for d in select x::date from generate_series(v_first, v_last, interval '1 day') x
             where extract(isodow from x) = p.weekday loop
        continue when exists (select 1 from shift_pattern_skips where pattern_id = p.id and day = d)
                   or exists (select 1 from shifts where pattern_id = p.id and pattern_day = d);
        -- Local wall-clock in the store's zone: 09:00 is 09:00 on both sides of a DST change.
        if rota_try_shift(p.store_id, p.staff_id, (d + p.starts) at time zone v_tz,
                          (d + p.ends) at time zone v_tz, p.id, d) then
            created := created + 1;
        else
            skipped := skipped + 1;
        end if;
    end loop;
end $$;

-- The job (jobs.c, at most hourly): every pattern still running adds the days that came into
-- its window.
create or replace function job_rota_extend() returns int
language plpgsql as $$
declare
    p record;
    n int := 0;
begin
    -- A closed store takes no bookings: its rota stops growing.
    for p in select sp.id from shift_patterns sp join stores s on s.id = sp.store_id
             where s.closed_at is null
               and (sp.until_day is null
                    or sp.until_day >= (now() at time zone s.timezone)::date) loop
        n := n + (rota_fill(p.id)).created;
    end loop;
    return n;
end $$;

-- booking_parse_tod is the one parser of local times; a pattern's times are times of one day,
-- so the end of day (24:00) that opening hours take is refused here.
create or replace function rota_parse_hm(p_body jsonb, p_field text) returns time
language plpgsql immutable as $$
declare
    v time := booking_parse_tod(p_body -> p_field, p_field);
begin
    if v = time '24:00' then
        perform carnet_fail(422, 'invalid', p_field, 'a time of day HH:MM is required');
    end if;
    return v;
end $$;

-- A pattern's {"starts", "ends"} (adding one, or new times from a day on): the same day.
create or replace function rota_parse_hours(p_body jsonb, out starts time, out ends time)
language plpgsql immutable as $$
begin
    starts := rota_parse_hm(p_body, 'starts');
    ends := rota_parse_hm(p_body, 'ends');
    if ends <= starts then
        perform carnet_fail(422, 'invalid', 'ends', 'a shift ends after it starts, the same day');
    end if;
end $$;

create or replace function rota_parse_monday(p_value text, p_field text) returns date
language plpgsql immutable as $$
declare
    d date := booking_parse_date(p_value, p_field);
begin
    if extract(isodow from d) <> 1 then
        perform carnet_fail(422, 'invalid', p_field, 'a week is given by its Monday');
    end if;
    return d;
end $$;

-- Active appointments of a person that fall in [p_from, p_to) and not inside [p_keep_from,
-- p_keep_to): what removing that time would leave without anyone on shift.
create or replace function rota_relying(p_staff bigint, p_from timestamptz, p_to timestamptz,
                                        p_keep_from timestamptz, p_keep_to timestamptz)
returns int language sql stable as $$
    select count(*)::int from appointments
    where staff_id = p_staff and status in ('booked', 'checked_in', 'in_service')
      and tstzrange(starts_at, ends_at) && tstzrange(p_from, p_to)
      and (p_keep_from is null
           or not tstzrange(p_keep_from, p_keep_to) @> tstzrange(starts_at, ends_at))
$$;

-- {"staff_id", "starts": "09:00", "ends": "17:00", "from": "2027-03-22", "until"?, "weekday"?}:
-- a shift every week on "weekday" (default: the weekday of "from") from "from" on.
create or replace function rota_add_pattern(p_actor bigint, p_store bigint, p_body jsonb,
                                            p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_staff bigint := booking_staff_member(st.id, p_body);
    v_starts time;
    v_ends time;
    v_from date;
    v_until date;
    v_weekday int;
    p shift_patterns%rowtype;
    f record;
begin
    select * into v_starts, v_ends from rota_parse_hours(p_body);
    v_from := booking_parse_date(p_body ->> 'from', 'from');
    if p_body ? 'until' and jsonb_typeof(p_body -> 'until') <> 'null' then
        v_until := booking_parse_date(p_body ->> 'until', 'until');
        if v_until < v_from then
            perform carnet_fail(422, 'invalid', 'until', '"until" is on or after "from"');
        end if;
    end if;
    if p_body ? 'weekday' then
        if jsonb_typeof(p_body -> 'weekday') <> 'number' or (p_body ->> 'weekday') !~ '^[1-7]$' then
            perform carnet_fail(422, 'invalid', 'weekday', 'a weekday from 1 (Monday) to 7 (Sunday)');
        end if;
        v_weekday := (p_body ->> 'weekday')::int;
    else
        v_weekday := extract(isodow from v_from)::int;
    end if;
    insert into shift_patterns (store_id, staff_id, weekday, starts, ends, from_day, until_day)
    values (st.id, v_staff, v_weekday, v_starts, v_ends, v_from, v_until)
    returning * into p;
    f := rota_fill(p.id);
    perform carnet_audit(p_actor, 'add_shift_pattern', 'shift_pattern', p.id::text, p_request_id);
    return json_build_object('id', p.id, 'store_id', st.id, 'staff_id', p.staff_id,
                             'weekday', p.weekday, 'starts', to_char(p.starts, 'HH24:MI'),
                             'ends', to_char(p.ends, 'HH24:MI'), 'from', p.from_day,
                             'until', p.until_day, 'created', f.created, 'skipped', f.skipped);
end $$;

-- Ends a pattern, or changes its times from a day on.
-- {"until": "YYYY-MM-DD"}: the pattern's last day. Its occurrences still to come after that day
-- go, except those a booking relies on (they stay, and are counted as kept). A day before its
-- first day ends the pattern altogether.
-- {"from": "YYYY-MM-DD", "starts", "ends"}: "every week from here": the pattern ends the day
-- before and a new one with the new times starts that day (same person, weekday and end), in
-- one transaction, so a refused change leaves the old pattern as it was.
create or replace function rota_update_pattern(p_actor bigint, p_store bigint, p_id bigint,
                                               p_body jsonb, p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    p shift_patterns%rowtype;
    np shift_patterns%rowtype;
    v_until date;
    v_from date;
    v_starts time;
    v_ends time;
    removed int;
    kept int;
    f record;
begin
    select * into p from shift_patterns where id = p_id and store_id = st.id for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such shift pattern in this store');
    end if;
    if p_body ? 'from' then
        v_from := booking_parse_date(p_body ->> 'from', 'from');
        if extract(isodow from v_from) <> p.weekday
           or v_from < p.from_day or v_from > coalesce(p.until_day, v_from) then
            perform carnet_fail(422, 'invalid', 'from', 'a day of this weekly shift is required');
        end if;
        select * into v_starts, v_ends from rota_parse_hours(p_body);
        v_until := v_from - 1;
    else
        v_until := booking_parse_date(p_body ->> 'until', 'until');
    end if;
    perform booking_lock_staff(p.staff_id);
    -- Past occurrences are what happened: they stay whatever the new end.
    select count(*) into kept from shifts sh
    where sh.pattern_id = p.id and sh.pattern_day > v_until and sh.starts_at > now()
      and rota_relying(sh.staff_id, sh.starts_at, sh.ends_at, null, null) > 0;
    delete from shifts sh
    where sh.pattern_id = p.id and sh.pattern_day > v_until and sh.starts_at > now()
      and rota_relying(sh.staff_id, sh.starts_at, sh.ends_at, null, null) = 0;
    get diagnostics removed = row_count;
    if v_until < p.from_day then
        -- Kept occurrences become one-off shifts (pattern_id set null by the foreign key).
        delete from shift_patterns where id = p.id;
    else
        update shift_patterns set until_day = v_until where id = p.id;
    end if;
    perform carnet_audit(p_actor, 'end_shift_pattern', 'shift_pattern', p.id::text, p_request_id);
    if v_from is null then
        return json_build_object('id', p.id, 'until', v_until, 'removed', removed, 'kept', kept);
    end if;
    insert into shift_patterns (store_id, staff_id, weekday, starts, ends, from_day, until_day)
    values (st.id, p.staff_id, p.weekday, v_starts, v_ends, v_from, p.until_day)
    returning * into np;
    f := rota_fill(np.id);
    perform carnet_audit(p_actor, 'add_shift_pattern', 'shift_pattern', np.id::text, p_request_id);
    return json_build_object('id', p.id, 'until', v_until, 'removed', removed, 'kept', kept,
        'pattern', json_build_object('id', np.id, 'staff_id', np.staff_id, 'weekday', np.weekday,
                                     'starts', to_char(np.starts, 'HH24:MI'),
                                     'ends', to_char(np.ends, 'HH24:MI'), 'from', np.from_day,
                                     'until', np.until_day, 'created', f.created,
                                     'skipped', f.skipped));
end $$;

-- {"starts_at", "ends_at"}: moves or resizes one shift. An occurrence of a pattern becomes an
-- exception: the pattern no longer changes it.
create or replace function rota_update_shift(p_actor bigint, p_store bigint, p_id bigint,
                                             p_body jsonb, p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    sh shifts%rowtype;
    v_start timestamptz;
    v_end timestamptz;
    n int;
begin
    select * into sh from shifts where id = p_id and store_id = st.id for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such shift in this store');
    end if;
    select * into v_start, v_end from booking_parse_shift(p_body);
    perform booking_lock_staff(sh.staff_id);
    n := rota_relying(sh.staff_id, sh.starts_at, sh.ends_at, v_start, v_end);
    if n > 0 then
        perform carnet_fail_extra(409, 'has_appointments', 'starts_at',
            format('%s active appointment(s) rely on the time this removes: move or cancel them first', n),
            jsonb_build_object('appointments', n));
    end if;
    if exists (select 1 from shifts where staff_id = sh.staff_id and id <> sh.id
               and tstzrange(starts_at, ends_at) && tstzrange(v_start, v_end)) then
        perform carnet_fail(409, 'overlap', 'starts_at', 'this person already has a shift then');
    end if;
    update shifts set starts_at = v_start, ends_at = v_end, exception = pattern_id is not null
    where id = sh.id
    returning * into sh;
    perform carnet_audit(p_actor, 'update_shift', 'shift', sh.id::text, p_request_id);
    return json_build_object('id', sh.id, 'store_id', sh.store_id, 'staff_id', sh.staff_id,
                             'starts_at', sh.starts_at, 'ends_at', sh.ends_at,
                             'pattern_id', sh.pattern_id, 'exception', sh.exception);
end $$;

-- {"from", "to"}: Mondays. Copies the one-off shifts of week "from" to week "to" at the same
-- local times; pattern occurrences are left to their patterns, and a copy that would overlap a
-- shift of the person is skipped.
create or replace function rota_copy_week(p_actor bigint, p_store bigint, p_body jsonb,
                                          p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_from date := rota_parse_monday(p_body ->> 'from', 'from');
    v_to date := rota_parse_monday(p_body ->> 'to', 'to');
    sh record;
    copied int := 0;
    skipped int := 0;
begin
    if v_to = v_from then
        perform carnet_fail(422, 'invalid', 'to', 'copy to another week');
    end if;
    for sh in select * from shifts
              where store_id = st.id and pattern_id is null
                and starts_at >= (v_from::timestamp at time zone st.timezone)
                and starts_at < ((v_from + 7)::timestamp at time zone st.timezone)
              order by starts_at loop
        if rota_try_shift(st.id, sh.staff_id,
                          ((sh.starts_at at time zone st.timezone)
                           + (v_to - v_from) * interval '1 day') at time zone st.timezone,
                          ((sh.ends_at at time zone st.timezone)
                           + (v_to - v_from) * interval '1 day') at time zone st.timezone,
                          null, null) then
            copied := copied + 1;
        else
            skipped := skipped + 1;
        end if;
    end loop;
    perform carnet_audit(p_actor, 'copy_week', 'store', st.id::text, p_request_id);
    return json_build_object('store_id', st.id, 'from', v_from, 'to', v_to,
                             'copied', copied, 'skipped', skipped);
end $$;

-- The week from a Monday as a grid: a row per staff member of the store (and anyone on shift
-- here that week), their shifts, and the week's closures.
create or replace function rota_week(p_actor bigint, p_store bigint, p_week text) returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    v_week date := rota_parse_monday(p_week, 'week');
    v_lo timestamptz := v_week::timestamp at time zone st.timezone;
    v_hi timestamptz := (v_week + 7)::timestamp at time zone st.timezone;
begin
    return json_build_object('store_id', st.id, 'week', v_week, 'timezone', st.timezone,
        'days', (select json_agg((v_week + i)::date order by i) from generate_series(0, 6) i),
        'staff', coalesce((
            select json_agg(json_build_object('id', s.id, 'name', s.name,
                'shifts', coalesce((
                    select json_agg(json_build_object(
                               'id', sh.id, 'date', (sh.starts_at at time zone st.timezone)::date,
                               'starts_at', sh.starts_at, 'ends_at', sh.ends_at,
                               'start', to_char(sh.starts_at at time zone st.timezone, 'HH24:MI'),
                               'end', to_char(sh.ends_at at time zone st.timezone, 'HH24:MI'),
                               'pattern_id', sh.pattern_id, 'exception', sh.exception)
                           order by sh.starts_at)
                    from shifts sh
                    where sh.store_id = st.id and sh.staff_id = s.id
                      and sh.starts_at >= v_lo and sh.starts_at < v_hi), '[]'))
                order by s.name, s.id)
            from staff s
            where (s.disabled_at is null
                   and exists (select 1 from staff_roles r where r.staff_id = s.id and r.store_id = st.id))
               or exists (select 1 from shifts sh where sh.staff_id = s.id and sh.store_id = st.id
                          and sh.starts_at >= v_lo and sh.starts_at < v_hi)), '[]'),
        'closures', coalesce((
            select json_agg(json_build_object('id', c.id, 'date', c.day, 'reason', c.reason)
                            order by c.day)
            from store_closures c
            where c.store_id = st.id and c.day between v_week and v_week + 6), '[]'));
end $$;

-- {"date"?, "reason"?}: moves a closure to another day or rewords it.
create or replace function rota_update_closure(p_actor bigint, p_store bigint, p_id bigint,
                                               p_body jsonb, p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    c store_closures%rowtype;
    v_day date;
    v_reason text;
begin
    select * into c from store_closures where id = p_id and store_id = st.id for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such closure in this store');
    end if;
    if not (p_body ? 'date' or p_body ? 'reason') then
        perform carnet_fail(422, 'invalid', 'date', 'a new date or reason is required');
    end if;
    v_day := c.day;
    v_reason := c.reason;
    if p_body ? 'date' then
        v_day := booking_closure_day(p_body);
    end if;
    if p_body ? 'reason' then
        if jsonb_typeof(p_body -> 'reason') is distinct from 'string' then
            perform carnet_fail(422, 'invalid', 'reason', 'a text is required');
        end if;
        v_reason := p_body ->> 'reason';
        if length(v_reason) > 200 then
            perform carnet_fail(422, 'too_long', 'reason', 'at most 200 characters');
        end if;
    end if;
    if v_day <> c.day and exists (select 1 from store_closures where store_id = st.id and day = v_day) then
        perform carnet_fail(409, 'exists', 'date', 'the store is already closed that day');
    end if;
    update store_closures set day = v_day, reason = v_reason where id = c.id returning * into c;
    perform carnet_audit(p_actor, 'update_closure', 'store', st.id::text, p_request_id);
    return booking_closure_json(c, st.timezone);
end $$;

create or replace function rota_delete_closure(p_actor bigint, p_store bigint, p_id bigint,
                                               p_request_id text)
returns json
language plpgsql as $$
declare
    st stores%rowtype := booking_store(p_store);
    c store_closures%rowtype;
begin
    delete from store_closures where id = p_id and store_id = st.id returning * into c;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such closure in this store');
    end if;
    perform carnet_audit(p_actor, 'delete_closure', 'store', st.id::text, p_request_id);
    return json_build_object('id', c.id, 'deleted', true);
end $$;
