-- 032: a chain sets up its stores and services through the API (issue #14). A store has an
-- address and a phone for the booking page, and is closed rather than deleted, so its history
-- stays; a service has a price in the store's currency (minor units, none when not shown) and a
-- description. Archiving a service is its existing "active" flag: its past bookings keep it.
alter table stores
    add column address text not null default '' check (length(address) <= 300),
    add column phone text not null default '' check (length(phone) <= 40),
    add column closed_at timestamptz;

alter table services
    add column price_minor bigint check (price_minor between 0 and 100000000),
    add column description text not null default '' check (length(description) <= 500);
