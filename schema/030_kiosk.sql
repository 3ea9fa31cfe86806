-- 030: the kiosk at a store's door (server/kiosk.c, schema/api/kiosk.sql).
--
-- A kiosk is public, so its check-in is throttled per client address (and per store): each
-- attempt is recorded when it begins and deleted when it checks a booking in, so what stays are
-- the attempts that matched nothing (or could not check in), which the throttle counts. The
-- address is kept as the sign-in throttle keeps it (auth_address_key: an IPv4 address, an IPv6
-- /64), and for an hour at most: the retention job deletes older rows (kiosk_prune).
create table kiosk_attempts (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores (id) on delete cascade,
    address text not null,
    at timestamptz not null default now()
);
create index kiosk_attempts_address_idx on kiosk_attempts (address, at);
create index kiosk_attempts_at_idx on kiosk_attempts (at);
