-- The kiosk at a store's door: self check-in without a staff session, by confirmation code, by
-- the manage link's QR code, or by name and phone (server/kiosk.c). Walk-ins join the line
-- through floor_join_line, as from a phone.
--
-- A check-in is two calls, as a sign-in is (core.sql): kiosk_begin throttles the address,
-- records the attempt and hands carnetd the bookings that might be the caller's (names are
-- sealed, so carnetd compares a typed name with the opened one); kiosk_checkin then checks the
-- chosen booking in with the floor's own floor_checkin_do and deletes the attempt. An attempt
-- that matched nothing stays recorded, and counts. Only this store's bookings are looked at, and
-- every miss gets the same answer from carnetd, so a kiosk tells nothing of other bookings.
--
-- Loaded after the numbered migrations on every migrate (one current definition per function);
-- the table is in 030_kiosk.sql.

-- Refuses with 429 `rate_limited` (retry_after: seconds until the oldest counted attempt leaves
-- the window) once an address has missed kiosk_store_limit times at this store, or
-- kiosk_address_limit times at any store, within the window. A refused attempt is not recorded,
-- so a kiosk that keeps being tried opens again when the window has passed. The caller holds
-- the address's advisory lock.
create or replace function kiosk_throttle(p_store bigint, p_address text) returns void
language plpgsql as $$
declare
    c_window constant interval := interval '1 minute';
    c_store_limit constant int := 10;
    c_address_limit constant int := 30;
    v_until timestamptz;
    v_at timestamptz;
begin
    select at into v_at from kiosk_attempts
    where address = p_address and store_id = p_store and at > now() - c_window
    order by at desc offset c_store_limit - 1 limit 1;
    if found then
        v_until := v_at + c_window;
    end if;
    select at into v_at from kiosk_attempts
    where address = p_address and at > now() - c_window
    order by at desc offset c_address_limit - 1 limit 1;
    if found then
        v_until := greatest(v_until, v_at + c_window);
    end if;
    if v_until > now() then
        perform carnet_fail_extra(429, 'rate_limited', null,
            'too many tries from this kiosk: please wait a moment or ask at the desk',
            jsonb_build_object('retry_after',
                               greatest(1, ceil(extract(epoch from v_until - now())))::int));
    end if;
end $$;

-- Attempts older than an hour go (job_retention calls this): the throttle counts one minute,
-- and an address is kept no longer than it serves.
create or replace function kiosk_prune() returns int
language plpgsql as $$
declare
    n int;
begin
    delete from kiosk_attempts where id in (
        select id from kiosk_attempts
        where at < now() - interval '1 hour'
        limit retention_batch()
        for update skip locked);
    get diagnostics n = row_count;
    return n;
end $$;

-- Step one of a kiosk check-in at store p_store from p_address. p_body holds exactly one way
-- in, checked by carnetd or here: {"code"} as typed, {"token_hash"} of a manage link's QR code,
-- or {"phone_bi"} (the blind index of the phone typed; carnetd checked the name beside it).
-- Returns {attempt, candidates: [{id, name}]}: this store's live bookings of today (the store's
-- local day) with that code or phone, or with that link on any day (names sealed; the caller
-- opens them and keeps the one whose name was typed). Nothing of them reaches the kiosk from
-- here. Today's only: a guessed code can hit one of a day's bookings of one store, not one of
-- every booking ahead (6 characters of 31: 887 million codes; see 030_kiosk.sql).
create or replace function kiosk_begin(p_store bigint, p_address text, p_body jsonb) returns json
language plpgsql as $$
declare
    v_addr text := auth_address_key(coalesce(p_address, ''));
    v_code text;
    v_attempt bigint;
    v_found json;
    tz text := (select timezone from stores where id = p_store);
