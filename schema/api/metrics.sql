-- Metrics: what /metrics reads from the database (server/system.c, one call per scrape at most
-- once a second). The backlogs are rows due and not yet done: a message scheduled for later (a
-- reminder) is not late, so it is not counted; one being sent is, until it is marked. The age
-- is how long the oldest of them has been due, 0 when there is none. Both counts walk the
-- partial indexes on due rows (outbox_due_idx, webhook_deliveries_due_idx), so the cost follows
-- the backlog, not the tables.
create or replace function metrics_backlog() returns json
language sql stable as $$
    select json_build_object(
        'outbox_due', o.n, 'outbox_oldest_s', coalesce(extract(epoch from now() - o.oldest), 0),
        'webhook_due', w.n, 'webhook_oldest_s', coalesce(extract(epoch from now() - w.oldest), 0))
    from (select count(*) as n, min(next_attempt_at) as oldest from outbox
          where status in ('pending', 'sending') and next_attempt_at <= now()) o,
         (select count(*) as n, min(next_attempt_at) as oldest from webhook_deliveries
          where status in ('pending', 'sending') and next_attempt_at <= now()) w
$$;
