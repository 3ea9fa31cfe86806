-- Metrics: the backlogs /metrics shows count due rows only, and age from the oldest due one.
begin;
\ir _helpers.sql

delete from outbox where status in ('pending', 'sending');
delete from webhook_deliveries where status in ('pending', 'sending');
-- Nothing due: zero and zero age.
select metrics_backlog()::jsonb as empty;

-- One message due 90 s ago, one being sent (due 30 s ago), one scheduled for tomorrow.
select outbox_enqueue('booking_confirmed', 'email', '{{pd:0123456789abcdef:YQ==}}', 'en', '{}',
                      null, null, null, null, repeat('a', 64)) as late \gset
select outbox_enqueue('booking_confirmed', 'email', '{{pd:0123456789abcdef:Yg==}}', 'en', '{}',
                      null, null, null, null, repeat('b', 64)) as sending \gset
select outbox_enqueue('booking_confirmed', 'email', '{{pd:0123456789abcdef:Yw==}}', 'en', '{}',
                      null, null, null, null, repeat('c', 64)) as later \gset
update outbox set next_attempt_at = now() - interval '90 seconds' where id = :late;
update outbox set next_attempt_at = now() - interval '30 seconds', status = 'sending'
where id = :sending;
update outbox set next_attempt_at = now() + interval '1 day' where id = :later;
select b ->> 'outbox_due' as outbox_due, (b ->> 'outbox_oldest_s')::numeric as outbox_oldest_s,
       b ->> 'webhook_due' as webhook_due
from metrics_backlog() b;

-- Sent and failed rows are not backlog.
update outbox set status = 'sent' where id = :late;
update outbox set status = 'failed' where id = :sending;
select metrics_backlog()::jsonb as done;
rollback;
