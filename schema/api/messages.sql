-- Talking to customers: the transactional outbox, message threads, promises and early
-- warnings, surveys and the satisfaction report.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations. A changed argument list needs a migration that drops
-- the old signature first (see 008_api_functions.sql).

create or replace function outbox_fail_if(p_cond boolean, p_field text, p_message text) returns void
language plpgsql as $$
begin
    if p_cond then
        perform carnet_fail(422, 'invalid', p_field, p_message);
    end if;
end $$;

-- French day and month names without depending on the server's lc_time.
create or replace function outbox_format_time(p_at timestamptz, p_tz text, p_locale text) returns text
language plpgsql stable as $$
declare
    l timestamp := p_at at time zone p_tz;
    days_fr constant text[] := array['dimanche', 'lundi', 'mardi', 'mercredi', 'jeudi',
                                     'vendredi', 'samedi'];
    months_fr constant text[] := array['janvier', 'février', 'mars', 'avril', 'mai', 'juin',
                                       'juillet', 'août', 'septembre', 'octobre', 'novembre',
                                       'décembre'];
begin
    if p_at is null then
        return null;
    end if;
    if p_locale = 'fr' then
        return days_fr[extract(dow from l)::int + 1] || ' ' || extract(day from l)::int || ' '
            || months_fr[extract(month from l)::int] || ' à ' || to_char(l, 'HH24"h"MI');
    end if;
    return to_char(l, 'FMDay FMDD FMMonth "at" HH24:MI');
end $$;

-- Replaces every {{key}} with data->>key; unknown placeholders become empty, except
-- {{public_url}}, which the delivery worker fills.
create or replace function outbox_render(p_text text, p_data jsonb) returns text
language plpgsql immutable as $$
declare
    k text;
    v text;
    out text := p_text;
begin
    for k, v in select key, value from jsonb_each_text(coalesce(p_data, '{}'::jsonb)) loop
        if k <> 'public_url' then
            out := replace(out, '{{' || k || '}}', coalesce(v, ''));
        end if;
    end loop;
    return regexp_replace(out, '\{\{(?!public_url\}\})[a-z_]+\}\}', '', 'g');
end $$;

-- The placeholders of the latest message about an object ('{}' when there is none).
create or replace function outbox_ref_data(p_ref_type text, p_ref_id bigint) returns jsonb
language sql stable as $$
    select coalesce((select data from outbox where ref_type = p_ref_type and ref_id = p_ref_id
                     order by id desc limit 1), '{}'::jsonb)
$$;

-- The placeholders a template is rendered with: the caller's, the store's name, and the times
-- starts_at and estimate_at written out in the store's time zone as {{when}} and {{estimate}}.
create or replace function outbox_placeholders(p_data jsonb, p_store bigint, p_locale text)
returns jsonb language plpgsql stable as $$
declare
    st stores%rowtype;
    d jsonb := coalesce(p_data, '{}'::jsonb);
begin
    select * into st from stores where id = p_store;
    if not found then
        return d;
    end if;
    d := jsonb_build_object('store', st.name) || d;
    if d ? 'starts_at' then
        d := d || jsonb_build_object('when', outbox_format_time((d->>'starts_at')::timestamptz,
                                                                st.timezone, p_locale));
    end if;
    if d ? 'estimate_at' then
        d := d || jsonb_build_object('estimate', outbox_format_time(
                                         (d->>'estimate_at')::timestamptz, st.timezone, p_locale));
    end if;
    return d;
end $$;

-- The device a message is about (054), from the object it names: a repair's device, a thread's,
-- and a booking's or a visit's only once staff served the visit (in service or done), the device
-- in hand. Before that their serial is whatever the customer typed (as passport_device says):
-- anyone could book with another's serial and have their words shown as that device's earlier
-- conversations. NULL for anything else (a standby place, an object without a serial, an id that
-- names nothing); message_visit_served attaches them when the visit is served.
create or replace function message_ref_device(p_ref_type text, p_ref_id bigint) returns bigint
language sql stable as $$
    select case p_ref_type
        when 'repair' then (select device_id from repair_orders where id = p_ref_id)
        when 'appointment' then (select d.id from visits v
                                 join devices d on d.serial = v.device_serial
                                 where v.appointment_id = p_ref_id
                                   and v.status in ('in_service', 'done'))
        when 'visit' then (select d.id from visits v join devices d on d.serial = v.device_serial
                           where v.id = p_ref_id and v.status in ('in_service', 'done'))
        when 'thread' then (select device_id from message_threads where id = p_ref_id)
    end
$$;

