-- The store floor: who is in the store today (visits), the walk-in line and "call next", wait
-- estimates from measured service times, and the event log that feeds live streams.
--
-- Every change on the floor writes one row into `events` in the same transaction and notifies
-- channel carnet_events with {"id","topic"}; carnetd's SSE module listens on that channel and
-- reads the rows back, so a change made through one carnetd reaches the clients of every other.
-- Events of one topic are written under a transaction-scoped advisory lock on the topic: ids of a
-- topic therefore become visible in increasing order, and a reader that remembers the last id it
-- saw (Last-Event-ID) never skips a row that commits late.

-- Per-store floor rules; a store without a row uses the defaults of floor_cfg().
create table floor_settings (
    store_id bigint primary key references stores(id) on delete cascade,
    -- how early before the appointment a booked customer may check in
    checkin_early_min int not null default 30 check (checkin_early_min between 0 and 240),
    -- how late after the start they may still check in; past it the booking becomes a no-show
    checkin_late_min int not null default 15 check (checkin_late_min between 0 and 240),
    -- the service time assumed while the store has no measured visits yet
    default_service_s int not null default 900 check (default_service_s between 60 and 14400),
    -- how many recent finished visits the measured service time averages
    service_sample int not null default 20 check (service_sample between 1 and 500),
    -- the walk-in line refuses joins past this many people waiting (a public endpoint)
    line_max int not null default 200 check (line_max between 1 and 2000)
);

create table floor_tickets (
    store_id bigint not null references stores(id) on delete cascade,
    day date not null,
    last int not null,
    primary key (store_id, day)
);

-- Visit states (design.md): waiting -> called -> in_service -> done, or left. Allowed moves are
-- written once, in floor_visit_move().
create table visits (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id),
    appointment_id bigint,
    kind text not null check (kind in ('booked', 'walk_in')),
    day date not null,
    ticket int not null,
    name text not null check (length(btrim(name)) between 1 and 100),
    contact text check (length(contact) <= 200),
    party int not null default 1 check (party between 1 and 10),
    status text not null default 'waiting'
        check (status in ('waiting', 'called', 'in_service', 'done', 'left')),
    due_at timestamptz,            -- the appointment's start, for booked visits
    arrived_at timestamptz not null default now(),
    queued_at timestamptz not null default now(), -- the place in line (skip moves it back)
    called_at timestamptz,
    service_started_at timestamptz,
    done_at timestamptz,
    left_at timestamptz,
    specialist_id bigint references staff(id),
    skips int not null default 0,
    line_token_hash text unique,
    -- The device the customer came about (their booking's, or given when joining the line): the
    -- visit is written to its health record (003) when it starts and when it is done.
    device_serial text check (device_serial ~ '^[A-Z0-9]{5,32}$'),
    unique (store_id, day, ticket),
    check ((kind = 'booked') = (due_at is not null))
);
create index visits_waiting_idx on visits (store_id, queued_at) where status = 'waiting';
create index visits_store_day_idx on visits (store_id, day);
create index visits_service_idx on visits (store_id, done_at desc)
    where status = 'done' and service_started_at is not null;
create unique index visits_appointment_key on visits (appointment_id) where appointment_id is not null;

create table events (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id) on delete cascade,
    topic text not null,
    type text not null,
    payload jsonb not null,
    at timestamptz not null default now()
);
create index events_topic_idx on events (topic, id);

-- ---- check-in of booked customers (appointments: schema/002_booking.sql) ----

alter table visits add constraint visits_appointment_fk
    foreign key (appointment_id) references appointments(id);

-- ---- standby: a full day's waiting list for freed slots ----
--
-- A customer who finds no slot on a day joins that day's standby list for a service. When a
-- booking of that store, service and day is cancelled or moved, the freed slot is recorded
-- (trigger) and
-- the standby job offers it to the first customer waiting: it books the slot for them at once,
-- as a placeholder appointment, so the no-double-booking constraint holds it; the customer
-- claims it within the hold (carnetd's standby_hold_s) or the job cancels the placeholder,
-- which frees the slot again for the next one.

create table standby (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id),
    service_id bigint not null references services(id),
    day date not null,
    name text not null check (length(btrim(name)) between 1 and 200),
    email text check (length(email) between 3 and 254 and email like '%_@_%'),
    phone text check (phone ~ '^\+[0-9]{7,15}$'),
    status text not null default 'waiting'
        check (status in ('waiting', 'offered', 'booked', 'expired', 'left')),
    token_hash text not null unique,
    created_at timestamptz not null default now(),
    offered_appointment_id bigint references appointments(id),
    offered_at timestamptz,
    offer_expires_at timestamptz,
    check (email is not null or phone is not null),
    check ((status = 'offered') = (offer_expires_at is not null))
);
create index standby_waiting_idx on standby (store_id, service_id, day, created_at)
    where status = 'waiting';
create index standby_offered_idx on standby (offer_expires_at) where status = 'offered';

-- Slots freed by a cancellation or a move, waiting for the standby job to offer them.
create table standby_slots (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id) on delete cascade,
    service_id bigint not null references services(id) on delete cascade,
    staff_id bigint not null references staff(id) on delete cascade,
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    blocked_until timestamptz not null,
    freed_at timestamptz not null default now()
);
