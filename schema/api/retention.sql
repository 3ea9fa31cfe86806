-- Retention: personal data kept only as long as it is needed, purged by one job
-- (job_retention, run by every carnetd's jobs.c; the terms are carnetd settings, see README).
--
-- Deleted:  login attempts older than the term; staff sessions ended (expired, or idle past
--           carnetd's --session-idle) longer ago than the term.
--           Idempotency-Keys of check-ins, joins and diagnostics older than a day
--           (idempotency.sql: their answers hold sealed names and line links).
-- Purged in place (the row stays for reports and the manager's lists, marked purged_at):
--   outbox   messages in a final state (sent, failed, cancelled) older than the term: subject,
--            body and SMS text emptied, the recipient erased. The placeholders (data) are
--            dropped too, except on the newest message about each object: later messages
--            about the same booking or repair reuse them (the link and code known when it was
--            made). A purged message cannot be sent again.
--   visits   name, contact and problem of visits of days longer ago than the term (and the
--            reason given for calling one out of turn), whatever their
--            state (the ticket, times and states that the floor report counts stay). Days are
--            dates in UTC here: a term in days does not need the store's midnight.
--   standby  name, email and phone of places ended (booked, expired, left) on days longer
--            ago than the term.
-- Deleted after the messages' term too:
--   webhooks deliveries that ended (delivered, failed), with their tries, and then the events
--            no delivery is left for. They are what the store sent out, like the outbox's
--            messages, so the same term: a manager's delivery log reaches back as far as the
--            outbox list, and nothing about a booking outlives its messages. Payloads hold no
--            names or contacts, but ids and times of a customer's bookings are still theirs.
--            A delivery still pending or being sent keeps its event (its body), whatever its age.
--
-- Several carnetd run the job: one transaction at a time does the work (a transaction-scoped
-- advisory lock; the others return 0 at once), each run does at most a batch per kind and
-- returns how much it did, so jobs.c runs it again at once while there is a backlog and rests
-- for --retention-interval when there is none.

create or replace function retention_batch() returns int
language sql immutable as $$ select 1000 $$;

-- The name written where a purged customer's name was.
create or replace function retention_erased_name() returns text
language sql immutable as $$ select 'erased customer' $$;

create or replace function job_retention(p_login_attempts_days int, p_sessions_days int,
                                         p_idle_seconds int, p_messages_days int,
                                         p_visits_days int) returns int
language plpgsql as $$
declare
    n int;
    total int := 0;
begin
    -- carnetd's settings allow no shorter terms (config.c); a caller with the serving role's
    -- credentials gets no other: a term of minus a year would purge everything at once.
    if least(p_login_attempts_days, p_sessions_days, p_messages_days, p_visits_days) < 1
       or p_idle_seconds < 60 then
        perform carnet_fail(422, 'invalid', 'retention',
            'retention terms are at least a day, and the session idle time at least a minute');
    end if;
    if not pg_try_advisory_xact_lock(hashtext('carnet.job_retention')) then
        return 0;
    end if;

    delete from login_attempts where id in (
        select id from login_attempts
        where at < now() - make_interval(days => p_login_attempts_days)
        limit retention_batch()
        for update skip locked);
    get diagnostics n = row_count;
    total := total + n;

    delete from sessions where token_hash in (
        select token_hash from sessions
        where expires_at < now() - make_interval(days => p_sessions_days)
           or last_seen_at < now() - make_interval(days => p_sessions_days, secs => p_idle_seconds)
        limit retention_batch()
        for update skip locked);
    get diagnostics n = row_count;
    total := total + n;

    -- Kiosk check-in attempts, with the client's address (kiosk.sql): an hour.
    total := total + kiosk_prune();

    -- Idempotency-Keys of check-ins, joins and diagnostics (idempotency.sql): a day.
    total := total + idem_prune();

    -- Hand-over Idempotency-Keys (floor.sql): a client retries within minutes, not days; two
    -- days like the booking replies. They hold no personal data, only ids and the key's hash.
    delete from handover_keys where (store_id, key_hash) in (
        select store_id, key_hash from handover_keys
        where created_at < now() - interval '2 days'
        limit retention_batch()
        for update skip locked);
    get diagnostics n = row_count;
    total := total + n;

    with due as (
        select id, ref_type, ref_id from outbox
        where purged_at is null and status in ('sent', 'failed', 'cancelled')
          and created_at < now() - make_interval(days => p_messages_days)
        order by created_at
        limit retention_batch()
        for update skip locked)
    update outbox o set subject = '', body = '', sms = '', recipient = 'erased',
                        recipient_bi = null, purged_at = now(),
                        data = case when o.ref_id is not null and o.id = (
                                        select max(x.id) from outbox x
                                        where x.ref_type = o.ref_type and x.ref_id = o.ref_id)
                                    then o.data else '{}'::jsonb end
    from due where o.id = due.id;
    get diagnostics n = row_count;
    total := total + n;

    delete from webhook_deliveries where id in (
        select id from webhook_deliveries
        where status in ('delivered', 'failed')
          and created_at < now() - make_interval(days => p_messages_days)
        limit retention_batch()
        for update skip locked);
    get diagnostics n = row_count;
    total := total + n;

    -- Deliveries are written with their event only (the trigger), so none can appear for an
    -- old event meanwhile.
    delete from webhook_events where id in (
        select e.id from webhook_events e
        where e.created_at < now() - make_interval(days => p_messages_days)
          and not exists (select 1 from webhook_deliveries d where d.event_id = e.id)
        limit retention_batch()
        for update skip locked);
    get diagnostics n = row_count;
    total := total + n;

    with due as (
        select id from visits
        where purged_at is null and day < current_date - p_visits_days
        order by day
        limit retention_batch()
        for update skip locked)
    update visits v set name = retention_erased_name(), contact = null, contact_bi = null,
                        problem = null, purged_at = now()
    from due where v.id = due.id;
    get diagnostics n = row_count;
    total := total + n;
    -- A staff member's reason for calling someone out of turn may name them: it goes with them.
    update visit_calls c set override_reason = null
    from visits v
    where v.id = c.visit_id and v.purged_at is not null and c.override_reason is not null;

    with due as (
        select id from standby
        where purged_at is null and status in ('booked', 'expired', 'left')
          and day < current_date - p_visits_days
        order by day
        limit retention_batch()
        for update skip locked)
    update standby s set name = retention_erased_name(), email = null, phone = null,
                         email_bi = null, phone_bi = null, purged_at = now()
    from due where s.id = due.id;
    get diagnostics n = row_count;
    return total + n;
end $$;

-- A purged message has no text left to send: it stays where it ended.
create or replace function retention_keep_purged() returns trigger
language plpgsql as $$
begin
    if old.purged_at is not null and new.status is distinct from old.status then
        perform carnet_fail(409, 'purged', 'id',
                            'this message is past its retention: its text is gone');
    end if;
    return new;
end $$;

create or replace trigger outbox_keep_purged before update of status on outbox
    for each row when (old.purged_at is not null) execute function retention_keep_purged();
