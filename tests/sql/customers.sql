-- Customers: access and erasure by blind index (carnetd computes the indexes; here they are
-- stand-ins), scope by store, the redaction of a message entry, erasure requests.
begin;
\ir _helpers.sql

select repeat('a', 64) as em, repeat('b', 64) as ph \gset
select id as service from services where store_id = :paris order by id limit 1 \gset
insert into appointments (store_id, service_id, staff_id, starts_at, ends_at, blocked_until,
    status, code, customer_name, customer_email, customer_email_bi, customer_phone,
    customer_phone_bi)
values (:paris, :service, :manager, now() - interval '2 days',
        now() - interval '2 days' + interval '30 minutes',
        now() - interval '2 days' + interval '30 minutes', 'done', 'ZZZZZZ', 'Cleo',
        'cleo@example.test', :'em', '+33611111111', :'ph')
returning id as appt \gset
select device_ensure('SQLGDPR001') as dev \gset
insert into device_owners (device_id, name, email, email_bi) values (:dev, 'Cleo',
    'cleo@example.test', :'em') returning id as owner \gset
insert into repair_orders (number, device_id, store_id, problem, intake, contact_owner_id)
values ('R-SQL-GDPR', :dev, :paris, 'battery', '{}', :owner) returning id as repair \gset
insert into message_threads (store_id, ref_type, ref_id, channel, recipient, recipient_bi,
    customer_name, device_id)
values (:paris, 'repair', :repair, 'email', 'cleo@example.test', :'em', 'Cleo', :dev)
returning id as thread \gset
insert into messages (thread_id, author, body) values (:thread, 'customer', 'Cleo here')
returning id as msg \gset
select (record_append(:dev, 'message', jsonb_build_object('thread_id', :thread, 'body',
        'Cleo here'), null, :paris, 'repair', :repair)).id as entry \gset

-- Bad blind indexes: exactly one, 64 hex digits.
select pg_temp.try(format('select customer_access(%s, null, null, %L)', :manager, 'r'));
select pg_temp.try(format('select customer_access(%s, %L, %L, %L)', :manager, :'em', :'ph', 'r'));
select pg_temp.try(format('select customer_access(%s, %L, null, %L)', :manager, 'x', 'r'));

-- Paris's manager and the admin see her; Lyon's manager and a specialist get the unknown 404.
select j->'stores' as stores, json_array_length(j->'bookings') as bookings,
       json_array_length(j->'devices') as devices, json_array_length(j->'repairs') as repairs,
       j#>>'{threads,0,messages,0,body}' as message
from customer_access(:manager, :'em', null, 'r1') j;
select json_array_length(j->'bookings') as bookings_by_phone
from customer_access(:admin, null, :'ph', 'r2') j;
select pg_temp.try(format('select customer_access(%s, %L, null, %L)', :lyon_manager, :'em', 'r'));
select pg_temp.try(format('select customer_access(%s, %L, null, %L)', :specialist, :'em', 'r'));
select pg_temp.try(format('select customer_access(%s, %L, null, %L)', :manager,
                          repeat('c', 64), 'r'));
select pg_temp.try(format('select customer_erase(%s, %L, null, %L)', :lyon_manager, :'em', 'r'));

-- A request from her booking's link, seen by Paris's managers only.
insert into appointment_tokens (token_hash, appointment_id, purpose, expires_at)
values (repeat('d', 64), :appt, 'manage', now() + interval '1 day');
select customer_erasure_request_manage(repeat('d', 64))->>'requested' as requested;
select customer_erasure_request_manage(repeat('d', 64))->>'requested' as asked_again;
select count(*) as open_requests from erasure_requests where erased_at is null;
select j#>>'{0,status}' as status, j#>>'{0,name}' as name
from customer_erasure_requests(:manager, :paris, 'r') j;
select pg_temp.try(format('select customer_erasure_requests(%s, %s, %L)', :lyon_manager, :paris,
                          'r'));

-- The record refuses any rewrite but the redaction of the entry it is told about.
select pg_temp.try(format('update record_entries set content = %L where id = %s',
                          '{"body": "x"}', :entry));

-- Erasure.
select customer_erase(:manager, :'em', null, 'r3');
select customer_name, customer_email, customer_email_bi, customer_phone, customer_phone_bi,
       erased_at is not null as erased
from appointments where id = :appt;
select name, email, email_bi from device_owners where id = :owner;
select customer_name, recipient, recipient_bi from message_threads where id = :thread;
select body from messages where id = :msg;
select content->>'body' as body, content->>'erased' as erased from record_entries where id = :entry;
select kind, content->'redacted'->0->>'entry' = :'entry' as names_entry,
       content->'redacted'->0->>'hash' = (select encode(hash, 'hex') from record_entries
                                            where id = :entry) as names_hash
from record_entries where device_id = :dev and kind = 'erasure';
select count(*) as manage_links from appointment_tokens where appointment_id = :appt;
select erased_at is not null as erased, erased_by = :manager as by_manager from erasure_requests;
select action, object_id = :'em' as by_blind_index from audit_log
where action = 'customer_erase';
-- Again: nobody is left to find.
select pg_temp.try(format('select customer_erase(%s, %L, null, %L)', :manager, :'em', 'r'));

rollback;
