-- Core: the error convention (carnet_fail), roles, staff sign-in and sessions, the audit log.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations. A changed argument list needs a migration that drops
-- the old signature first (see 008_api_functions.sql).

create or replace function carnet_fail(p_status int, p_code text, p_field text, p_message text)
returns void language plpgsql as $$
begin
    raise exception using errcode = 'CA' || p_status::text, message = p_code,
        detail = coalesce(p_field, ''), hint = p_message;
end $$;

-- The same, with extra JSON members merged into the error object (e.g. nearest free slots).
create or replace function carnet_fail_extra(p_status int, p_code text, p_field text, p_message text,
                                  p_extra jsonb)
returns void language plpgsql as $$
begin
    raise exception using errcode = 'CA' || p_status::text, message = p_code,
        detail = (coalesce(p_extra, '{}'::jsonb) || jsonb_build_object('field', p_field))::text,
        hint = p_message;
end $$;

create or replace function carnet_role_bit(p_role text) returns int
language sql immutable as $$
    select case p_role when 'specialist' then 1 when 'technician' then 2
                       when 'manager' then 4 else 0 end
$$;

create or replace function carnet_audit(p_staff bigint, p_action text, p_type text, p_id text, p_req text)
returns void language sql as $$
    insert into audit_log (staff_id, action, object_type, object_id, request_id)
    values (p_staff, p_action, p_type, p_id, p_req)
$$;

-- The audit row of a read, for an API function whose only write it is (and which no other
-- function calls): its transaction then commits without waiting for the WAL flush
-- (synchronous_commit off, for this transaction only), so a GET does not pay a disk flush. Such
-- a row may be lost in a crash within about three wal_writer_delay of its commit (README,
-- Personal data); a write's own audit row stays synchronous, as it goes through carnet_audit.
create or replace function carnet_audit_read(p_staff bigint, p_action text, p_type text,
                                             p_id text, p_req text)
returns void language plpgsql as $$
begin
    perform set_config('synchronous_commit', 'off', true);
    perform carnet_audit(p_staff, p_action, p_type, p_id, p_req);
end $$;

-- The principal behind a session, as JSON, or NULL when the session is unknown, expired, idle
-- too long, or its account is disabled. An idle session of someone who has a PIN is locked
-- instead of ended: the answer is then {"locked": true, ...} and only the PIN (staff_unlock_*)
-- opens it again, until its absolute expiry. last_seen_at moves once a tenth of the idle
-- timeout has passed (at most once a minute), so reads do not turn every request into a row
-- rewrite and a session in constant use never idles out.
-- The answer also says how long it may be trusted without asking again (carnetd's session cache,
-- server/authcache.c): idle_left, seconds until the idle limit counted from last_seen_at, and
-- expires_in, seconds until the absolute expiry.
create or replace function auth_session(p_token_hash text, p_idle_seconds int) returns json
language plpgsql as $$
declare
    s sessions%rowtype;
    st staff%rowtype;
begin
    select * into s from sessions where token_hash = p_token_hash;
    if not found or s.expires_at < now() then
        return null;
    end if;
    select * into st from staff where id = s.staff_id and disabled_at is null;
    if not found then
        return null;
    end if;
    if s.locked_at is not null or s.last_seen_at < now() - make_interval(secs => p_idle_seconds) then
        if st.pin_hash is null then
            return null;
        end if;
        if s.locked_at is null then
            update sessions set locked_at = now() where token_hash = p_token_hash;
        end if;
        return json_build_object('locked', true, 'staff_id', st.id);
    end if;
    if s.last_seen_at < now() - least(interval '1 minute',
                                      make_interval(secs => p_idle_seconds / 10.0)) then
        update sessions set last_seen_at = now() where token_hash = p_token_hash;
        s.last_seen_at := now();
    end if;
    return json_build_object(
        'staff_id', st.id, 'name', st.name, 'email', st.email, 'admin', st.is_admin,
        'desk', s.desk,
        'idle_left', floor(p_idle_seconds - extract(epoch from now() - s.last_seen_at))::int,
        'expires_in', floor(extract(epoch from s.expires_at - now()))::int,
        'stores', coalesce((select json_agg(json_build_object('store_id', store_id,
                                                              'roles', roles) order by store_id)
                            from (select store_id, sum(carnet_role_bit(role))::int as roles
                                  from staff_roles where staff_id = st.id
                                  group by store_id) x), '[]'::json));
end $$;

-- Every change that alters what auth_session answers for a session tells each carnetd's session
-- cache (server/authcache.c) on channel carnet_auth: "t:<token hash>" for one session, "s:<staff
-- id>" for all of a staff member's. A session's own last_seen_at moving forward (the bump above)
-- alters nothing cached and stays quiet; moving it back (never done by carnetd) is a change.
create or replace function auth_notify_session() returns trigger
language plpgsql as $$
begin
    perform pg_notify('carnet_auth', 't:' || old.token_hash);
    return null;