begin
    if tz is null then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    perform store_refuse_closed(p_store);
    if p_body ? 'code' then
        if jsonb_typeof(p_body->'code') <> 'string' then
            perform carnet_fail(422, 'invalid', 'code', 'a confirmation code is 6 letters and digits');
        end if;
        v_code := upper(regexp_replace(p_body->>'code', '\s|-', '', 'g'));
        if v_code !~ '^[2-9A-HJKMNP-Z]{6}$' then
            perform carnet_fail(422, 'invalid', 'code', 'a confirmation code is 6 letters and digits');
        end if;
    elsif not coalesce(p_body->>'token_hash' ~ '^[0-9a-f]{64}$'
                       or p_body->>'phone_bi' ~ '^[0-9a-f]{64}$', false) then
        perform carnet_fail(422, 'invalid', 'code',
                            'give the confirmation code, or your name and phone number');
    end if;
    perform pg_advisory_xact_lock(hashtext('kiosk-address:' || v_addr));
    perform kiosk_throttle(p_store, v_addr);
    insert into kiosk_attempts (store_id, address) values (p_store, v_addr)
    returning id into v_attempt;
    if v_code is not null then
        select json_agg(json_build_object('id', a.id, 'name', a.customer_name)
                        order by a.starts_at desc) into v_found
        from appointments a
        where a.code = v_code and a.store_id = p_store
          and (a.starts_at at time zone tz)::date = floor_today(p_store)
          and a.status in ('booked', 'checked_in', 'in_service');
    elsif p_body ? 'token_hash' then
        select json_agg(json_build_object('id', a.id, 'name', a.customer_name)) into v_found
        from appointment_tokens t join appointments a on a.id = t.appointment_id
        where t.token_hash = p_body->>'token_hash' and t.purpose = 'manage'
          and t.expires_at > now() and a.store_id = p_store
          and a.status in ('booked', 'checked_in', 'in_service');
    else
        select json_agg(json_build_object('id', a.id, 'name', a.customer_name)
                        order by a.starts_at, a.id) into v_found
        from appointments a
        where a.customer_phone_bi = p_body->>'phone_bi' and a.store_id = p_store
          and (a.starts_at at time zone tz)::date = floor_today(p_store)
          and a.status in ('booked', 'checked_in', 'in_service');
    end if;
    return json_build_object('attempt', v_attempt, 'candidates', coalesce(v_found, '[]'::json));
end $$;

-- What the kiosk shows once a booking is checked in: the ticket, a place and a wait, and the
-- name (sealed; carnetd shows only its first word). again: it was checked in before.
create or replace function kiosk_ticket(v visits, p_again boolean) returns json
language sql stable as $$
    select json_build_object('ticket', v.ticket, 'name', v.name, 'status', p.status,
                             'position', p.position, 'ahead', p.ahead, 'wait_s', p.wait_s,
                             'store_name', p.store_name, 'already_checked_in', p_again)
    from json_to_record(floor_visit_place(v.id))
         as p(status text, position int, ahead int, wait_s int, store_name text)
$$;

-- Step two: checks in booking p_appointment of store p_store, found by kiosk_begin's attempt
-- p_attempt, through floor_checkin_do (its window, its visit, its messages). A booking already
-- checked in answers with its ticket again. The attempt goes once a booking is checked in;
-- when the window refuses (409 too_early / too_late), it stays and counts.
create or replace function kiosk_checkin(p_store bigint, p_attempt bigint, p_appointment bigint)
returns json language plpgsql as $$
declare
    a appointments;
    v visits;
    r json;
begin
    -- Closed since step one: refused like a new step one would be.
    perform store_refuse_closed(p_store);
    select * into a from appointments where id = p_appointment and store_id = p_store for update;
    if not found or a.status not in ('booked', 'checked_in', 'in_service') then
        perform carnet_fail(404, 'no_match', null,
                            'no booking matches here: check it, or ask at the desk');
    end if;
    delete from kiosk_attempts where id = p_attempt;
    if a.status <> 'booked' then
        select * into v from visits where appointment_id = a.id order by id desc limit 1;
        return kiosk_ticket(v, true);
    end if;
    r := floor_checkin_do(a, null, null, null);
    select * into v from visits where id = (r->'visit'->>'id')::bigint;
    return kiosk_ticket(v, false);
end $$;
