-- 030: the kiosk at a store's door (server/kiosk.c, schema/api/kiosk.sql).
--
-- A kiosk is public, so its check-in is throttled per client address (and per store): each
-- attempt is recorded when it begins and deleted when it checks a booking in, so what stays are
-- the attempts that matched nothing (or could not check in), which the throttle counts. The
-- address is kept as the sign-in throttle keeps it (auth_address_key: an IPv4 address, an IPv6
-- /64), and for an hour at most: the retention job deletes older rows (kiosk_prune).
--
-- Why that is enough: a confirmation code is 6 characters of 31 (887 million codes), and a kiosk
-- looks a code up among one store's bookings of the day only. With 200 bookings that day, one
-- guess hits with a chance of 1 in 4.4 million; 10 misses a minute from one address at one store
-- (30 at all stores) is 14,400 guesses a day, about a 0.3% chance of checking one stranger in
-- (which shows a first name and a ticket, nothing else) per address per day.
create table kiosk_attempts (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores (id) on delete cascade,
    address text not null,
    at timestamptz not null default now()
);
create index kiosk_attempts_address_idx on kiosk_attempts (address, at);
create index kiosk_attempts_at_idx on kiosk_attempts (at);
