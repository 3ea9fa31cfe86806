-- Core: stores, staff and their roles, sessions, login throttling, the audit log, and the error
-- convention every API function follows.
--
-- Errors: carnet_fail(status, code, field, message) raises SQLSTATE 'CA' || status with
-- MESSAGE = machine-readable code, DETAIL = offending field (or a JSON object of extras with a
-- "field" key), HINT = a sentence for people. carnetd turns that into the HTTP reply.

create function carnet_fail(p_status int, p_code text, p_field text, p_message text)
returns void language plpgsql as $$
begin
    raise exception using errcode = 'CA' || p_status::text, message = p_code,
        detail = coalesce(p_field, ''), hint = p_message;
end $$;

-- The same, with extra JSON members merged into the error object (e.g. nearest free slots).
create function carnet_fail_extra(p_status int, p_code text, p_field text, p_message text,
                                  p_extra jsonb)
returns void language plpgsql as $$
begin
    raise exception using errcode = 'CA' || p_status::text, message = p_code,
        detail = (coalesce(p_extra, '{}'::jsonb) || jsonb_build_object('field', p_field))::text,
        hint = p_message;
end $$;

create function carnet_is_timezone(p_tz text) returns boolean
language plpgsql stable as $$
begin
    perform now() at time zone p_tz;
    return true;
exception when others then
    return false;
end $$;

create table stores (
    id bigint generated always as identity primary key,
    code text not null unique check (code ~ '^[a-z0-9-]{2,32}$'),
    name text not null check (length(name) between 1 and 200),
    timezone text not null check (carnet_is_timezone(timezone)),
    created_at timestamptz not null default now()
);

create table staff (
    id bigint generated always as identity primary key,
    email text not null check (length(email) between 3 and 254),
    name text not null check (length(name) between 1 and 200),
    password_hash text not null,
    is_admin boolean not null default false,
    disabled_at timestamptz,
    created_at timestamptz not null default now()
);
create unique index staff_email_key on staff (lower(email));

-- Role bits match enum role in include/router.h.
create table staff_roles (
    staff_id bigint not null references staff(id) on delete cascade,
    store_id bigint not null references stores(id) on delete cascade,
    role text not null check (role in ('specialist', 'technician', 'manager')),
    primary key (staff_id, store_id, role)
);

create function carnet_role_bit(p_role text) returns int
language sql immutable as $$
    select case p_role when 'specialist' then 1 when 'technician' then 2
                       when 'manager' then 4 else 0 end
$$;

create table sessions (
    token_hash text primary key,
    staff_id bigint not null references staff(id) on delete cascade,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    expires_at timestamptz not null
);
create index sessions_staff_idx on sessions (staff_id);

create table login_attempts (
    id bigint generated always as identity primary key,
    email text not null,
    address text not null,
    ok boolean not null,
    at timestamptz not null default now()
);
create index login_attempts_email_idx on login_attempts (lower(email), at);
create index login_attempts_address_idx on login_attempts (address, at);

-- Who read or changed what. Append-only: no update or delete is granted by the API.
create table audit_log (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    staff_id bigint references staff(id),
    action text not null,
    object_type text not null,
    object_id text,
    request_id text
);
create index audit_log_object_idx on audit_log (object_type, object_id, at);

create function carnet_audit(p_staff bigint, p_action text, p_type text, p_id text, p_req text)
returns void language sql as $$
    insert into audit_log (staff_id, action, object_type, object_id, request_id)
    values (p_staff, p_action, p_type, p_id, p_req)
$$;

-- The principal behind a session, as JSON, or NULL when the session is unknown, expired, idle
-- too long, or its account is disabled. last_seen_at moves once a tenth of the idle timeout has
-- passed (at most once a minute), so reads do not turn every request into a row rewrite and a
-- session in constant use never idles out.
create function auth_session(p_token_hash text, p_idle_seconds int) returns json
language plpgsql as $$
declare
    s sessions%rowtype;
    st staff%rowtype;
begin
    select * into s from sessions where token_hash = p_token_hash;
    if not found or s.expires_at < now()
       or s.last_seen_at < now() - make_interval(secs => p_idle_seconds) then
        return null;
    end if;
    select * into st from staff where id = s.staff_id and disabled_at is null;
    if not found then
        return null;
    end if;
    if s.last_seen_at < now() - least(interval '1 minute',
                                      make_interval(secs => p_idle_seconds / 10.0)) then
        update sessions set last_seen_at = now() where token_hash = p_token_hash;
    end if;
    return json_build_object(
        'staff_id', st.id, 'name', st.name, 'email', st.email, 'admin', st.is_admin,
        'stores', coalesce((select json_agg(json_build_object('store_id', store_id,
                                                              'roles', roles) order by store_id)
                            from (select store_id, sum(carnet_role_bit(role))::int as roles
                                  from staff_roles where staff_id = st.id
                                  group by store_id) x), '[]'::json));