-- The one entry point for other domains: call it inside the transaction of the event.
--   kind       a message_templates kind (booking_confirmed, reminder_day, ...)
--   channel    'email' or 'sms'; recipient is the address or the phone number
--   data       placeholders: name, code, link, starts_at (timestamptz: becomes {{when}} in the
--              store's time zone), estimate_at (becomes {{estimate}}), state, message ...
--   store, ref_type, ref_id   what it is about (for the manager's view and once-only kinds)
--   not_before when to send (reminders); default now
--   recipient_bi  the recipient's blind index when the recipient is sealed (a pd marker, 017)
-- Placeholders given for an earlier message about the same ref carry over (the link and code
-- known when a booking or repair was made), so later events pass only what is new.
-- Returns the outbox id, or NULL when a once-only kind was already queued for that ref.
create or replace function outbox_enqueue(p_kind text, p_channel text, p_recipient text, p_locale text,
                               p_data jsonb, p_store bigint default null,
                               p_ref_type text default null, p_ref_id bigint default null,
                               p_not_before timestamptz default null,
                               p_recipient_bi text default null) returns bigint
language plpgsql as $$
begin
    return (outbox_enqueue_all(array[p_kind], array[p_not_before], p_channel, p_recipient,
                               p_locale, p_data, p_store, p_ref_type, p_ref_id,
                               p_recipient_bi))[1];
end $$;

-- outbox_enqueue of several messages of one event at once (a booking's confirmation and its
-- reminders): same recipient, same placeholders, each of p_kinds (distinct) due at
-- p_not_before[i] (null: now). The checks, the earlier placeholders and the store's are done
-- once and the rows written by one insert, in the order of p_kinds (issue #16: a booking's
-- transaction spent half its time queueing its three messages one by one). Returns the ids in
-- the order of p_kinds, NULL for a once-only kind already queued for that ref.
create or replace function outbox_enqueue_all(p_kinds text[], p_not_before timestamptz[],
                                               p_channel text, p_recipient text, p_locale text,
                                               p_data jsonb, p_store bigint, p_ref_type text,
                                               p_ref_id bigint, p_recipient_bi text)
returns bigint[]
language plpgsql as $$
declare
    sealed boolean := pd_is_marker(p_recipient);
    d jsonb := outbox_ref_data(p_ref_type, p_ref_id) || coalesce(p_data, '{}'::jsonb);
    v_data jsonb := d;
    loc text := coalesce(p_locale, 'en');
    v_device bigint := message_ref_device(p_ref_type, p_ref_id);
    v_ids bigint[];
begin
    perform outbox_fail_if(p_channel is null or p_channel not in ('email', 'sms'), 'channel',
                           'channel must be email or sms');
    -- A sealed recipient was checked in clear by carnetd before it was sealed (its format
    -- cannot be read here); a clear one is checked now.
    perform outbox_fail_if(p_recipient is null
                           or (not sealed and length(p_recipient) not between 3 and 254),
                           'recipient', 'a recipient address or phone number is required');
    perform outbox_fail_if(not sealed and p_channel = 'email'
                           and p_recipient !~ '^[^@\s<>]+@[^@\s<>]+$',
                           'recipient', 'not an email address');
    perform outbox_fail_if(not sealed and p_channel = 'sms'
                           and p_recipient !~ '^\+?[0-9 .-]{6,20}$',
                           'recipient', 'not a phone number');
    if loc not in ('en', 'fr') then
        loc := 'en';
    end if;
    perform outbox_fail_if(exists (select 1 from unnest(p_kinds) k(kind)
                                   where not exists (select 1 from message_templates t
                                                     where t.kind = k.kind and t.locale = loc)),
                           'kind', 'no template for this kind of message');
    d := outbox_placeholders(d, p_store, loc);
    with ins as (
        insert into outbox (kind, channel, recipient, recipient_bi, locale, subject, body, sms,
                            store_id, ref_type, ref_id, once_key, next_attempt_at, data, device_id)
        select t.kind, p_channel, p_recipient, p_recipient_bi, loc, outbox_render(t.subject, d),
               outbox_render(t.body, d), outbox_render(t.sms, d), p_store, p_ref_type, p_ref_id,
               case when p_ref_id is not null
                         and exists (select 1 from message_once_kinds o where o.kind = t.kind)
                    then t.kind || ':' || p_ref_type || ':' || p_ref_id end,
               coalesce(k.not_before, now()), v_data, v_device
        from unnest(p_kinds, p_not_before) with ordinality k(kind, not_before, i)
        join message_templates t on t.kind = k.kind and t.locale = loc
        order by k.i
        on conflict (once_key) do nothing
        returning id, kind)
    select array_agg(ins.id order by k.i) into v_ids
    from unnest(p_kinds) with ordinality k(kind, i) left join ins on ins.kind = k.kind;
    return v_ids;
end $$;

-- Claims up to p_limit due messages for one delivery round: pending ones whose time has come,
-- and ones whose previous claim expired (that worker died mid-send). SKIP LOCKED lets several
-- carnetd claim at once without waiting on each other or taking the same row.
create or replace function outbox_claim(p_limit int, p_lease_seconds int, p_public_url text) returns json
language plpgsql as $$
declare
    res json;
begin
    with c as (
        select id from outbox
        where (status = 'pending' and next_attempt_at <= now())
           or (status = 'sending' and claimed_until < now())
        order by next_attempt_at, id
        limit p_limit
        for update skip locked
    ), u as (
        update outbox o
        set status = 'sending', attempts = o.attempts + 1, claim = gen_random_uuid(),
            claimed_until = now() + make_interval(secs => p_lease_seconds)
        from c where o.id = c.id
        returning o.*
    )
    select coalesce(json_agg(json_build_object(
               'id', id, 'claim', claim, 'kind', kind, 'channel', channel,
               'recipient', recipient, 'locale', locale, 'attempts', attempts,
               'subject', replace(subject, '{{public_url}}', p_public_url),
               'body', replace(body, '{{public_url}}', p_public_url),
               'sms', replace(sms, '{{public_url}}', p_public_url),
               'created_at', created_at) order by id), '[]'::json)
    into res from u;
    return res;
end $$;

-- Records a delivery outcome. p_error null means sent. A permanent error (p_permanent: the
-- server refused the message, 5xx) fails at once; a transient one retries with exponential
-- back-off until p_max_attempts. Returns the new status, or NULL when the claim was lost (the
-- lease expired and another worker owns the row now).
create or replace function outbox_mark(p_id bigint, p_claim uuid, p_transport text, p_error text,
                            p_permanent boolean, p_max_attempts int, p_backoff_ms int)
returns text language plpgsql as $$
declare
    o outbox%rowtype;
    v_status text;
begin
    select * into o from outbox where id = p_id and claim = p_claim and status = 'sending'
    for update;
    if not found then
        return null;
    end if;
    if p_error is null then
        -- Delivered: the text (and the links in it) has done its job; the metadata stays for
        -- the manager's view. A failed message keeps its text (links only sealed) for a retry.
        update outbox set status = 'sent', sent_at = now(), transport = p_transport,
                          claimed_until = null, last_error = null,
                          subject = '', body = '', sms = ''
        where id = p_id;
        return 'sent';
    end if;
    v_status := case when p_permanent or o.attempts >= p_max_attempts then 'failed'
                     else 'pending' end;
    update outbox
    set status = v_status, transport = p_transport, claimed_until = null,
        last_error = left(p_error, 1000),
        -- base * 2^(attempts-1), at most an hour
        next_attempt_at = now() + least(make_interval(secs => p_backoff_ms / 1000.0
                                                      * power(2, least(o.attempts - 1, 20))),
                                        interval '1 hour')
    where id = p_id;
    return v_status;
end $$;

-- A message still queued or sending when its cause goes away (a cancelled booking's reminders).
create or replace function outbox_cancel(p_ref_type text, p_ref_id bigint, p_kinds text[]) returns int
language plpgsql as $$
declare
    n int;
begin
    update outbox set status = 'cancelled', once_key = null, subject = '', body = '', sms = ''
    where ref_type = p_ref_type and ref_id = p_ref_id and kind = any (p_kinds)
      and status = 'pending';
    get diagnostics n = row_count;
    return n;
end $$;

-- Reminders a day (same local clock time, the previous calendar day in the store's time zone,
-- so a booking at 10:00 is reminded at 10:00 the day before even across a DST change) and an
-- hour before a booking. Call it when a booking is made and again when it moves: pending
-- reminders of that appointment are replaced, and every reminder still ahead of the new time is
-- scheduled, whatever was sent for the old one. Reminders already due are not sent late.
-- outbox_reminders_plan clears the old ones and says which to queue when; the booking's own
-- events queue them with their message (outbox_booking_event), others here.
create or replace function outbox_reminders_plan(p_appointment bigint, p_store bigint,
                                                 p_starts_at timestamptz, out kinds text[],
                                                 out due timestamptz[])
language plpgsql as $$
declare
    tz text;
    v_day timestamptz;
    v_hour timestamptz;
begin
    select timezone into tz from stores where id = p_store;
    perform outbox_fail_if(tz is null, 'store', 'no such store');
    -- A new booking has none yet: one probe instead of two updates.
    if exists (select 1 from outbox
               where ref_type = 'appointment' and ref_id = p_appointment
                 and kind in ('reminder_day', 'reminder_hour')) then
        perform outbox_cancel('appointment', p_appointment, array['reminder_day', 'reminder_hour']);
        -- A reminder sent (or being sent) was about the old time: its once-key must not stop the
        -- new time's. Sent means its moment has passed, so no time is ever reminded twice.
        update outbox set once_key = null
        where ref_type = 'appointment' and ref_id = p_appointment
          and kind in ('reminder_day', 'reminder_hour') and once_key is not null;
    end if;
    v_day := ((p_starts_at at time zone tz) - interval '1 day') at time zone tz;
    v_hour := p_starts_at - interval '1 hour';
    kinds := '{}';
    due := '{}';
    if v_day > now() then
        kinds := array_append(kinds, 'reminder_day');
        due := array_append(due, v_day);
    end if;
    if v_hour > now() then
        kinds := array_append(kinds, 'reminder_hour');
        due := array_append(due, v_hour);
    end if;
end $$;

create or replace function outbox_schedule_reminders(p_appointment bigint, p_store bigint,
                                          p_starts_at timestamptz, p_channel text,
                                          p_recipient text, p_locale text, p_data jsonb,
                                          p_recipient_bi text default null)
returns int language plpgsql as $$
declare
    p record := outbox_reminders_plan(p_appointment, p_store, p_starts_at);
begin
    if cardinality(p.kinds) = 0 then
        return 0;
    end if;
    return (select count(i)
            from unnest(outbox_enqueue_all(p.kinds, p.due, p_channel, p_recipient, p_locale,
                                           coalesce(p_data, '{}'::jsonb)
                                           || jsonb_build_object('starts_at', p_starts_at),
                                           p_store, 'appointment', p_appointment,
                                           p_recipient_bi)) i);
end $$;

-- The one call booking makes per event, in its transaction: p_kind is booking_confirmed,
-- booking_changed or booking_cancelled. Placeholders given once (name, code, the manage link)
-- carry over to later messages about the same appointment; confirming or moving (re)schedules
-- the reminders, queued with the event's message in one go, cancelling drops them.
create or replace function outbox_booking_event(p_kind text, p_appointment bigint, p_store bigint,
                                     p_starts_at timestamptz, p_channel text, p_recipient text,
                                     p_locale text, p_data jsonb default '{}',
                                     p_recipient_bi text default null) returns bigint
language plpgsql as $$
declare
    d jsonb := coalesce(p_data, '{}'::jsonb) || jsonb_build_object('starts_at', p_starts_at);
    p record;
    v_id bigint;
begin
    perform outbox_fail_if(p_kind not in ('booking_confirmed', 'booking_changed',
                                          'booking_cancelled'), 'kind', 'not a booking event');
    if p_kind = 'booking_cancelled' then
        v_id := outbox_enqueue(p_kind, p_channel, p_recipient, p_locale, d, p_store,
                               'appointment', p_appointment, null, p_recipient_bi);
        perform outbox_cancel('appointment', p_appointment, array['reminder_day', 'reminder_hour']);
        return v_id;
    end if;
    p := outbox_reminders_plan(p_appointment, p_store, p_starts_at);
    return (outbox_enqueue_all(array_prepend(p_kind, p.kinds),
                               array_prepend(null::timestamptz, p.due), p_channel,
                               p_recipient, p_locale, d, p_store, 'appointment', p_appointment,
                               p_recipient_bi))[1];
end $$;

-- A ready link from carnetd's stock (server/linkstock.c): the hash to store and the token sealed
-- under the data key, to put in the message. The database never holds a live token in clear:
-- only carnetd's outbox opens the seal, when it delivers. Each stock link is used once; an empty
-- stock (carnetd not running since the database was created) is a retryable 503.
create or replace function link_stock_take(out token_hash text, out sealed text)
language plpgsql as $$
begin
    delete from link_stock k
    where k.id = (select id from link_stock order by id limit 1 for update skip locked)
    returning k.token_hash, k.sealed into token_hash, sealed;
    if not found then
        perform carnet_fail(503, 'busy', null, 'no private link is ready yet, try again in a moment');
    end if;
end $$;

-- carnetd's top-up: adds up to p_target - (what is there) of the given links, after dropping
-- ready links sealed under another key than p_kid (a rotated key could not open them).
-- Returns how many are still missing. Serialised, so several carnetd do not overshoot.
create or replace function link_stock_add(p_hashes text[], p_sealed text[], p_target int,
                                          p_kid text) returns int
language plpgsql as $$
declare
    have int;
    room int;
begin
    perform pg_advisory_xact_lock(hashtext('carnet-link-stock'));
    delete from link_stock where sealed not like '{{sealed:' || p_kid || ':%';
    select count(*) into have from link_stock;
    room := greatest(p_target - have, 0);
    insert into link_stock (token_hash, sealed)
    select h, s from unnest(p_hashes[1:room], p_sealed[1:room]) as t(h, s);
    return greatest(room - coalesce(array_length(p_hashes, 1), 0), 0);
end $$;

create or replace function message_token_hash(p_token text) returns text
language sql immutable as $$
    select encode(sha256(convert_to(p_token, 'UTF8')), 'hex')
$$;

-- Opens (or returns) the thread of an appointment or a repair. Booking and repair call it
-- when they create the object, so the customer's contact details are known to the thread.
-- Its device is the one given, else the object's (message_ref_device).
create or replace function message_thread_open(p_store bigint, p_ref_type text, p_ref_id bigint,
                                    p_channel text, p_recipient text, p_locale text,
                                    p_name text default null, p_device bigint default null,
                                    p_recipient_bi text default null)
returns bigint language plpgsql as $$
declare
    v_id bigint;
begin
    insert into message_threads (store_id, ref_type, ref_id, channel, recipient, recipient_bi,
                                 locale, customer_name, device_id)
    values (p_store, p_ref_type, p_ref_id, p_channel, p_recipient, p_recipient_bi,
            case when p_locale in ('en', 'fr') then p_locale else 'en' end, p_name,
            coalesce(p_device, message_ref_device(p_ref_type, p_ref_id)))
    on conflict (ref_type, ref_id) do update
        set channel = excluded.channel, recipient = excluded.recipient,
            recipient_bi = excluded.recipient_bi,
            locale = excluded.locale,
            customer_name = coalesce(excluded.customer_name, message_threads.customer_name),
            device_id = coalesce(excluded.device_id, message_threads.device_id)
    returning id into v_id;
    return v_id;
end $$;

-- A served visit's messages, and its booking's, join the device staff had in hand
-- (message_ref_device): those written before it was served, and their threads' messages.
create or replace function message_attach_visit(p_visit bigint, p_appointment bigint,
                                                p_device bigint) returns void
language plpgsql as $$
begin
    -- Each by its index (ref_type, ref_id): a visit is served one at a time.
    update message_threads t set device_id = p_device
    where t.device_id is null and ((t.ref_type = 'visit' and t.ref_id = p_visit)
                                   or (t.ref_type = 'appointment' and t.ref_id = p_appointment));
    update outbox o set device_id = p_device
    where o.device_id is null and ((o.ref_type = 'visit' and o.ref_id = p_visit)
                                   or (o.ref_type = 'appointment' and o.ref_id = p_appointment));
    update outbox o set device_id = p_device
    from message_threads t
    where t.device_id = p_device and o.ref_type = 'thread' and o.ref_id = t.id
      and o.device_id is null
      and ((t.ref_type = 'visit' and t.ref_id = p_visit)
           or (t.ref_type = 'appointment' and t.ref_id = p_appointment));
end $$;

-- Staff start serving a visit (or finish it with the serial they read): its messages and its
-- booking's now follow the device, when it is recorded; a device recorded later takes them then
-- (message_device_made).
create or replace function message_visit_served() returns trigger
language plpgsql as $$
declare
    d bigint := (select id from devices where serial = new.device_serial);
begin
    if d is not null then
        perform message_attach_visit(new.id, new.appointment_id, d);
    end if;
    return null;
end $$;

create or replace trigger visits_attach_messages after update of status, device_serial on visits
    for each row when (new.status in ('in_service', 'done') and new.device_serial is not null)
    execute function message_visit_served();

-- A served visit's serial may name a device nobody has recorded yet (a walk-in's is made when
-- staff start the visit, after "you're next" was sent): when the device is made, the messages
-- of the visits served with it are attached to it (054), so the conversation still follows it.
-- A booking's or an unserved visit's serial alone attaches nothing (message_ref_device).
create or replace function message_device_made() returns trigger
language plpgsql as $$
declare
    v record;
begin
    -- From the few visits naming the serial, by their index: never a scan of the outbox.
    for v in select id, appointment_id from visits
             where device_serial = new.serial and status in ('in_service', 'done') loop
        perform message_attach_visit(v.id, v.appointment_id, new.id);
    end loop;
    return null;
end $$;

create or replace trigger devices_attach_messages after insert on devices
    for each row execute function message_device_made();

-- A new private link to a thread, as the URL to put in a message.
create or replace function message_link_mint(p_thread bigint) returns text
language plpgsql as $$
declare
    k record := link_stock_take();
begin
    insert into message_links (token_hash, purpose, thread_id, expires_at)
    values (k.token_hash, 'thread', p_thread, now() + interval '90 days');
    return '{{public_url}}/messages/#' || k.sealed;
end $$;

create or replace function message_thread_json(p_thread bigint, p_staff_view boolean) returns json
language sql stable as $$
    select json_build_object(
        'thread_id', t.id, 'store_id', t.store_id, 'ref_type', t.ref_type, 'ref_id', t.ref_id,
        'store', s.name,
        'customer_name', case when p_staff_view then t.customer_name end,
        'messages', coalesce((select json_agg(json_build_object(
                'id', m.id, 'author', m.author, 'body', m.body, 'created_at', m.created_at,
                'staff_name', case when m.staff_id is not null
                                   then (select split_part(name, ' ', 1) from staff
                                         where id = m.staff_id) end,
                'read_at', m.read_at) order by m.id)
            from messages m where m.thread_id = t.id), '[]'::json))
    from message_threads t join stores s on s.id = t.store_id
    where t.id = p_thread
$$;

-- The thread behind a customer's link (every kind is stored as the SHA-256 of its token). Besides
-- the thread links minted here, a customer may write from the links they already hold: a
-- booking's manage link and a repair's status link. Their thread is opened on first use with the
-- booking's contact or the device owner's.
create or replace function message_thread_by_link(p_token_hash text)
returns bigint language plpgsql as $$
declare
    v_id bigint;
    a appointments;
    v_repair bigint;
    c record;
begin
    select thread_id into v_id from message_links
    where token_hash = p_token_hash and purpose = 'thread' and expires_at > now();
    if found then
        return v_id;
    end if;
    select ap.* into a from appointment_tokens t join appointments ap on ap.id = t.appointment_id
    where t.token_hash = p_token_hash and t.purpose = 'manage' and t.expires_at > now();
    if found then
        select id into v_id from message_threads where ref_type = 'appointment' and ref_id = a.id;
        if not found then
            select * into c from booking_contact(a);
            v_id := message_thread_open(a.store_id, 'appointment', a.id, c.channel, c.recipient,
                                        'en', a.customer_name,
                                        -- the typed serial alone names no device: see
                                        -- message_ref_device
                                        null,
                                        case when c.channel = 'email' then a.customer_email_bi
                                             else a.customer_phone_bi end);
        end if;
        return v_id;
    end if;
    select l.repair_id into v_repair from repair_links l
    where l.token_hash = p_token_hash and l.purpose = 'status' and l.revoked_at is null
      and l.expires_at > now();
    if found then
        select id into v_id from message_threads where ref_type = 'repair' and ref_id = v_repair;
        if not found then
            select o.*, r.store_id, r.device_id into c
            from repair_orders r, repair_contact(r) o where r.id = v_repair;
            if found then
                v_id := message_thread_open(c.store_id, 'repair', v_repair, c.channel,
                                            c.recipient, 'en', c.name, c.device_id,
                                            c.recipient_bi);
            end if;
        end if;
    end if;
    if v_id is null then
        perform carnet_fail(404, 'not_found', 'token', 'this link is unknown or has expired');
    end if;
    return v_id;
end $$;

-- Not stable: the first read through a booking or repair link opens its thread, which the
-- second statement then sees (one expression would read with a snapshot from before it).
create or replace function message_customer_get(p_token_hash text)
returns json language plpgsql as $$
declare
    v_thread bigint := message_thread_by_link(p_token_hash);
begin
    return message_thread_json(v_thread, false);
end $$;

-- Appends a message to the device's health record when the device domain is installed
-- (record_append of 003_device), so the record keeps the conversation; without it the thread
-- alone keeps it. Called through EXECUTE so this migration does not depend on 003.
-- The entry names the message and holds p_proof (message_text_in) of its clear text, not the
-- text: the text is sealed, and a chained entry could neither be re-sealed under a new key nor
-- erased. The record view shows the text from messages (device_record); the proof ties it.
create or replace function message_record(p_thread bigint, p_message bigint, p_staff bigint,
                                          p_proof jsonb) returns void
language plpgsql as $$
declare
    t message_threads%rowtype;
begin
    select * into t from message_threads where id = p_thread;
    if t.device_id is null or to_regproc('record_append') is null then
        return;
    end if;
    execute 'select record_append(p_device => $1, p_kind => $2, p_content => $3, '
            'p_actor => $4, p_store => $5, p_ref_type => $6, p_ref_id => $7)'
        using t.device_id, 'message',
              jsonb_build_object('message_id', p_message, 'thread_id', t.id,
                                 'author', case when p_staff is null then 'customer' else 'staff' end)
              || p_proof,
              p_staff, t.store_id, t.ref_type, t.ref_id;
end $$;

-- A message text as it is stored: {body, mac, mac_key} as carnetd sealed it (the body a pd
-- marker, checked in clear before it was sealed; mac a keyed hash of that clear text under the
-- data key mac_key names, seal_keyed: a bare hash of a short text, "call me on 06 12 34 56 xx",
-- would give the text away to whoever tries likely ones), or a clear body (SQL tests, a caller
-- inside the database), checked and hashed here with SHA-256 (then sealed by carnetd's job).
-- proof is what the record keeps: {mac, mac_key} or {sha256}. 422 on field body or mac.
create or replace function message_text_in(p_body jsonb, out body text, out proof jsonb)
language plpgsql immutable as $$
begin
    body := p_body->>'body';
    if pd_is_marker(body) then
        if coalesce(p_body->>'mac', '') !~ '^[0-9a-f]{64}$'
           or coalesce(p_body->>'mac_key', '') !~ '^[0-9a-f]{16}$' then
            perform carnet_fail(422, 'invalid', 'mac', 'a sealed message carries its keyed hash');
        end if;
        proof := jsonb_build_object('mac', p_body->>'mac', 'mac_key', p_body->>'mac_key');
        return;
    end if;
    if body is null or length(btrim(body)) not between 1 and 4000 then
        perform carnet_fail(422, 'invalid', 'body', 'write between 1 and 4000 characters');
    end if;
    proof := jsonb_build_object('sha256', encode(sha256(convert_to(body, 'UTF8')), 'hex'));
end $$;

create or replace function message_customer_post(p_token_hash text, p_body jsonb) returns json
language plpgsql as $$
declare
    v_thread bigint := message_thread_by_link(p_token_hash);
    m record;
    v_id bigint;
begin
    select * into m from message_text_in(p_body);
    insert into messages (thread_id, author, body) values (v_thread, 'customer', m.body)
    returning id into v_id;
    perform message_record(v_thread, v_id, null, m.proof);
    perform pg_notify('carnet_messages', json_build_object(
        'store_id', (select store_id from message_threads where id = v_thread),
        'thread_id', v_thread)::text);
    return json_build_object('id', v_id, 'thread_id', v_thread);
end $$;

-- Staff: threads of a store with their unread counts (customer messages nobody has opened).
create or replace function message_threads_list(p_actor bigint, p_store bigint, p_unread_only boolean)
returns json language plpgsql stable as $$
begin
    return json_build_object(
        'unread', (select count(*) from messages m join message_threads t on t.id = m.thread_id
                   where t.store_id = p_store and m.author = 'customer' and m.read_at is null),
        'threads', coalesce((select json_agg(x order by x.last_at desc) from (
            select t.id as thread_id, t.ref_type, t.ref_id, t.customer_name,
                   count(m.id) filter (where m.author = 'customer' and m.read_at is null) as unread,
                   max(m.created_at) as last_at, count(m.id) as messages
            from message_threads t join messages m on m.thread_id = t.id
            where t.store_id = p_store
            group by t.id
            having not p_unread_only
                or count(m.id) filter (where m.author = 'customer' and m.read_at is null) > 0
            limit 200) x), '[]'::json));
end $$;

create or replace function message_thread_store(p_thread bigint, p_store bigint) returns void
language plpgsql stable as $$
begin
    if not exists (select 1 from message_threads where id = p_thread and store_id = p_store) then
        perform carnet_fail(404, 'not_found', 'thread', 'no such thread in this store');
    end if;
end $$;

-- Staff reads a thread: customer messages become read, and the read is audited.
create or replace function message_thread_get(p_actor bigint, p_store bigint, p_thread bigint,
                                   p_request text) returns json
language plpgsql as $$
begin
    perform message_thread_store(p_thread, p_store);
    update messages set read_at = now()
    where thread_id = p_thread and author = 'customer' and read_at is null;
    perform carnet_audit(p_actor, 'read', 'message_thread', p_thread::text, p_request);
    return message_thread_json(p_thread, true);
end $$;

-- Staff writes to the customer; the customer is told by their channel, with a link to answer.
create or replace function message_staff_post(p_actor bigint, p_store bigint, p_thread bigint,
                                   p_body jsonb, p_request text) returns json
language plpgsql as $$
declare
    t message_threads%rowtype;
    m record;
    v_id bigint;
begin
    perform message_thread_store(p_thread, p_store);
    select * into m from message_text_in(p_body);
    select * into t from message_threads where id = p_thread;
    if t.recipient is null then
        -- The customer was erased (their contact is gone): nobody to write to.
        perform carnet_fail(409, 'erased', 'id',
                            'this customer''s details were erased: the thread is closed');
    end if;
    insert into messages (thread_id, author, staff_id, body)
    values (p_thread, 'staff', p_actor, m.body) returning id into v_id;
    perform message_record(p_thread, v_id, p_actor, m.proof);
    -- The name and the text go into the message as they rest (markers): the outbox opens them
    -- when it delivers.
    perform outbox_enqueue('store_message', t.channel, t.recipient, t.locale,
                           jsonb_build_object('name', coalesce(t.customer_name, ''),
                                              'message', m.body,
                                              'link', message_link_mint(t.id)),
                           t.store_id, 'thread', t.id, null, t.recipient_bi);
    perform carnet_audit(p_actor, 'write', 'message_thread', p_thread::text, p_request);
    return json_build_object('id', v_id, 'thread_id', p_thread);
end $$;

-- What the customer read of a message sent to them, for the device's conversations: its
-- template's short form (the SMS text, which greets nobody by name) rendered from the message's
-- placeholders, each link replaced by [link]: a link's token is sealed in the placeholders, and
-- no link is ever shown to staff. The delivered text itself is dropped once sent (outbox_mark).
create or replace function outbox_gist(o outbox) returns text
language sql stable as $$
    select regexp_replace(
               regexp_replace(outbox_render(t.sms, outbox_placeholders(o.data, o.store_id,
                                                                       o.locale)),
                              '\{\{public_url\}\}\S*', '[link]', 'g'),
               '\{\{sealed:[^}]*\}\}', '[link]', 'g')
    from message_templates t where t.kind = o.kind and t.locale = o.locale
$$;

-- GET /api/devices/{serial}/conversations: every message with a customer about the device, at
-- every store (the health record is chain-wide, and so is what was said about the device),
-- grouped by what it was about: a repair, a booking (with its visit), a walk-in visit; groups
-- newest first, messages oldest first (when written), the newest 500 messages at most.
-- A message: what was sent (outbox: direction out, its channel and template, status and sent_at;
-- not one cancelled before it was sent, nor a reminder not yet due) or written
-- in a thread (the customer's: direction in, channel web; staff's: out by the thread's channel,
-- template store_message; the outbox's store_message notifications are these, not repeated).
-- Texts leave sealed and carnetd opens them on the way out. A message of an erased customer
-- (customer_erase) or one whose text retention dropped has no text and no contact, only
-- erased or purged. The contact (the recipient, sealed) is shown to admins and to staff of the
-- store that wrote it, as owners are (device_owner_visible): another store's customer details
-- stay that store's.
create or replace function message_device_conversations(p_actor bigint, p_serial text, p_req text)
returns json language plpgsql as $$
declare
    d devices%rowtype := device_get(p_serial);
    adm boolean := exists (select 1 from staff where id = p_actor and is_admin
                           and disabled_at is null);
    mine bigint[] := array(select store_id from staff_roles where staff_id = p_actor);
    res json;
begin
    with m as (
        select 'outbox' as source, o.id, o.created_at as at, o.sent_at,
               'out' as direction, o.channel, o.kind as template, o.status, o.store_id,
               case when v.appointment_id is not null then 'appointment' else o.ref_type end
                   as g_type,
               coalesce(v.appointment_id, o.ref_id) as g_id,
               o.erased_at is not null as erased,
               o.erased_at is null and o.purged_at is not null as purged,
               case when o.erased_at is null and o.purged_at is null then outbox_gist(o) end
                   as text,
               case when o.erased_at is null and o.purged_at is null then o.recipient end
                   as contact,
               null::text as staff_name
        from outbox o
        left join visits v on o.ref_type = 'visit' and v.id = o.ref_id
        where o.device_id = d.id and o.ref_type in ('appointment', 'visit', 'repair')
          -- what never reached the customer (cancelled) or is not due yet (a reminder)
          and o.status <> 'cancelled'
          and not (o.status = 'pending' and o.attempts = 0 and o.next_attempt_at > now())
        union all
        select 'thread', x.id, x.created_at, null,
               case x.author when 'customer' then 'in' else 'out' end,
               case x.author when 'customer' then 'web' else t.channel end,
               case x.author when 'staff' then 'store_message' end, null, t.store_id,
               t.ref_type, t.ref_id, t.erased_at is not null, false,
               case when t.erased_at is null then x.body end,
               case when t.erased_at is null then t.recipient end,
               (select split_part(s.name, ' ', 1) from staff s where s.id = x.staff_id)
        from messages x join message_threads t on t.id = x.thread_id
        where t.device_id = d.id
        order by at desc, id desc
        limit 500
    ), g as (
        select m.g_type, m.g_id, max(m.at) as last_at,
               json_agg(json_build_object(
                   'source', m.source, 'id', m.id, 'at', m.at, 'sent_at', m.sent_at,
                   'direction', m.direction,
                   'channel', m.channel, 'template', m.template, 'status', m.status,
                   'store_id', m.store_id, 'text', m.text, 'erased', m.erased,
                   'purged', m.purged, 'staff_name', m.staff_name,
                   'contact', case when adm or m.store_id = any (mine) then m.contact end)
                   order by m.at, m.id) as messages
        from m group by m.g_type, m.g_id
    )
    select coalesce(json_agg(json_build_object(
               'ref_type', g.g_type, 'ref_id', g.g_id,
               'store_id', coalesce(r.store_id, a.store_id, v.store_id),
               'store', s.name,
               'number', r.number, 'state', coalesce(r.state, a.status, v.status),
               'service', (select name from services where id = a.service_id),
               'ticket', v.ticket,
               'at', coalesce(r.opened_at, a.starts_at, v.arrived_at),
               'messages', g.messages)
               order by g.last_at desc), '[]')
    into res
    from g
    left join repair_orders r on g.g_type = 'repair' and r.id = g.g_id
    left join appointments a on g.g_type = 'appointment' and a.id = g.g_id
    left join visits v on g.g_type = 'visit' and v.id = g.g_id
    left join stores s on s.id = coalesce(r.store_id, a.store_id, v.store_id);
    perform carnet_audit(p_actor, 'read_conversations', 'device', d.id::text, p_req);
    return json_build_object('serial', d.serial, 'groups', res);
end $$;

-- Starts watching a promise: a checked-in booked customer (promised_at = their booking time)
-- or a repair (promised_at = the promised date, state = its current state).
create or replace function promise_track(p_store bigint, p_ref_type text, p_ref_id bigint,
                              p_promised_at timestamptz, p_channel text, p_recipient text,
                              p_locale text, p_data jsonb default '{}', p_state text default null,
                              p_recipient_bi text default null)
returns bigint language plpgsql as $$
declare
    v_id bigint;
begin
    insert into promises (store_id, ref_type, ref_id, promised_at, state, channel, recipient,
                          recipient_bi, locale, data)
    values (p_store, p_ref_type, p_ref_id, p_promised_at, p_state, p_channel, p_recipient,
            p_recipient_bi, coalesce(p_locale, 'en'), coalesce(p_data, '{}'))
    on conflict (ref_type, ref_id) do update
        set promised_at = excluded.promised_at, state = coalesce(excluded.state, promises.state),
            channel = excluded.channel, recipient = excluded.recipient,
            recipient_bi = excluded.recipient_bi,
            locale = excluded.locale, data = excluded.data, resolved_at = null
    returning id into v_id;
    return v_id;
end $$;

-- A repair moved (p_state), or someone knows better when it will be done (p_expected_at).
create or replace function promise_update(p_ref_type text, p_ref_id bigint, p_state text,
                               p_expected_at timestamptz default null) returns void
language sql as $$
    update promises set state = coalesce(p_state, state),
                        expected_at = coalesce(p_expected_at, expected_at)
    where ref_type = p_ref_type and ref_id = p_ref_id
$$;

-- The promise was kept (the customer was called, the repair is ready): stop watching.
create or replace function promise_resolve(p_ref_type text, p_ref_id bigint) returns void
language sql as $$
    update promises set resolved_at = now()
    where ref_type = p_ref_type and ref_id = p_ref_id and resolved_at is null
$$;

-- Tells each customer once when a promise is about to be broken, with a new estimate.
create or replace function job_early_warnings() returns int
language plpgsql as $$
declare
    p record;
    v_estimate timestamptz;
    v_thread bigint;
    d jsonb;
    n int := 0;
begin
    for p in
        select pr.*, s.late_warning_minutes,
               coalesce(r.remaining, interval '1 day') as remaining
        from promises pr
        join stores s on s.id = pr.store_id
        left join promise_state_remaining r on r.state = pr.state
        where pr.resolved_at is null and pr.warned_at is null
          and ((pr.ref_type = 'appointment'
                and pr.promised_at + make_interval(mins => s.late_warning_minutes) < now())
            or (pr.ref_type = 'repair'
                and coalesce(pr.expected_at, now() + coalesce(r.remaining, interval '1 day'))
                    > pr.promised_at
                and pr.state is distinct from 'ready'
                -- A repair's promise still ahead is the slip job's (promise.sql): it moves the
                -- promise and tells the customer, once; this warns of one that passed.
                and not exists (select 1 from repair_orders o
                                where o.id = pr.ref_id and o.promised_at > now())))
        order by pr.promised_at
        limit 100
        for update of pr skip locked
    loop
        if p.ref_type = 'appointment' then
            v_estimate := coalesce(p.expected_at,
                                   now() + make_interval(mins => p.late_warning_minutes));
        else
            -- Said to the minute beside the promise it breaks, an estimate seconds past it read
            -- as the same time twice: it is at least a quarter of an hour later, rounded up to
            -- the next quarter.
            v_estimate := date_bin('15 minutes',
                                   greatest(coalesce(p.expected_at, now() + p.remaining),
                                            p.promised_at + interval '15 minutes')
                                   + interval '15 minutes' - interval '1 microsecond',
                                   timestamptz '2000-01-01 00:00+00');
        end if;
        v_thread := message_thread_open(p.store_id, p.ref_type, p.ref_id, p.channel,
                                        p.recipient, p.locale, p.data->>'name', null,
                                        p.recipient_bi);
        d := p.data || jsonb_build_object('estimate_at', v_estimate,
                                          'starts_at', p.promised_at,
                                          'link', message_link_mint(v_thread));
        perform outbox_enqueue(case p.ref_type when 'appointment' then 'running_late'
                                              else 'promise_at_risk' end,
                               p.channel, p.recipient, p.locale, d, p.store_id,
                               p.ref_type, p.ref_id, null, p.recipient_bi);
        update promises set warned_at = now(), expected_at = v_estimate where id = p.id;
        n := n + 1;
    end loop;
    return n;
end $$;

-- Offers the survey of a finished visit or collected repair: call it in the transaction that
-- closes it. Once per object; returns the survey id, or NULL when one was already offered.
create or replace function survey_offer(p_store bigint, p_ref_type text, p_ref_id bigint, p_channel text,
                             p_recipient text, p_locale text, p_data jsonb default '{}',
                             p_recipient_bi text default null)
returns bigint language plpgsql as $$
declare
    k record := link_stock_take();
    v_id bigint;
begin
    insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at)
    values (p_store, p_ref_type, p_ref_id, k.token_hash, now() + interval '14 days')
    on conflict (ref_type, ref_id) do nothing
    returning id into v_id;
    if v_id is null then
        return null;
    end if;
    perform outbox_enqueue('survey', p_channel, p_recipient, p_locale,
                           coalesce(p_data, '{}') || jsonb_build_object(
                               'link', '{{public_url}}/survey/#' || k.sealed),
                           p_store, p_ref_type, p_ref_id, null, p_recipient_bi);
    return v_id;
end $$;

create or replace function survey_by_token(p_token_hash text) returns surveys
language plpgsql stable as $$
declare
    s surveys%rowtype;
begin
    select * into s from surveys where token_hash = p_token_hash;
    if not found or s.expires_at < now() then
        perform carnet_fail(404, 'not_found', 'token', 'this survey link is unknown or has expired');
    end if;
    return s;
end $$;

-- The score the tap on a link recorded may be a mail scanner's (one that runs the page's script,
-- e.g. Safe Links), not the customer's: the customer may correct it from the survey page for
-- this long after it was recorded, until the rest is answered.
create or replace function survey_correctable(s surveys) returns boolean
language sql stable as $$
    select s.answered_at is not null and s.followup_at is null
           and s.answered_at > now() - interval '15 minutes'
$$;

-- answered: the first question (satisfaction) is answered; followup: so is the rest;
-- correctable: the score may still be changed (survey_correctable).
create or replace function survey_get(p_token_hash text) returns json
language plpgsql stable as $$
declare
    s surveys%rowtype := survey_by_token(p_token_hash);
begin
    return json_build_object('ref_type', s.ref_type, 'store',
                             (select name from stores where id = s.store_id),
                             'answered', s.answered_at is not null,
                             'satisfaction', s.satisfaction,
                             'followup', s.followup_at is not null,
                             'correctable', survey_correctable(s),
                             'expires_at', s.expires_at);
end $$;

-- A survey is two parts, each answered once: the satisfaction score (what the tap on one of the
-- message's links sends, alone) and then, optionally, effort, recommendation and a comment. A
-- body may carry either part or both; a part answered before is 409 already_answered, except
-- the score while survey_correctable (it is replaced; answered_at stays the first one's, so
-- the window does not move). The rest cannot come before the score.
create or replace function survey_answer(p_token_hash text, p_body jsonb) returns json
language plpgsql as $$
declare
    s surveys%rowtype := survey_by_token(p_token_hash);
    v_first boolean := p_body ? 'satisfaction';
    v_rest boolean := p_body ?| array['effort', 'recommendation', 'comment'];
    v_sat int;
    v_eff int;
    v_rec int;
    v_comment text := p_body->>'comment';
begin
    -- The C handler checked types; ranges are checked here so both stay in one place.
    v_sat := (p_body->>'satisfaction')::int;
    v_eff := (p_body->>'effort')::int;
    v_rec := (p_body->>'recommendation')::int;
    if not v_first and not v_rest then
        perform carnet_fail(422, 'invalid', 'satisfaction', 'satisfaction is from 1 to 5');
    end if;
    if v_first and (v_sat is null or v_sat not between 1 and 5) then
        perform carnet_fail(422, 'invalid', 'satisfaction', 'satisfaction is from 1 to 5');
    end if;
    if p_body ? 'effort' and (v_eff is null or v_eff not between 1 and 7) then
        perform carnet_fail(422, 'invalid', 'effort', 'effort is from 1 to 7');
    end if;
    if p_body ? 'recommendation' and (v_rec is null or v_rec not between 0 and 10) then
        perform carnet_fail(422, 'invalid', 'recommendation', 'recommendation is from 0 to 10');
    end if;
    -- A comment is personal data: carnetd checked and sealed it (021). One in clear (an SQL
    -- caller) is checked here and sealed by carnetd's job.
    if not pd_is_marker(v_comment) then
        if v_comment is not null and length(v_comment) > 2000 then
            perform carnet_fail(422, 'invalid', 'comment', 'at most 2000 characters');
        end if;
        v_comment := nullif(btrim(v_comment), '');
    end if;
    select * into s from surveys where id = s.id for update;
    if v_first and s.answered_at is not null and not survey_correctable(s) then
        perform carnet_fail(409, 'already_answered', 'satisfaction',
                            'this question was already answered');
    end if;
    if not v_first and s.answered_at is null then
        perform carnet_fail(422, 'invalid', 'satisfaction', 'answer the satisfaction score first');
    end if;
    if v_rest and s.followup_at is not null then
        perform carnet_fail(409, 'already_answered', 'effort', 'this question was already answered');
    end if;
    update surveys set
        answered_at = case when v_first and answered_at is null then now() else answered_at end,
        satisfaction = case when v_first then v_sat else satisfaction end,
        followup_at = case when v_rest then now() else followup_at end,
        effort = case when v_rest then v_eff else effort end,
        recommendation = case when v_rest then v_rec else recommendation end,
        comment = case when v_rest then v_comment else comment end
    where id = s.id
    returning * into s;
    return json_build_object('answered', true, 'satisfaction', s.satisfaction,
                             'followup', s.followup_at is not null,
                             'correctable', survey_correctable(s));
end $$;

-- CSAT (% of 4-5), CES (mean effort, 1-7) and NPS (% 9-10 minus % 0-6) per week, in the
-- store's time zone, newest first: survey_weeks from the Monday p_weeks - 1 weeks ago.
create or replace function survey_report(p_actor bigint, p_store bigint, p_weeks int, p_request text)
returns json language plpgsql stable as $$
declare
    tz text;
    wk timestamp;
    lo timestamptz;
begin
    select timezone into tz from stores where id = p_store;
    if tz is null then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    wk := date_trunc('week', now() at time zone tz);
    lo := (wk - make_interval(weeks => p_weeks - 1)) at time zone tz;
    return json_build_object('store_id', p_store, 'weeks', coalesce((
        select json_agg(json_build_object(
                   'week', w.week, 'responses', w.f->'n', 'csat', w.f->'csat', 'ces', w.f->'ces',
                   'ces_n', w.f->'ces_n', 'nps', w.f->'nps', 'nps_n', w.f->'nps_n')
                   order by w.week desc)
        from survey_weeks(p_store, tz, lo, (wk + interval '7 days') at time zone tz) w),
        '[]'::json));
end $$;

-- The survey figures of a store between two instants: n answers, CSAT (% of 4-5), CES (mean
-- effort) and NPS, each null when n is 0.
create or replace function survey_figures(p_store bigint, p_lo timestamptz, p_hi timestamptz)
returns json language sql stable as $$
    select json_build_object(
        'n', count(*),
        'csat', round(100.0 * count(*) filter (where satisfaction >= 4) / nullif(count(*), 0), 1),
        'ces', round(avg(effort), 2),
        'ces_n', count(effort),
        -- the score alone is an answer (036): effort and NPS are over those who gave them
        'nps', round(100.0 * (count(*) filter (where recommendation >= 9)
                              - count(*) filter (where recommendation <= 6))
                     / nullif(count(recommendation), 0), 1),
        'nps_n', count(recommendation))
    from surveys
    where store_id = p_store and answered_at >= p_lo and answered_at < p_hi
$$;

-- survey_figures of each week (Monday, in time zone p_tz) between two instants that has
-- answers, each week cut to the instants: the weeks and the totals are the same arithmetic.
create or replace function survey_weeks(p_store bigint, p_tz text, p_lo timestamptz,
                                        p_hi timestamptz, out week date, out f json)
returns setof record language sql stable as $$
    select w.week, w.f
    from (select d::date as week,
                 survey_figures(p_store, greatest(p_lo, d::timestamp at time zone p_tz),
                                least(p_hi, (d + interval '7 days')::timestamp at time zone p_tz))
                     as f
          from generate_series(date_trunc('week', p_lo at time zone p_tz),
                               p_hi at time zone p_tz, interval '7 days') d) w
    where (w.f->>'n')::bigint > 0
$$;

-- GET .../reports/satisfaction?from=&to=: survey_figures over local dates from..to (default the
-- last 7 days) and the period before, and per week (Monday, local) of the answers in the range,
-- each week's n beside its percentages.
create or replace function survey_report_period(p_actor bigint, p_store bigint, p_from text,
                                                p_to text, p_request text)
returns json language plpgsql stable as $$
declare
    s stores;
    rg record;
    lo timestamptz;
    hi timestamptz;
begin
    s := report_store(p_store);
    select * into rg from report_range(s.timezone, p_from, p_to, 7);
    lo := rg.d_from::timestamp at time zone s.timezone;
    hi := (rg.d_to + 1)::timestamp at time zone s.timezone;
    return json_build_object(
        'report', 'satisfaction', 'store_id', s.id, 'store_code', s.code,
        'timezone', s.timezone, 'from', rg.d_from, 'to', rg.d_to,
        'totals', survey_figures(s.id, lo, hi),
        'previous', json_build_object(
            'from', rg.prev_from, 'to', rg.prev_to,
            'totals', survey_figures(s.id, rg.prev_from::timestamp at time zone s.timezone, lo)),
        'weeks', coalesce((
            select json_agg(json_build_object(
                       'week', w.week, 'n', w.f->'n', 'csat', w.f->'csat', 'ces', w.f->'ces',
                       'ces_n', w.f->'ces_n', 'nps', w.f->'nps', 'nps_n', w.f->'nps_n')
                       order by w.week)
            from survey_weeks(s.id, s.timezone, lo, hi) w), '[]'::json));
end $$;

create or replace function outbox_list(p_actor bigint, p_store bigint, p_status text, p_limit int)
returns json language plpgsql stable as $$
begin
    if p_status is not null
       and p_status not in ('pending', 'sending', 'sent', 'failed', 'cancelled') then
        perform carnet_fail(422, 'invalid', 'status',
                            'status is pending, sending, sent, failed or cancelled');
    end if;
    return json_build_object(
        'counts', (select coalesce(json_object_agg(status, n), '{}'::json) from (
                       select status, count(*) as n from outbox where store_id = p_store
                       group by status) c),
        'messages', coalesce((select json_agg(json_build_object(
                'id', id, 'kind', kind, 'channel', channel, 'status', status,
                'attempts', attempts, 'last_error', last_error, 'created_at', created_at,
                'next_attempt_at', next_attempt_at, 'sent_at', sent_at,
                'transport', transport, 'ref_type', ref_type, 'ref_id', ref_id) order by id desc)
            from (select * from outbox where store_id = p_store
                  and (p_status is null or status = p_status)
                  order by id desc limit p_limit) o), '[]'::json));
end $$;

-- A manager sends a failed message again (after fixing an address or the mail server).
create or replace function outbox_retry(p_actor bigint, p_store bigint, p_id bigint, p_request text)
returns json language plpgsql as $$
declare
    o outbox%rowtype;
begin
    select * into o from outbox where id = p_id and store_id = p_store for update;
    if not found then
        perform carnet_fail(404, 'not_found', 'id', 'no such message in this store');
    end if;
    if o.status <> 'failed' then
        perform carnet_fail(409, 'not_failed', 'id', 'only a failed message can be sent again');
    end if;
    update outbox set status = 'pending', attempts = 0, next_attempt_at = now(), claim = null
    where id = p_id;
    perform carnet_audit(p_actor, 'retry', 'outbox', p_id::text, p_request);
    return json_build_object('id', p_id, 'status', 'pending');
end $$;
