-- Calendar feeds: making, listing and revoking them with the rules on who may; what a feed
-- reads (the zone's transitions and offsets from PostgreSQL's tz data, local times, the second
-- of a repeated hour in UTC); a revoked or foreign token reads as unknown.
begin;
\ir _helpers.sql

-- The zone's transitions, found to the minute, and the offsets as RFC 5545 writes them.
select * from ics_transitions('Europe/Paris', '2027-01-01', '2028-01-01');
select ics_offset_text(3600) as paris, ics_offset_text(-25200) as phoenix,
       ics_offset_text(19800) as kolkata, ics_offset_text(-9000) as half_hour_west;
select ics_zone_json('Europe/Paris', '2027-02-18', '2027-05-02');
select ics_zone_json('Asia/Tokyo', '2027-02-18', '2027-05-02');
select ics_zone_json('America/Phoenix', '2027-02-18', '2027-05-02');
-- Local times; the second 02:30 of 31 October 2027 in UTC.
select ics_time('2027-03-28 00:30Z', 'Europe/Paris') as before_spring,
       ics_time('2027-03-28 01:00Z', 'Europe/Paris') as spring,
       ics_time('2027-10-31 00:30Z', 'Europe/Paris') as first_0230,
       ics_time('2027-10-31 01:30Z', 'Europe/Paris') as second_0230,
       ics_time('2027-10-31 02:30Z', 'Europe/Paris') as after;

-- Who may make which feed.
select pg_temp.try(format('select ics_feed_create(%s, %L, %s, %L, %L)', :specialist, 'r', :paris,
                          '{"kind": "store"}', repeat('a', 64)));
select pg_temp.try(format('select ics_feed_create(%s, %L, %s, %L, %L)', :specialist, 'r', :paris,
                          format('{"kind": "staff", "staff_id": %s}', :tech), repeat('a', 64)));
select pg_temp.try(format('select ics_feed_create(%s, %L, %s, %L, %L)', :manager, 'r', :paris,
                          '{"kind": "month"}', repeat('a', 64)));
select pg_temp.try(format('select ics_feed_create(%s, %L, %s, %L, %L)', :manager, 'r', :paris,
                          format('{"kind": "staff", "staff_id": %s}', :lyon_manager),
                          repeat('a', 64)));
select pg_temp.try(format('select ics_feed_create(%s, %L, %s, %L, %L)', :manager, 'r', 999999,
                          '{"kind": "store"}', repeat('a', 64)));
select count(*) as feeds from calendar_feeds;

select f ->> 'kind' as kind, f ->> 'staff_name' as staff, (f ->> 'live')::boolean as live
from ics_feed_create(:manager, 'r', :paris, '{"kind": "store"}', repeat('b', 64)) f;
select f ->> 'kind' as kind, f ->> 'staff_name' as staff
from ics_feed_create(:specialist, 'r', :paris, '{"kind": "staff"}', repeat('c', 64)) f;
select f ->> 'kind' as kind, f ->> 'staff_name' as staff
from ics_feed_create(:manager, 'r', :paris, format('{"kind": "staff", "staff_id": %s}', :tech)::jsonb,
                     repeat('d', 64)) f;

-- Lists: a manager sees every feed of the store, a specialist theirs, Lyon none of Paris's.
select l -> 'can_manage' as can_manage, json_array_length(l -> 'feeds') as feeds
from ics_feed_list(:manager, 'r', :paris) l;
select l -> 'can_manage' as can_manage, json_array_length(l -> 'feeds') as feeds
from ics_feed_list(:specialist, 'r', :paris) l;
select json_array_length(ics_feed_list(:lyon_manager, 'r', :lyon) -> 'feeds') as lyon_feeds;

-- Reading by token: the right store only; the zone and the calendar's name.
select r ->> 'name' as name, r ->> 'timezone' as tz, json_typeof(r -> 'events') as events
from ics_feed_read(:paris, repeat('b', 64)) r;
select pg_temp.try(format('select ics_feed_read(%s, %L)', :lyon, repeat('b', 64)));
select pg_temp.try(format('select ics_feed_read(%s, %L)', :paris, repeat('e', 64)));

-- Revoking: only what one may see; then the token reads as unknown.
select pg_temp.try(format('select ics_feed_revoke(%s, %L, %s, %s)', :specialist, 'r', :paris,
                          (select id from calendar_feeds where token_hash = repeat('b', 64))));
select pg_temp.try(format('select ics_feed_revoke(%s, %L, %s, %s)', :lyon_manager, 'r', :lyon,
                          (select id from calendar_feeds where token_hash = repeat('b', 64))));
select (f ->> 'revoked_at') is not null as revoked, (f ->> 'live')::boolean as live
from ics_feed_revoke(:manager, 'r', :paris,
                     (select id from calendar_feeds where token_hash = repeat('b', 64))) f;
select pg_temp.try(format('select ics_feed_read(%s, %L)', :paris, repeat('b', 64)));

-- A change of time, staff member or state bumps an appointment's revision (the SEQUENCE).
insert into appointments (store_id, service_id, staff_id, starts_at, ends_at, blocked_until,
                          code, customer_name, customer_email)
select :paris, sv.id, :tech, d, d + interval '30 minutes', d + interval '30 minutes',
       'TEST33', 'Bea', 'bea@example.test'
from services sv, (select ('2030-06-03 10:00'::timestamp at time zone 'Europe/Paris') d) x
where sv.store_id = :paris and sv.name = 'Setup';
update appointments set problem = 'x' where code = 'TEST33';
select revision from appointments where code = 'TEST33';
update appointments set starts_at = starts_at + interval '1 hour',
    ends_at = ends_at + interval '1 hour', blocked_until = blocked_until + interval '1 hour'
where code = 'TEST33';
update appointments set status = 'cancelled', cancelled_at = now() where code = 'TEST33';
select revision from appointments where code = 'TEST33';

rollback;
