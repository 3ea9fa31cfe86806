-- Core: stores, staff and their roles, sessions, login throttling, the audit log, and the error
-- convention every API function follows.
--
-- Errors: carnet_fail(status, code, field, message) raises SQLSTATE 'CA' || status with
-- MESSAGE = machine-readable code, DETAIL = offending field (or a JSON object of extras with a
-- "field" key), HINT = a sentence for people. carnetd turns that into the HTTP reply.

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
