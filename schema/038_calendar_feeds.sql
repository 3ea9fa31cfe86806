-- 038: calendar feeds (issue #14, point 8). A feed is a private URL a calendar client polls: the
-- store's appointments, or one staff member's shifts and appointments. Its token is the only
-- secret, so only its hash is stored (as for customers' links); revoking keeps the row, so the
-- list says what was revoked and when. An appointment carries a revision that every change of
-- its time, staff member or state bumps: the feed's SEQUENCE, which calendar clients need to
-- replace an event they already hold.
create table calendar_feeds (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id),
    kind text not null check (kind in ('store', 'staff')),
    -- Whose shifts and appointments a staff feed shows; null for the store's feed.
    staff_id bigint references staff(id),
    created_by bigint not null references staff(id),
    token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    revoked_by bigint references staff(id),
    last_fetched_at timestamptz,
    check ((kind = 'staff') = (staff_id is not null))
);
create index calendar_feeds_store_idx on calendar_feeds (store_id, created_at);

alter table appointments add column revision int not null default 0;
