-- 039: webhooks (issue #14, point 9). A store's manager registers HTTPS endpoints for a few
-- events; each event is written in the transaction of its fact (schema/api/webhooks.sql: the
-- triggers), with one delivery row per active endpoint that wants it, and server/webhook.c
-- delivers the rows signed, with retries, as the outbox does for customer messages.
--
-- The signing secret is needed in clear to sign, so it cannot be a hash: it is kept sealed
-- under the data key like personal data (registered in pd_columns so a key rotation re-seals
-- it), opened only on the sending thread. Deleting an endpoint deletes its log with it.

create table webhook_endpoints (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id),
    url text not null check (url ~ '^https://' and length(url) <= 2000),
    events text[] not null check (cardinality(events) between 1 and 5 and events <@ array[
        'booking.created', 'booking.cancelled', 'visit.called', 'repair.moved',
        'survey.answered']),
    description text not null default '' check (length(description) <= 200),
    secret text not null,
    active boolean not null default true,
    created_at timestamptz not null default now(),
    created_by bigint references staff(id),
    updated_at timestamptz not null default now(),
    secret_rotated_at timestamptz
);
create index webhook_endpoints_store_idx on webhook_endpoints (store_id, id);

-- One fact, once, whatever the number of endpoints: the body every endpoint receives.
create table webhook_events (
    id bigint generated always as identity primary key,
    public_id uuid not null unique default gen_random_uuid(),
    store_id bigint not null references stores(id),
    type text not null,
    created_at timestamptz not null default now(),
    payload jsonb not null check (jsonb_typeof(payload) = 'object')
);

create table webhook_deliveries (
    id bigint generated always as identity primary key,
    endpoint_id bigint not null references webhook_endpoints(id) on delete cascade,
    event_id bigint not null references webhook_events(id),
    status text not null default 'pending'
        check (status in ('pending', 'sending', 'delivered', 'failed')),
    attempts int not null default 0,
    next_attempt_at timestamptz not null default now(),
    claim uuid,
    claimed_until timestamptz,
    last_status_code int,
    last_error text check (length(last_error) <= 1000),
    delivered_at timestamptz,
    failed_at timestamptz,
    created_at timestamptz not null default now()
);
-- The claim: due rows, oldest first per endpoint.
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at, id)
    where status in ('pending', 'sending');
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, id);
-- Retention deletes old events (schema/api/retention.sql): each delete looks for deliveries
-- still pointing at the event.
create index webhook_deliveries_event_idx on webhook_deliveries (event_id);

-- Every try, for the delivery log.
create table webhook_attempts (
    id bigint generated always as identity primary key,
    delivery_id bigint not null references webhook_deliveries(id) on delete cascade,
    attempt int not null,
    at timestamptz not null default now(),
    status_code int,
    error text check (length(error) <= 1000),
    duration_ms int not null check (duration_ms >= 0)
);
create index webhook_attempts_delivery_idx on webhook_attempts (delivery_id, attempt);

insert into pd_columns (tbl, col, typ, mode) values ('webhook_endpoints', 'secret', 'text', 'value');
-- What the sealing job looks for (017): a secret written in clear by hand.
create index pd_clear_webhook_endpoints_secret on webhook_endpoints (id)
    where secret not like '{{pd:%';
