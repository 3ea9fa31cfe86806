-- Devices and their health record: serial numbers, owners, diagnostics, repair orders, customer
-- links, and the append-only, hash-chained record every domain writes to.
--
-- THE HEALTH RECORD (record_entries) is one append-only table. Every fact about a device that
-- people read later (a diagnostic session, a repair opened or moved, a note, a message, an
-- appointment, a visit, an owner change, a correction) is one entry. Other domains add entries
-- with record_append():
--
--   record_append(p_device bigint,     -- devices.id (device_ensure(serial) gives it)
--                 p_kind text,         -- what happened: ^[a-z][a-z_]{1,31}$, e.g. 'appointment'
--                 p_content jsonb,     -- a JSON object; never personal data (names, emails,
--                                      -- phones): it can never be erased from the chain
--                 p_actor bigint,      -- staff.id, or NULL when the customer/system acted
--                 p_store bigint,      -- the store where it happened, or NULL
--                 p_ref_type text,     -- the object it is about ('repair', 'appointment', ...)
--                 p_ref_id bigint,     -- and its id
--                 p_corrects bigint)   -- an earlier entry of the same device this one corrects
--     returns record_entries           -- the stored row (id, at, hash ...)
--
-- Kinds written here: device_update, owner_change, diagnostic, note, correction, repair_opened,
-- repair_state, repair_estimate, estimate_approved, estimate_declined, repair_part, repair_note,
-- repair_promise. Kinds other domains write: appointment (002: booked and each later step),
-- visit (004: started and done), message (006; customer-facing, shown on the repair-status page
-- when ref_type = 'repair').
--
-- Entries with a store_id count as "business" of the device's owner in that store: staff of that
-- store see the owner's name, email and phone on the record (see device_owner_visible).
--
-- HASH CHAIN. Each entry stores prev_hash (the previous entry's hash for the same device, 32 zero
-- bytes for the first) and hash = SHA-256(prev_hash || record_canonical(entry)), where the
-- canonical text is a jsonb object of every column but the hashes (jsonb text output is
-- deterministic: keys sorted, no insignificant spaces; the time is integer microseconds so the
-- session time zone cannot change it). A BEFORE INSERT trigger computes both under a lock on the
-- device row, and only then takes the entry's id from the sequence, so per device the chain
-- order is the id order even when appends race, and a write stays one transaction. carnetd
-- verifies a chain with libsodium (crypto_hash_sha256) from the stored columns, independently of
-- the SQL that wrote it: GET /api/devices/{serial}/verify names the first entry that does not
-- match. Computing the hash in C at write time would need the previous hash first: two round
-- trips and a lock held across them, for no gain in what the verification proves.
--
-- UPDATE, DELETE and TRUNCATE on record_entries raise: history is corrected by appending an
-- entry whose `corrects` points at the old one.

-- Luhn check digit test for an all-digit string (IMEI numbers carry one).
create function device_luhn(p text) returns boolean
language sql immutable strict as $$
    select case when p !~ '^[0-9]+$' then false else (
        select sum(case when (length(p) - i) % 2 = 1
                        then (d * 2) / 10 + (d * 2) % 10 else d end) % 10 = 0
        from (select i, substr(p, i, 1)::int as d from generate_series(1, length(p)) i) x) end
$$;

create table devices (
    id bigint generated always as identity primary key,
    -- "C" collation: the unique index then also serves prefix searches (serial like 'ABC%').
    serial text collate "C" not null unique
        check (serial ~ '^[A-Z0-9]{5,32}$' and (serial !~ '^[0-9]{15}$' or device_luhn(serial))),
    model text check (length(model) between 1 and 200),
    warranty_end date,
    created_at timestamptz not null default now(),
    -- Head of the hash chain: the last entry's hash (zeros before the first entry).
    head_hash bytea not null default '\x0000000000000000000000000000000000000000000000000000000000000000'
        check (length(head_hash) = 32),
    head_entry bigint
);

-- Owner history: a device changes hands; the record stays with the device. Personal data lives
-- here (not in the chain) so it can be shown only to those allowed, and erased if needed.
create table device_owners (
    id bigint generated always as identity primary key,
    device_id bigint not null references devices(id),
    name text not null check (length(name) between 1 and 200),
    email text check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 254),
    phone text check (phone ~ '^\+?[0-9]{6,15}$'),
    since timestamptz not null default now(),
    until timestamptz,
    check (until is null or until >= since)
);
create index device_owners_device_idx on device_owners (device_id, since desc);
create unique index device_owners_current_key on device_owners (device_id) where until is null;
create index device_owners_email_idx on device_owners (lower(email));
create index device_owners_phone_idx on device_owners (phone);

-- Ids come from this sequence inside the insert trigger, under the device lock (see above).
create sequence record_entries_id_seq as bigint;
create table record_entries (
    id bigint primary key,
    device_id bigint not null references devices(id),
    kind text not null check (kind ~ '^[a-z][a-z_]{1,31}$'),
    store_id bigint references stores(id),
    ref_type text check (ref_type ~ '^[a-z][a-z_]{1,31}$'),
    ref_id bigint,
    content jsonb not null default '{}' check (jsonb_typeof(content) = 'object'),
    corrects bigint references record_entries(id),
    actor bigint references staff(id),
    at timestamptz not null default now(),
    prev_hash bytea not null check (length(prev_hash) = 32),
    hash bytea not null check (length(hash) = 32),
    check ((ref_type is null) = (ref_id is null))
);
-- The health record read: newest first per device, keyset-paginated on (device_id, id desc).
create index record_entries_device_idx on record_entries (device_id, id desc);
create index record_entries_ref_idx on record_entries (ref_type, ref_id) where ref_type is not null;
create index record_entries_corrects_idx on record_entries (corrects) where corrects is not null;
create index record_entries_store_idx on record_entries (device_id, store_id, at)
    where store_id is not null;