end $$;

-- Step one of a login: refuse when throttled, record the attempt (as failed until step two
-- says otherwise), and hand back the stored hash to verify off the database. The count and the
-- record happen together under a lock per account and per address, so parallel guesses cannot
-- all pass the "fewer than 5 failures" test. NULL for an unknown or disabled account (the
-- caller then verifies a dummy hash).
create function auth_login_begin(p_email text, p_address text) returns json
language plpgsql as $$
declare
    st staff%rowtype;
begin
    -- Always the account's lock first, then the address's: no two sign-ins wait on each other
    -- in opposite orders.
    perform pg_advisory_xact_lock(hashtext('login-email:' || lower(p_email)));
    perform pg_advisory_xact_lock(hashtext('login-address:' || p_address));
    if (select count(*) from login_attempts
        where lower(email) = lower(p_email) and not ok
          and at > now() - interval '15 minutes') >= 5 then
        perform carnet_fail(429, 'throttled', 'email',
            'too many failed sign-ins for this account: wait 15 minutes');
    end if;
    if (select count(*) from login_attempts
        where address = p_address and not ok and at > now() - interval '15 minutes') >= 30 then
        perform carnet_fail(429, 'throttled', null,
            'too many failed sign-ins from this address: wait 15 minutes');
    end if;
    insert into login_attempts (email, address, ok) values (p_email, p_address, false);
    select * into st from staff where lower(email) = lower(p_email) and disabled_at is null;
    if not found then
        return null;
    end if;
    return json_build_object('staff_id', st.id, 'hash', st.password_hash);
end $$;

-- Step two, on success (p_staff not null): one pending attempt becomes a success and the
-- session opens, but only if the password hash is still the one carnetd verified: a reset that
-- committed during the check must not let the old password in. FOR SHARE makes a disable or
-- reset that commits meanwhile either wait for this session (and then delete it) or be seen.
create function auth_login_finish(p_email text, p_staff bigint, p_token_hash text,
                                  p_address text, p_ttl_seconds int, p_verified_hash text)
returns json
language plpgsql as $$
declare
    st staff%rowtype;
begin
    if p_staff is null then
        return null;
    end if;
    -- FOR SHARE: a disable or reset that commits meanwhile either waits for this session to
    -- exist (and then deletes it) or is seen here (and no session opens).
    select * into st from staff where id = p_staff and disabled_at is null for share;
    if not found or st.password_hash is distinct from p_verified_hash then
        return null;
    end if;
    update login_attempts set ok = true
    where id = (select max(id) from login_attempts
                where lower(email) = lower(p_email) and address = p_address and not ok);
    insert into sessions (token_hash, staff_id, expires_at)
    values (p_token_hash, p_staff, now() + make_interval(secs => p_ttl_seconds));
    perform carnet_audit(p_staff, 'login', 'staff', p_staff::text, null);
    return json_build_object('staff_id', st.id, 'name', st.name, 'email', st.email,
                             'admin', st.is_admin);
end $$;

create function auth_logout(p_token_hash text) returns void
language sql as $$
    delete from sessions where token_hash = p_token_hash
$$;

create function job_expire_sessions() returns int
language plpgsql as $$
declare
    n int;
begin
    delete from sessions where expires_at < now() - interval '1 day';
    get diagnostics n = row_count;
    delete from login_attempts where at < now() - interval '7 days';
    return n;
end $$;

-- Store scoping for functions whose store is implied by the object (an appointment, a repair):
-- true when the staff member is an admin or holds one of p_roles in p_store.
create function carnet_staff_can(p_staff bigint, p_store bigint, p_roles text[]) returns boolean
language sql stable as $$
    select exists (select 1 from staff where id = p_staff and disabled_at is null and is_admin)
        or exists (select 1 from staff_roles r join staff s on s.id = r.staff_id
                   where r.staff_id = p_staff and r.store_id = p_store and s.disabled_at is null
                     and r.role = any (p_roles))
$$;

create function carnet_require(p_staff bigint, p_store bigint, p_roles text[]) returns void
language plpgsql stable as $$
begin
    if not carnet_staff_can(p_staff, p_store, p_roles) then
        perform carnet_fail(403, 'forbidden', null, 'your role does not allow this in that store');
    end if;
end $$;
