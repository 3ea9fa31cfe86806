-- Booking: store opening hours and closures, services, staff skills and shifts, appointments,
-- availability, and the functions behind every booking endpoint.
--
-- The promise "no slot is booked beyond its capacity" is kept by PostgreSQL, not by callers:
-- every appointment is assigned to one concrete staff member, and an exclusion constraint forbids
-- two active appointments of one staff member from overlapping (including the service's buffer).
-- Capacity then falls out: a slot has as many places as there are qualified staff members on
-- shift and free for [start, end + buffer). Booking functions serialise per store with a
-- transaction advisory lock so concurrent requests pick staff members one after another instead
-- of colliding in the constraint (concurrent conflicting inserts into an exclusion constraint
-- wait on each other and can deadlock); the constraint stays the last line of defence.
--
-- Times are timestamptz (UTC inside). The slot grid is built in absolute time between the
-- opening and closing instants of each local day, so a day with a DST change has exactly the
-- slots its real length allows. Replies are rendered in the store's time zone (set_config of
-- TimeZone, local to the transaction that each API call is).

create extension if not exists btree_gist;

-- Opening hours, per ISO weekday (1 = Monday .. 7 = Sunday), in the store's local time. Several
-- rows per day allow a lunch break.
create table store_hours (
    store_id bigint not null references stores(id) on delete cascade,
    weekday int not null check (weekday between 1 and 7),
    opens time not null,
    closes time not null,
    primary key (store_id, weekday, opens),
    check (opens < closes)
);

-- Whole local days when a store is closed (holidays, works).
create table store_closures (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id) on delete cascade,
    day date not null,
    reason text not null default '' check (length(reason) <= 200),
    unique (store_id, day)
);

create table services (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id) on delete cascade,
    name text not null check (length(name) between 1 and 100),
    duration_min int not null check (duration_min between 5 and 480),
    skill text not null check (skill ~ '^[a-z][a-z_]{1,31}$'),
    buffer_min int not null default 0 check (buffer_min between 0 and 240),
    active boolean not null default true,
    unique (store_id, name)
);

-- What a staff member may do in a store ('repair', 'diagnostics', 'setup', ...).
create table staff_skills (
    staff_id bigint not null references staff(id) on delete cascade,
    store_id bigint not null references stores(id) on delete cascade,
    skill text not null check (skill ~ '^[a-z][a-z_]{1,31}$'),
    primary key (staff_id, store_id, skill)
);
create index staff_skills_store_idx on staff_skills (store_id, skill);

-- When a staff member works where. One person cannot be on two shifts at once, in any store.
create table shifts (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id) on delete cascade,
    staff_id bigint not null references staff(id) on delete cascade,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    check (ends_at > starts_at and ends_at <= starts_at + interval '24 hours'),
    constraint shifts_no_overlap
        exclude using gist (staff_id with =, tstzrange(starts_at, ends_at) with &&)
);
create index shifts_store_idx on shifts (store_id, starts_at);

-- Appointment life cycle (include/booking.h mirrors it): booked -> checked_in -> in_service ->
-- done; or cancelled; or no_show. Only the first three hold a staff member's time.
create table appointments (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id),
    service_id bigint not null references services(id),
    staff_id bigint not null references staff(id),
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    -- ends_at plus the service's buffer: the staff member's time this booking holds.
    blocked_until timestamptz not null,
    status text not null default 'booked'
        check (status in ('booked', 'checked_in', 'in_service', 'done', 'cancelled', 'no_show')),
    code text not null check (code ~ '^[2-9A-HJKMNP-Z]{6}$'),
    customer_name text not null check (length(customer_name) between 1 and 200),
    customer_email text check (length(customer_email) between 3 and 254),
    customer_phone text check (customer_phone ~ '^\+[0-9]{7,15}$'),
    device_serial text check (device_serial ~ '^[0-9A-Z]{5,32}$'),
    problem text not null default '' check (length(problem) <= 2000),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    cancelled_at timestamptz,
    cancelled_by bigint references staff(id),
    checked_in_at timestamptz,
    service_started_at timestamptz,
    done_at timestamptz,
    no_show_at timestamptz,
    check (customer_email is not null or customer_phone is not null),
    check (ends_at > starts_at and blocked_until >= ends_at),
    constraint appointments_no_double_booking
        exclude using gist (staff_id with =, tstzrange(starts_at, blocked_until) with &&)
        where (status in ('booked', 'checked_in', 'in_service'))
);
create index appointments_store_day_idx on appointments (store_id, starts_at);
create index appointments_serial_idx on appointments (device_serial) where device_serial is not null;
-- Device search finds a device by the contact details its customer booked with (003).
create index appointments_device_email_idx on appointments (lower(customer_email))
    where device_serial is not null;
create index appointments_device_phone_idx on appointments (customer_phone)
    where device_serial is not null;
-- A confirmation code names one live booking; finished ones may share it with a new one.
create unique index appointments_code_key on appointments (code)
    where (status in ('booked', 'checked_in', 'in_service'));

-- Private customer links. Only the hash of the token is stored; one token, one appointment, one
-- purpose.
create table appointment_tokens (
    token_hash text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
    appointment_id bigint not null references appointments(id) on delete cascade,
    purpose text not null check (purpose in ('manage')),
    expires_at timestamptz not null,
    created_at timestamptz not null default now()
);
create index appointment_tokens_appt_idx on appointment_tokens (appointment_id);

-- First result of each idempotent booking request, replayed to retries with the same key. The
-- key is stored hashed (with its store); the manage token of a success is stored only sealed
-- with a key derived from the Idempotency-Key itself (by carnetd), so this table opens no link.
create table booking_idempotency (
    key_hash text primary key,
    request_hash text not null,
    status int not null,
    body jsonb not null,
    sealed_token text,
    created_at timestamptz not null default now()
);
create index booking_idempotency_created_idx on booking_idempotency (created_at);