-- ---------------------------------------------------------------------------------------------
-- Diagnostics

create table diagnostic_sessions (
    id bigint generated always as identity primary key,
    device_id bigint not null references devices(id),
    store_id bigint not null references stores(id),
    source text not null check (source in ('manual', 'import')),
    tool text check (length(tool) <= 200),
    performed_at timestamptz not null,
    actor bigint references staff(id),
    entry_id bigint not null references record_entries(id)
);
create index diagnostic_sessions_device_idx on diagnostic_sessions (device_id, performed_at);

-- Measured values, one row each, for trends across sessions (battery health, cycle count ...).
create table diagnostic_values (
    session_id bigint not null references diagnostic_sessions(id),
    device_id bigint not null references devices(id),
    test text not null,
    name text not null,
    value numeric not null,
    unit text,
    performed_at timestamptz not null
);
create index diagnostic_values_trend_idx on diagnostic_values (device_id, name, performed_at);

-- ---------------------------------------------------------------------------------------------
-- Devices: the record, create/update, owners, notes, verification, search

-- ---------------------------------------------------------------------------------------------
-- Repair orders

-- The states (enum repair_state in include/repair.h) and, once, the moves between them.
create table repair_states (
    state text primary key,
    terminal boolean not null
);
insert into repair_states values
    ('intake', false), ('diagnosing', false), ('awaiting_approval', false),
    ('awaiting_parts', false), ('repairing', false), ('testing', false), ('ready', false),
    ('collected', true), ('returned_unrepaired', true), ('cancelled', true);

create table repair_transitions (
    from_state text not null references repair_states(state),
    to_state text not null references repair_states(state),
    primary key (from_state, to_state)
);
insert into repair_transitions values
    ('intake', 'diagnosing'), ('intake', 'cancelled'),
    ('diagnosing', 'awaiting_approval'), ('diagnosing', 'awaiting_parts'),
    ('diagnosing', 'repairing'), ('diagnosing', 'returned_unrepaired'), ('diagnosing', 'cancelled'),
    ('awaiting_approval', 'awaiting_parts'), ('awaiting_approval', 'repairing'),
    ('awaiting_approval', 'returned_unrepaired'), ('awaiting_approval', 'cancelled'),
    ('awaiting_parts', 'repairing'), ('awaiting_parts', 'returned_unrepaired'),
    ('awaiting_parts', 'cancelled'),
    ('repairing', 'testing'), ('repairing', 'awaiting_parts'),
    ('repairing', 'returned_unrepaired'),
    ('testing', 'ready'), ('testing', 'repairing'),
    ('ready', 'collected');

-- Per-store counters behind the human-friendly order numbers (R-PARIS-OPERA-00042).
create table repair_counters (
    store_id bigint primary key references stores(id),
    last int not null
);

create table repair_orders (
    id bigint generated always as identity primary key,
    number text not null unique,
    device_id bigint not null references devices(id),
    store_id bigint not null references stores(id),
    state text not null default 'intake' references repair_states(state),
    problem text not null check (length(problem) between 1 and 2000),
    intake jsonb not null check (jsonb_typeof(intake) = 'object'),
    promised_at timestamptz,
    kept_overnight boolean not null default false,
    estimate_cents int check (estimate_cents between 0 and 100000000),
    estimate_currency text check (estimate_currency ~ '^[A-Z]{3}$'),
    estimate_lines jsonb,
    estimate_state text not null default 'none'
        check (estimate_state in ('none', 'pending', 'approved', 'declined')),
    estimate_decided_at timestamptz,
    opened_by bigint references staff(id),
    opened_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((estimate_state = 'none') = (estimate_cents is null))
);
create index repair_orders_device_idx on repair_orders (device_id, id desc);
create index repair_orders_store_state_idx on repair_orders (store_id, state);
create index repair_orders_number_upper_idx on repair_orders (upper(number));

-- Who moved a repair where, and when.
create table repair_moves (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    from_state text references repair_states(state),
    to_state text not null references repair_states(state),
    actor bigint references staff(id),
    at timestamptz not null default now(),
    note text check (length(note) <= 2000)
);
create index repair_moves_repair_idx on repair_moves (repair_id, id);

create table repair_parts (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    part_number text not null check (part_number ~ '^[A-Za-z0-9._/-]{1,64}$'),
    part_serial text check (part_serial ~ '^[A-Z0-9._/-]{1,64}$'),
    description text check (length(description) <= 200),
    quantity int not null default 1 check (quantity between 1 and 100),
    actor bigint references staff(id),
    at timestamptz not null default now()
);
create index repair_parts_repair_idx on repair_parts (repair_id);

-- Private customer links: only the BLAKE2b hash of each token (util_token_hash in carnetd) is
-- kept. One token, one repair, one purpose.
create table repair_links (
    token_hash text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
    repair_id bigint not null references repair_orders(id),
    purpose text not null check (purpose in ('status', 'estimate')),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz,
    revoked_at timestamptz
);
create index repair_links_repair_idx on repair_links (repair_id, purpose);