end $$;

create or replace function auth_notify_staff() returns trigger
language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        perform pg_notify('carnet_auth', 's:' || old.staff_id);
    else
        perform pg_notify('carnet_auth', 's:' || new.staff_id);
        if tg_op = 'UPDATE' and new.staff_id <> old.staff_id then
            perform pg_notify('carnet_auth', 's:' || old.staff_id);
        end if;
    end if;
    return null;
end $$;

create or replace function auth_notify_staff_row() returns trigger
language plpgsql as $$
begin
    perform pg_notify('carnet_auth', 's:' || old.id);
    return null;
end $$;

create or replace trigger sessions_auth_delete after delete on sessions
    for each row execute function auth_notify_session();
create or replace trigger sessions_auth_update after update on sessions
    for each row when (new.last_seen_at < old.last_seen_at
                       or to_jsonb(old) - 'last_seen_at' is distinct from to_jsonb(new) - 'last_seen_at')
    execute function auth_notify_session();
create or replace trigger staff_auth_update after update on staff
    for each row when (old is distinct from new) execute function auth_notify_staff_row();
create or replace trigger staff_roles_auth after insert or update or delete on staff_roles
    for each row execute function auth_notify_staff();

-- Sign-in throttling, without lock-out. Every rule counts failed attempts of the last 15
-- minutes; an attempt counts as failed from the moment it begins until its password proves
-- right, so parallel guesses cannot all slip under a limit, and a refused attempt is not
-- recorded at all, so hammering on a closed door does not keep it closed.
--   * per (account, address): 5 failures, then that address waits until the oldest of them
--     leaves the window (Retry-After says how long). Failures before the pair's last success
--     do not count: the right password showed they were the owner's typos;
--   * per address, across accounts: 30 failures, then the same;
--   * per account: once the account has 5 failures from anywhere, an address that has itself
--     failed on it at least twice (since its last success there) waits 2^(n-5) seconds after
--     its own last failure (n: the account's failures), 30 s at most. The account's count sets the pace, but the wait runs
--     from the address's own failure, so nobody else's guesses can hold it longer than 30 s.
-- An address that has not been failing is refused by none of them: whoever guesses from
-- elsewhere, the owner with the right password gets in. Raises 429 `throttled` on p_field with
-- retry_after (seconds). The caller holds the account's and the address's advisory locks.
-- The tag a sign-in attempt keeps of the account it was for (see migration 023): p_key is
-- carnetd's, derived from the data key, and passed with each call; nothing here stores it.
create or replace function login_mac(p_email text, p_key text) returns text
language sql immutable as $$
    select encode(sha256(decode(p_key, 'hex') || convert_to(lower(btrim(p_email)), 'UTF8')),
                  'hex')
$$;

create or replace function auth_throttle(p_mac text, p_address text, p_field text)
returns void language plpgsql as $$
declare
    c_window constant interval := interval '15 minutes';
    c_pair_limit constant int := 5;
    c_address_limit constant int := 30;
    c_account_slow_after constant int := 5;
    c_pace_cap_seconds constant int := 30;
    v_until timestamptz;
    v_at timestamptz;
    v_last_ok bigint;
    v_account int;
    v_mine int;
    v_my_last timestamptz;
begin
    v_last_ok := coalesce((select max(id) from login_attempts
                           where account_mac = p_mac and address = p_address and ok
                             and at > now() - c_window), 0);
    select at into v_at from login_attempts
    where account_mac = p_mac and address = p_address and not ok
      and at > now() - c_window and id > v_last_ok
    order by at desc offset c_pair_limit - 1 limit 1;
    if found then
        v_until := v_at + c_window;
    end if;
    select at into v_at from login_attempts
    where address = p_address and not ok and at > now() - c_window
    order by at desc offset c_address_limit - 1 limit 1;
    if found then
        v_until := greatest(v_until, v_at + c_window);
    end if;
    select count(*), count(*) filter (where address = p_address and id > v_last_ok),
           max(at) filter (where address = p_address)
    into v_account, v_mine, v_my_last
    from login_attempts
    where account_mac = p_mac and not ok and at > now() - c_window;
    if v_account >= c_account_slow_after and v_mine >= 2 then
        v_until := greatest(v_until, v_my_last + make_interval(
            secs => least(c_pace_cap_seconds,
                          2 ^ least(v_account - c_account_slow_after, 16))));
    end if;
    if v_until > now() then
        perform carnet_fail_extra(429, 'throttled', p_field,
            'too many failed sign-ins from your address: try again later',
            jsonb_build_object('retry_after', ceil(extract(epoch from v_until - now()))::int));
    end if;
end $$;

-- Step one of a login: refuse when throttled, record the attempt (as failed until step two
-- says otherwise), and hand back its id and the stored hash to verify off the database. The
-- throttle and the record happen together under a lock per account and per address, so
-- parallel guesses cannot all pass the limits. staff_id and hash are null for an unknown or
-- disabled account (the caller then verifies a dummy hash); the attempt counts all the same.
-- The address the limits count for a TCP peer: an IPv4 address (an IPv4-mapped IPv6 one as
-- its IPv4), or an IPv6 address's /64. One host is handed a whole /64, so counting each of its
-- 2^64 addresses apart would give it unlimited fresh addresses, each with its own guesses.
-- Anything that is no address is counted as given.
create or replace function auth_address_key(p_address text) returns text
language plpgsql immutable as $$
declare
    a inet;
begin
    begin
        a := p_address::inet;
    exception when others then
        return p_address;
    end;
    if family(a) = 4 then
        return host(a);
    elsif a << '::ffff:0:0/96'::inet then
        return host(('0.0.0.0'::inet + (a - '::ffff:0:0'::inet)));
    end if;
    return network(set_masklen(a, 64))::text;
end $$;

create or replace function auth_login_begin(p_email text, p_address text, p_key text)
returns json
language plpgsql as $$
declare
    st staff%rowtype;
    v_attempt bigint;
    v_mac text := login_mac(p_email, p_key);
    v_addr text := auth_address_key(p_address);
begin
    -- Always the account's lock first, then the address's: no two sign-ins wait on each other
    -- in opposite orders.
    perform pg_advisory_xact_lock(hashtext('login-email:' || v_mac));
    perform pg_advisory_xact_lock(hashtext('login-address:' || v_addr));
    perform auth_throttle(v_mac, v_addr, 'email');
    insert into login_attempts (account_mac, address, ok) values (v_mac, v_addr, false)
    returning id into v_attempt;
    select * into st from staff where lower(email) = lower(p_email) and disabled_at is null;
    return json_build_object('attempt', v_attempt, 'staff_id', st.id, 'hash', st.password_hash);
end $$;

-- An attempt whose password was never checked (carnetd could not queue the check) is no guess:
-- it goes, rather than stand as a failure against its account and address.
create or replace function auth_login_void(p_attempt bigint) returns void
language sql as $$
    delete from login_attempts where id = p_attempt and not ok
$$;

-- Step two, on success: attempt p_attempt becomes a success and the session opens, but only if
-- the password hash is still the one carnetd verified: a reset that committed during the check
-- must not let the old password in. p_tablet_hash is the hash of the browser's tablet cookie
-- (NULL for API clients): the tablet keeps one session per staff member, so an older one of the
-- same person on the same tablet ends here.
create or replace function auth_login_finish(p_attempt bigint, p_staff bigint, p_token_hash text,
                                  p_ttl_seconds int, p_verified_hash text, p_tablet_hash text)
returns json
language plpgsql as $$
declare
    st staff%rowtype;
begin
    -- FOR SHARE: a disable or reset that commits meanwhile either waits for this session to
    -- exist (and then deletes it) or is seen here (and no session opens).
    select * into st from staff where id = p_staff and disabled_at is null for share;
    if not found or st.password_hash is distinct from p_verified_hash then
        return null;
    end if;
    -- The attempt auth_login_begin recorded for this very sign-in (carnetd hands back its id).
    update login_attempts set ok = true where id = p_attempt;
    if p_tablet_hash is not null then
        delete from sessions where tablet_hash = p_tablet_hash and staff_id = p_staff;
    end if;
    insert into sessions (token_hash, staff_id, expires_at, tablet_hash)
    values (p_token_hash, p_staff, now() + make_interval(secs => p_ttl_seconds), p_tablet_hash);
    perform carnet_audit(p_staff, 'login', 'staff', p_staff::text, null);
    return json_build_object('staff_id', st.id, 'name', st.name, 'email', st.email,
                             'admin', st.is_admin);
end $$;

create or replace function auth_logout(p_token_hash text) returns void
language sql as $$
    delete from sessions where token_hash = p_token_hash
$$;

-- Store scoping for functions whose store is implied by the object (an appointment, a repair):
-- true when the staff member is an admin or holds one of p_roles in p_store.
create or replace function carnet_staff_can(p_staff bigint, p_store bigint, p_roles text[]) returns boolean
language sql stable as $$
    select exists (select 1 from staff where id = p_staff and disabled_at is null and is_admin)
        or exists (select 1 from staff_roles r join staff s on s.id = r.staff_id
                   where r.staff_id = p_staff and r.store_id = p_store and s.disabled_at is null
                     and r.role = any (p_roles))
$$;

create or replace function carnet_require(p_staff bigint, p_store bigint, p_roles text[]) returns void
language plpgsql stable as $$
begin
    if not carnet_staff_can(p_staff, p_store, p_roles) then
        perform carnet_fail(403, 'forbidden', null, 'your role does not allow this in that store');
    end if;
end $$;
