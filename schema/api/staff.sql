-- Staff accounts: creation, roles per store, passwords, disable/enable, and the audit log as
-- managers read it (with the trigger that gives entries their store).
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations. A changed argument list needs a migration that drops
-- the old signature first (see 008_api_functions.sql).

create or replace function carnet_audit_in_store(p_staff bigint, p_store bigint, p_action text, p_type text,
                                      p_id text, p_req text)
returns void language sql as $$
    insert into audit_log (staff_id, store_id, action, object_type, object_id, request_id)
    values (p_staff, p_store, p_action, p_type, p_id, p_req)
$$;

create or replace function audit_log_fill_store() returns trigger
language plpgsql as $$
declare
    cand text;
    t regclass;
    v_store bigint;
begin
    if new.store_id is not null or new.object_id is null
       or new.object_id !~ '^[0-9]{1,18}$' then
        return new;
    end if;
    if new.object_type = 'store' then
        new.store_id := (select id from stores where id = new.object_id::bigint);
        return new;
    end if;
    foreach cand in array array[(select table_name from audit_object_tables
                                 where object_type = new.object_type),
                                new.object_type, new.object_type || 's',
                                new.object_type || 'es'] loop
        continue when cand is null;
        t := to_regclass(quote_ident(cand));
        continue when t is null;
        continue when not exists (select 1 from pg_attribute where attrelid = t
                                  and attname = 'store_id' and not attisdropped);
        begin
            execute format('select store_id from %s where id = $1', t)
                into v_store using new.object_id::bigint;
            new.store_id := v_store;
        exception when others then
            new.store_id := null;
        end;
        return new;
    end loop;
    return new;
end $$;

create or replace trigger audit_log_fill_store before insert on audit_log
    for each row execute function audit_log_fill_store();

create or replace function staff_is_admin(p_staff bigint) returns boolean
language sql stable as $$
    select exists (select 1 from staff where id = p_staff and is_admin and disabled_at is null)
$$;

-- One staff member as the API shows them, with their roles in p_store.
create or replace function staff_json(p_staff bigint, p_store bigint) returns json
language sql stable as $$
    select json_build_object(
        'id', s.id, 'email', s.email, 'name', s.name, 'admin', s.is_admin,
        'disabled', s.disabled_at is not null, 'disabled_at', s.disabled_at,
        'created_at', s.created_at,
        'roles', coalesce((select json_agg(r.role order by carnet_role_bit(r.role))
                           from staff_roles r where r.staff_id = s.id and r.store_id = p_store),
                          '[]'::json))
    from staff s where s.id = p_staff
$$;

create or replace function staff_check_store(p_actor bigint, p_store bigint) returns void
language plpgsql stable as $$
begin
    if not exists (select 1 from stores where id = p_store) then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    perform carnet_require(p_actor, p_store, array['manager']);
end $$;

-- The staff member p_staff as a target of p_actor's management in p_store (see the rules above).
-- Locks the row so two managers changing the same person queue up.
create or replace function staff_target(p_actor bigint, p_store bigint, p_staff bigint) returns staff
language plpgsql as $$
declare
    t staff%rowtype;
begin
    perform staff_check_store(p_actor, p_store);
    select * into t from staff where id = p_staff for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'staff', 'no such staff member');
    end if;
    if staff_is_admin(p_actor) then
        return t;
    end if;
    if not exists (select 1 from staff_roles where staff_id = p_staff and store_id = p_store) then
        perform carnet_fail(404, 'not_found', 'staff', 'no such staff member in this store');
    end if;
    if t.is_admin then
        perform carnet_fail(403, 'forbidden', 'staff', 'only an admin may manage an admin');
    end if;
    return t;
end $$;

