-- Retention: what job_retention deletes and purges, what it keeps, and that a purged message
-- stays where it ended.
begin;
\ir _helpers.sql

-- Terms: login attempts 10 days, sessions 2 days (idle 1800 s), messages 20, visits 5.
insert into login_attempts (account_mac, address, ok, at) values
    (repeat('0', 64), '192.0.2.1', false, now() - interval '11 days'),
    (repeat('1', 64), '192.0.2.1', false, now() - interval '9 days');
insert into sessions (token_hash, staff_id, expires_at, last_seen_at) values
    ('expired', :manager, now() - interval '3 days', now() - interval '3 days'),
    ('idled', :manager, now() + interval '1 day', now() - interval '3 days'),
    ('recent', :manager, now() - interval '1 day', now() - interval '1 day'),
    ('live', :manager, now() + interval '1 day', now());
insert into outbox (kind, channel, recipient, locale, subject, body, sms, status, created_at,
                    store_id, ref_type, ref_id, data) values
    ('booking_confirmed', 'email', 'a@example.test', 'en', 's', 'older', 'x', 'sent',
     now() - interval '21 days', :paris, 'appointment', 77, '{"link": "L1"}'),
    ('booking_changed', 'email', 'a@example.test', 'en', 's', 'newest', 'x', 'sent',
     now() - interval '21 days', :paris, 'appointment', 77, '{"link": "L2"}'),
    ('booking_confirmed', 'email', 'a@example.test', 'en', 's', 'failed', 'x', 'failed',
     now() - interval '21 days', :paris, null, null, '{"link": "L3"}'),
    ('booking_confirmed', 'email', 'a@example.test', 'en', 's', 'pending', 'x', 'pending',
     now() - interval '21 days', :paris, null, null, '{}'),
    ('booking_confirmed', 'email', 'a@example.test', 'en', 's', 'lately', 'x', 'sent',
     now() - interval '19 days', :paris, null, null, '{}');
insert into visits (store_id, kind, day, ticket, name, contact, status) values
    (:paris, 'walk_in', current_date - 6, 901, 'Old Visit', '+33600000001', 'done'),
    (:paris, 'walk_in', current_date - 6, 902, 'Old Waiting', null, 'waiting'),
    (:paris, 'walk_in', current_date - 4, 903, 'New Visit', '+33600000003', 'done');
insert into standby (store_id, service_id, day, name, email, status, token_hash)
select :paris, (select min(id) from services where store_id = :paris), current_date - d,
       n, 's@example.test', st, md5(n)
from (values (6, 'Old Left', 'left'), (6, 'Old Waiting', 'waiting'),
             (4, 'New Left', 'left')) x(d, n, st);

insert into webhook_endpoints (store_id, url, events, secret, active)
values (:paris, 'https://h.example/r', '{booking.created}', 'x', false);
insert into webhook_events (store_id, type, payload, created_at)
select :paris, t, '{}', now() - make_interval(days => d)
from (values ('old.delivered', 21), ('old.pending', 21), ('lately', 19)) x(t, d);
insert into webhook_deliveries (endpoint_id, event_id, status, created_at)
select (select max(id) from webhook_endpoints), e.id, st, e.created_at
from webhook_events e
join (values ('old.delivered', 'delivered'), ('old.delivered', 'failed'),
             ('old.pending', 'delivered'), ('old.pending', 'pending'),
             ('lately', 'delivered')) x(t, st) on x.t = e.type;
insert into webhook_attempts (delivery_id, attempt, duration_ms)
select id, 1, 5 from webhook_deliveries;

select job_retention(10, 2, 1800, 20, 5) as purged;
-- A second run finds nothing left.
select job_retention(10, 2, 1800, 20, 5) as purged_again;

select account_mac from login_attempts where account_mac in (repeat('0', 64), repeat('1', 64))
order by account_mac;
select token_hash from sessions where token_hash in ('expired', 'idled', 'recent', 'live')
order by token_hash;
select body, subject, recipient, data, purged_at is not null as purged from outbox
where kind like 'booking_%' order by id;
select ticket, name, contact, status, purged_at is not null as purged from visits
where ticket > 900 order by ticket;
select name, email, status, purged_at is not null as purged from standby
where token_hash in (md5('Old Left'), md5('Old Waiting'), md5('New Left')) order by id;
select e.type, array_agg(d.status order by d.status) as deliveries,
       count(a.id) as tries
from webhook_events e
left join webhook_deliveries d on d.event_id = e.id
left join webhook_attempts a on a.delivery_id = d.id
group by e.id, e.type order by e.id;

-- A purged message is not sent again.
select id as purged_failed from outbox
where kind = 'booking_confirmed' and status = 'failed' and purged_at is not null \gset
select pg_temp.try(format('select outbox_retry(%s, %s, %s, %L)', :manager, :paris,
                          :purged_failed, 'r'));
select status from outbox where id = :purged_failed;

rollback;