create or replace function staff_roles_valid(p_roles jsonb) returns boolean
language sql immutable as $$
    select jsonb_typeof(p_roles) = 'array'
       and not exists (select 1 from jsonb_array_elements(p_roles) e
                       where jsonb_typeof(e) <> 'string'
                          or e #>> '{}' not in ('specialist', 'technician', 'manager'))
$$;

create or replace function staff_list(p_actor bigint, p_store bigint, p_req text) returns json
language plpgsql as $$
begin
    perform staff_check_store(p_actor, p_store);
    return json_build_object('staff', coalesce(
        (select json_agg(staff_json(s.id, p_store) order by lower(s.name), s.id)
         from staff s
         where exists (select 1 from staff_roles r where r.staff_id = s.id and r.store_id = p_store)),
        '[]'::json));
end $$;

-- p_body: {"email", "name", "roles": [...], "admin": bool}, already checked for types and
-- lengths by carnetd; checked again here where the rule depends on the database.
create or replace function staff_create(p_actor bigint, p_store bigint, p_body jsonb, p_hash text,
                             p_req text) returns json
language plpgsql as $$
declare
    v_admin boolean := coalesce((p_body ->> 'admin')::boolean, false);
    v_roles jsonb := coalesce(p_body -> 'roles', '[]'::jsonb);
    v_id bigint;
begin
    perform staff_check_store(p_actor, p_store);
    if v_admin and not staff_is_admin(p_actor) then
        perform carnet_fail(403, 'forbidden', 'admin', 'only an admin may create an admin');
    end if;
    if not staff_roles_valid(v_roles) then
        perform carnet_fail(422, 'invalid', 'roles',
                            'roles are specialist, technician and manager');
    end if;
    if jsonb_array_length(v_roles) = 0 and not v_admin then
        perform carnet_fail(422, 'invalid', 'roles', 'give at least one role in this store');
    end if;
    if exists (select 1 from staff where lower(email) = lower(p_body ->> 'email')) then
        perform carnet_fail(409, 'email_taken', 'email', 'an account with this email exists');
    end if;
    begin
        insert into staff (email, name, password_hash, is_admin)
        values (p_body ->> 'email', p_body ->> 'name', p_hash, v_admin)
        returning id into v_id;
    exception when unique_violation then
        perform carnet_fail(409, 'email_taken', 'email', 'an account with this email exists');
    end;
    insert into staff_roles (staff_id, store_id, role)
    select distinct v_id, p_store, e from jsonb_array_elements_text(v_roles) e;
    perform carnet_audit_in_store(p_actor, p_store, 'staff.create', 'staff', v_id::text, p_req);
    return staff_json(v_id, p_store);
end $$;

-- Replaces p_staff's roles in p_store (an empty list takes them out of the store).
create or replace function staff_set_roles(p_actor bigint, p_store bigint, p_staff bigint, p_roles jsonb,
                                p_req text) returns json
language plpgsql as $$
begin
    perform staff_target(p_actor, p_store, p_staff);
    if p_roles is null or not staff_roles_valid(p_roles) then
        perform carnet_fail(422, 'invalid', 'roles',
                            'roles are specialist, technician and manager');
    end if;
    delete from staff_roles where staff_id = p_staff and store_id = p_store;
    insert into staff_roles (staff_id, store_id, role)
    select distinct p_staff, p_store, e from jsonb_array_elements_text(p_roles) e;
    perform carnet_audit_in_store(p_actor, p_store, 'staff.roles', 'staff', p_staff::text, p_req);
    return staff_json(p_staff, p_store);
end $$;

-- A manager's reset: the new hash replaces the old one, the PIN goes, every session of that
-- person ends, and the failed sign-ins that may have locked the account are forgotten.
create or replace function staff_reset_password(p_actor bigint, p_store bigint, p_staff bigint,
                                     p_hash text, p_req text, p_key text) returns json
language plpgsql as $$
declare
    t staff%rowtype;
begin
    t := staff_target(p_actor, p_store, p_staff);
    update staff set password_hash = p_hash, pin_hash = null where id = p_staff;
    delete from sessions where staff_id = p_staff;
    delete from login_attempts where account_mac = login_mac(t.email, p_key) and not ok;
    perform carnet_audit_in_store(p_actor, p_store, 'staff.password_reset', 'staff',
                                  p_staff::text, p_req);
    return staff_json(p_staff, p_store);
end $$;

-- Disabling ends every session of that person in the same transaction: a stolen cookie stops
-- working at once, on every carnetd.
create or replace function staff_disable(p_actor bigint, p_store bigint, p_staff bigint, p_req text)
returns json
language plpgsql as $$
begin
    perform staff_target(p_actor, p_store, p_staff);
    if p_staff = p_actor then
        perform carnet_fail(409, 'self', 'staff', 'you cannot disable your own account');
    end if;
    update staff set disabled_at = coalesce(disabled_at, now()) where id = p_staff;
    delete from sessions where staff_id = p_staff;
    perform carnet_audit_in_store(p_actor, p_store, 'staff.disable', 'staff', p_staff::text,
                                  p_req);
    return staff_json(p_staff, p_store);
end $$;

create or replace function staff_enable(p_actor bigint, p_store bigint, p_staff bigint, p_req text)
returns json
language plpgsql as $$
begin
    perform staff_target(p_actor, p_store, p_staff);
    update staff set disabled_at = null where id = p_staff;
    perform carnet_audit_in_store(p_actor, p_store, 'staff.enable', 'staff', p_staff::text, p_req);
    return staff_json(p_staff, p_store);
end $$;

-- Changing one's own password, step one: the same throttle as sign-in, for the same account and
-- address (a stolen session must not become a way to guess the password), then the stored hash
-- to verify. As for sign-in, the attempt is recorded as failed at once, under the account's and
-- the address's locks, so parallel guesses cannot all slip under the limits; step two turns it
-- into a success.
create or replace function staff_password_begin(p_staff bigint, p_address text, p_key text)
returns json
language plpgsql as $$
declare
    t staff%rowtype;
    v_mac text;
    v_addr text := auth_address_key(p_address);
begin
    select * into t from staff where id = p_staff and disabled_at is null;
    if not found then
        perform carnet_fail(401, 'unauthenticated', null, 'your session has ended');
    end if;
    v_mac := login_mac(t.email, p_key);
    perform pg_advisory_xact_lock(hashtext('login-email:' || v_mac));
    perform pg_advisory_xact_lock(hashtext('login-address:' || v_addr));
    perform auth_throttle(v_mac, v_addr, 'old_password');
    insert into login_attempts (account_mac, address, ok) values (v_mac, v_addr, false);
    return json_build_object('hash', t.password_hash);
end $$;

-- Step two of a password change or a PIN set (step one: staff_password_begin), before either
-- changes anything: the caller's active account, locked (401 when it is gone), or null when
-- the password carnetd verified was wrong (p_ok false: it stays recorded as a failure). A right
-- one must still be the account's hash (409 on p_field when it changed meanwhile) and turns
-- the failed attempt of step one into a success.
create or replace function staff_password_verified(p_staff bigint, p_ok boolean,
                                                   p_verified_hash text, p_field text,
                                                   p_address text, p_key text) returns staff
language plpgsql as $$
declare
    t staff%rowtype;
begin
    select * into t from staff where id = p_staff and disabled_at is null for update;
    if not found then
        perform carnet_fail(401, 'unauthenticated', null, 'your session has ended');
    end if;
    if not p_ok then
        return null;
    end if;
    if t.password_hash <> p_verified_hash then
        perform carnet_fail(409, 'conflict', p_field, 'the password changed meanwhile: try again');
    end if;
    update login_attempts set ok = true
    where id = (select max(id) from login_attempts
                where account_mac = login_mac(t.email, p_key)
                  and address = auth_address_key(p_address) and not ok);
    return t;
end $$;

-- Step two. A wrong old password stays recorded as a failure and is answered {"ok": false}. On
-- success the hash changes only if it is still the one that was verified, and every other
-- session of the account ends.
create or replace function staff_password_finish(p_staff bigint, p_ok boolean, p_old_hash text,
                                      p_new_hash text, p_keep_session text, p_address text,
                                      p_req text, p_key text) returns json
language plpgsql as $$
begin
    if staff_password_verified(p_staff, p_ok, p_old_hash, 'old_password', p_address, p_key) is null then
        return json_build_object('ok', false);
    end if;
    update staff set password_hash = p_new_hash where id = p_staff;
    delete from sessions where staff_id = p_staff and token_hash <> p_keep_session;
    perform carnet_audit(p_staff, 'staff.password_change', 'staff', p_staff::text, p_req);
    return json_build_object('ok', true);
end $$;

-- The audit log. Admins see every entry. A manager sees the entries that carry a store they
-- manage, and the entries of no store (a health record read, a sign-in) written by someone who
-- works in a store they manage. Newest first, p_limit at most, before the entry id p_before.
create or replace function staff_audit_list(p_actor bigint, p_type text, p_id text, p_limit int,
                                 p_before bigint) returns json
language plpgsql stable as $$
declare
    v_admin boolean := staff_is_admin(p_actor);
begin
    if not v_admin and not exists (select 1 from staff_roles r join staff s on s.id = r.staff_id
                                   where r.staff_id = p_actor and r.role = 'manager'
                                     and s.disabled_at is null) then
        perform carnet_fail(403, 'forbidden', null, 'only managers and admins read the audit log');
    end if;
    return json_build_object('entries', coalesce((
        select json_agg(json_build_object(
                   'id', a.id, 'at', a.at, 'staff_id', a.staff_id, 'staff_name', s.name,
                   'store_id', a.store_id, 'action', a.action, 'object_type', a.object_type,
                   'object_id', a.object_id, 'request_id', a.request_id) order by a.id desc)
        from (select * from audit_log a
              where (p_type is null or a.object_type = p_type)
                and (p_id is null or a.object_id = p_id)
                and (p_before is null or a.id < p_before)
                and (v_admin
                     or a.store_id in (select store_id from staff_roles
                                       where staff_id = p_actor and role = 'manager')
                     or (a.store_id is null
                         and a.staff_id in (select m.staff_id from staff_roles m
                                            where m.store_id in (select store_id from staff_roles
                                                                 where staff_id = p_actor
                                                                   and role = 'manager'))))
              order by a.id desc limit p_limit) a
        left join staff s on s.id = a.staff_id), '[]'::json));
end $$;

-- ---- PIN and shared tablets (README, Operations / staff) ----
-- The PIN is checked like a password: its argon2id hash is made and verified by carnetd on a
-- worker thread and only the hash comes here. Setting it takes the account's password, under
-- the same throttle as changing the password (staff_password_begin is step one); unlocking
-- counts its guesses as sign-in attempts of their own account tag ('pin:' and the email), so
-- wrong PINs are limited per account and per address like passwords without blocking the
-- password sign-in that follows five of them.

-- Setting a PIN, step two: p_ok says whether the password was right (a wrong one stays
-- recorded as a failed attempt, answered {"ok": false}).
create or replace function staff_pin_finish(p_staff bigint, p_ok boolean, p_verified_hash text,
                                 p_pin_hash text, p_address text, p_req text, p_key text)
returns json
language plpgsql as $$
begin
    if staff_password_verified(p_staff, p_ok, p_verified_hash, 'password', p_address, p_key) is null then
        return json_build_object('ok', false);
    end if;
    update staff set pin_hash = p_pin_hash where id = p_staff;
    update sessions set pin_failures = 0 where staff_id = p_staff;
    perform carnet_audit(p_staff, 'staff.pin_set', 'staff', p_staff::text, p_req);
    return json_build_object('ok', true);
end $$;

-- Locks the caller's own session now (the "switch" button of a shared tablet). Only someone
-- with a PIN can come back to a locked session, so without one this is refused.
create or replace function staff_session_lock(p_actor bigint, p_token_hash text, p_req text)
returns void
language plpgsql as $$
begin
    if not exists (select 1 from staff where id = p_actor and pin_hash is not null) then
        perform carnet_fail(409, 'no_pin', 'pin', 'set a PIN first, or sign out');
    end if;
    update sessions set locked_at = coalesce(locked_at, now())
    where token_hash = p_token_hash and staff_id = p_actor;
end $$;

-- Who can come back on this tablet with their PIN: the live sessions opened on it (by the hash
-- of its tablet cookie) of active staff who have a PIN. Only names: the list is shown on the
-- tablet's lock screen to whoever holds it.
create or replace function staff_tablet_list(p_tablet_hash text) returns json
language sql stable as $$
    select json_build_object('staff', coalesce(json_agg(json_build_object(
               'staff_id', st.id, 'name', st.name) order by lower(st.name), st.id), '[]'::json))
    from staff st
    where st.disabled_at is null and st.pin_hash is not null
      and exists (select 1 from sessions s where s.tablet_hash = p_tablet_hash
                  and s.staff_id = st.id and s.expires_at > now())
$$;

-- Unlocking, step one. The session is the caller's own (p_token_hash, when p_staff is null) or
-- p_staff's on this tablet (p_tablet_hash); either way it must not have expired, and its
-- account must be active and have a PIN, else 401 (a full sign-in is needed). Then the
-- throttle, and the attempt recorded as failed until step two says otherwise, as for sign-in.
create or replace function staff_unlock_begin(p_token_hash text, p_tablet_hash text, p_staff bigint,
                                   p_address text, p_key text) returns json
language plpgsql as $$
declare
    s sessions%rowtype;
    st staff%rowtype;
    v_mac text;
    v_addr text := auth_address_key(p_address);
    v_attempt bigint;
begin
    if p_staff is null then
        select * into s from sessions where token_hash = p_token_hash;
    else
        select * into s from sessions where tablet_hash = p_tablet_hash and staff_id = p_staff
        order by created_at desc limit 1;
    end if;
    if found then
        select * into st from staff where id = s.staff_id and disabled_at is null;
    end if;
    if s.token_hash is null or s.expires_at < now() or st.id is null or st.pin_hash is null then
        perform carnet_fail(401, 'unauthenticated', null, 'this session has ended: please sign in');
    end if;
    v_mac := login_mac('pin:' || st.email, p_key);
    perform pg_advisory_xact_lock(hashtext('login-email:' || v_mac));
    perform pg_advisory_xact_lock(hashtext('login-address:' || v_addr));
    perform auth_throttle(v_mac, v_addr, 'pin');
    insert into login_attempts (account_mac, address, ok) values (v_mac, v_addr, false)
    returning id into v_attempt;
    return json_build_object('attempt', v_attempt, 'session', s.token_hash, 'hash', st.pin_hash);
end $$;

-- Unlocking, step two. A right PIN (still the one verified) turns the attempt into a success
-- and gives the session a new token (p_new_token_hash: the old token may be gone with the
-- colleague who used the tablet since, and a token is never handed out twice). A wrong one
-- counts against the session: the fifth ends it. Answers {"ok": true, "staff": ...} or
-- {"ok": false, "ended": bool}.
create or replace function staff_unlock_finish(p_attempt bigint, p_session text, p_ok boolean,
                                    p_verified_hash text, p_new_token_hash text, p_req text)
returns json
language plpgsql as $$
declare
    c_max_failures constant int := 5;
    s sessions%rowtype;
    st staff%rowtype;
    v_failures int;
begin
    select * into s from sessions where token_hash = p_session for update;
    if found then
        select * into st from staff where id = s.staff_id and disabled_at is null for share;
    end if;
    if s.token_hash is null or s.expires_at < now() or st.id is null then
        perform carnet_fail(401, 'unauthenticated', null, 'this session has ended: please sign in');
    end if;
    if not p_ok or st.pin_hash is distinct from p_verified_hash then
        update sessions set pin_failures = pin_failures + 1, locked_at = coalesce(locked_at, now())
        where token_hash = p_session returning pin_failures into v_failures;
        if v_failures >= c_max_failures then
            delete from sessions where token_hash = p_session;
            perform carnet_audit(st.id, 'session.pin_lockout', 'staff', st.id::text, p_req);
            return json_build_object('ok', false, 'ended', true);
        end if;
        return json_build_object('ok', false, 'ended', false);
    end if;
    update login_attempts set ok = true where id = p_attempt;
    update sessions set token_hash = p_new_token_hash, locked_at = null, pin_failures = 0,
                        last_seen_at = now()
    where token_hash = p_session;
    perform carnet_audit(st.id, 'session.unlock', 'staff', st.id::text, p_req);
    return json_build_object('ok', true, 'staff', json_build_object(
        'staff_id', st.id, 'name', st.name, 'email', st.email, 'admin', st.is_admin));
end $$;
