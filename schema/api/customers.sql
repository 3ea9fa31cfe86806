-- Customers: access to and erasure of what the stores hold about one person (GDPR articles 15
-- and 17), and the requests for erasure customers make from their links (issue 12, point 5).
--
-- A person is found only through the blind indexes of 017 (carnetd computes them from the email
-- or phone asked about and passes them in; a clear email never reaches SQL): bookings, standby
-- places, device ownerships, walk-in contacts, thread recipients, outbox and promise recipients.
-- From those rows follow the rest: visits of their bookings, repairs whose contact is one of their
-- owner rows, threads about their bookings or repairs, surveys about their visits or repairs.
--
-- Scope: an admin acts for the chain and sees everything; a manager sees a person only when they
-- are a customer of one of the manager's stores (a booking, visit, standby place, repair or
-- thread there), and then only what those stores hold, plus the ownerships the device record
-- already shows them (device_owner_visible). Anyone else's customer is answered exactly as an
-- unknown person (404), so the answer says nothing about other stores. Erasure has the same
-- scope as access: a manager erases what their stores hold.
--
-- Erasure keeps the rows (they are the stores' business records) and removes what is personal:
-- names become 'erased customer' (retention_erased_name(), as retention writes: clear text, not
-- personal data), emails, phones, contacts and recipients and their blind indexes become NULL,
-- message texts become 'erased', messages still waiting to be sent to them are cancelled with
-- their texts. The device's hash-chained record is
-- append-only; a 'message' entry written before entries held only a hash may hold the text: it
-- is redacted in place (the one update the record's trigger allows, see record_refuse_rewrite)
-- and an 'erasure' entry appended to the same chain names the redacted entry, its hash as
-- chained and the SHA-256 of its redacted canonical text, so carnetd's verification accepts the
-- redacted entry on that chained word and still checks everything else (server/device.c).

-- The person's rows in the caller's scope. p_em, p_ph: blind indexes (either may be NULL).
-- held is false when nothing is in scope (the caller answers 404 then).
create or replace function customer_scope(p_actor bigint, p_em text, p_ph text,
    out held boolean, out stores bigint[], out appointments bigint[], out visits bigint[],
    out standby bigint[], out owners bigint[], out repairs bigint[], out threads bigint[],
    out outbox bigint[], out promises bigint[], out surveys bigint[])
language plpgsql stable as $$
declare
    bis text[] := array_remove(array[p_em, p_ph], null);
    adm boolean := exists (select 1 from staff where id = p_actor and is_admin
                           and disabled_at is null);
    a_all bigint[];
    o_all bigint[];
    r_all bigint[];
    person bigint[];
begin
    select coalesce(array_agg(id), '{}') into a_all from appointments
    where customer_email_bi = p_em or customer_phone_bi = p_ph;
    select coalesce(array_agg(id), '{}') into o_all from device_owners
    where email_bi = p_em or phone_bi = p_ph;
    select coalesce(array_agg(id), '{}') into r_all from repair_orders
    where contact_owner_id = any (o_all);

    -- The stores the person is a customer of.
    select coalesce(array_agg(distinct s), '{}') into person from (
        select store_id as s from appointments where id = any (a_all)
        union select store_id from visits
            where contact_bi = any (bis) or appointment_id = any (a_all)
        union select store_id from standby where email_bi = p_em or phone_bi = p_ph
        union select store_id from repair_orders where id = any (r_all)
        union select store_id from message_threads where recipient_bi = any (bis)
            or (ref_type = 'appointment' and ref_id = any (a_all))
            or (ref_type = 'repair' and ref_id = any (r_all))) x;
    if adm then
        stores := person;
    else
        select coalesce(array_agg(distinct store_id), '{}') into stores from staff_roles
        where staff_id = p_actor and role = 'manager' and store_id = any (person)
          and exists (select 1 from staff where id = p_actor and disabled_at is null);
    end if;

    select coalesce(array_agg(id order by id), '{}') into appointments from appointments
    where id = any (a_all) and store_id = any (stores);
    select coalesce(array_agg(id order by id), '{}') into visits from visits
    where (contact_bi = any (bis) or appointment_id = any (a_all)) and store_id = any (stores);
    select coalesce(array_agg(id order by id), '{}') into standby from standby
    where (email_bi = p_em or phone_bi = p_ph) and store_id = any (stores);
    select coalesce(array_agg(id order by id), '{}') into repairs from repair_orders
    where id = any (r_all) and store_id = any (stores);
    -- Owner rows: those the record already shows the caller, and the contacts of the repairs
    -- in scope; only for a caller who may see the person at all.
    select coalesce(array_agg(o.id order by o.id), '{}') into owners from device_owners o
    where o.id = any (o_all) and (cardinality(stores) > 0 or adm)
      and (adm or device_owner_visible(p_actor, o)
           or exists (select 1 from repair_orders r where r.id = any (repairs)
                      and r.contact_owner_id = o.id));
    select coalesce(array_agg(id order by id), '{}') into threads from message_threads
    where (recipient_bi = any (bis) or (ref_type = 'appointment' and ref_id = any (a_all))
           or (ref_type = 'repair' and ref_id = any (r_all)))
      and store_id = any (stores);
    select coalesce(array_agg(id order by id), '{}') into outbox from outbox
    where (recipient_bi = any (bis)
           or (ref_type = 'appointment' and ref_id = any (appointments))
           or (ref_type = 'thread' and ref_id = any (threads))
           or (ref_type = 'standby' and ref_id = any (standby))
           or (ref_type = 'visit' and ref_id = any (visits))
           or (ref_type = 'repair' and ref_id = any (repairs)))
      and (store_id = any (stores) or (adm and store_id is null));
    select coalesce(array_agg(id order by id), '{}') into promises from promises
    where (recipient_bi = any (bis)
           or (ref_type = 'appointment' and ref_id = any (appointments))
           or (ref_type = 'repair' and ref_id = any (repairs)))
      and store_id = any (stores);
    select coalesce(array_agg(id order by id), '{}') into surveys from surveys
    where ((ref_type = 'visit' and ref_id = any (visits))
           or (ref_type = 'repair' and ref_id = any (repairs)))
      and store_id = any (stores);
    held := cardinality(stores) > 0 or cardinality(owners) > 0;
end $$;

-- Checks the blind indexes carnetd passes: exactly one, 64 hex digits.
create or replace function customer_check_bi(p_em text, p_ph text) returns void
language plpgsql immutable as $$
begin
    if (p_em is null) = (p_ph is null) then
        perform carnet_fail(422, 'invalid', 'email', 'give exactly one: an email or a phone');
    end if;
    if coalesce(p_em, p_ph) !~ '^[0-9a-f]{64}$' then
        perform carnet_fail(422, 'invalid', case when p_em is null then 'phone' else 'email' end,
            'not a blind index');
    end if;
end $$;

create or replace function customer_not_found(p_em text) returns void
language plpgsql immutable as $$
begin
    perform carnet_fail(404, 'not_found', case when p_em is null then 'phone' else 'email' end,
        'no customer with that ' || case when p_em is null then 'phone number' else 'email' end);
end $$;

-- GET /api/customers?email=|phone=: everything held about the person in the caller's scope.
-- Personal data leaves as stored (markers); carnetd opens it on its way out.
-- The person an access or an erasure is about, as the actor may see them; 404 (the same for an
-- unknown person and another store's customer) when there is nobody there for them.
create or replace function customer_found(p_actor bigint, p_em text, p_ph text) returns record
language plpgsql as $$
declare
    s record;
begin
    perform customer_check_bi(p_em, p_ph);
    s := customer_scope(p_actor, p_em, p_ph);
    if not s.held then
        perform customer_not_found(p_em);
    end if;
    return s;
end $$;

create or replace function customer_access(p_actor bigint, p_em text, p_ph text, p_req text)
returns json
language plpgsql as $$
declare
    s record;
begin
    s := customer_found(p_actor, p_em, p_ph);
    perform carnet_audit(p_actor, 'customer_access', 'customer', coalesce(p_em, p_ph), p_req);
    return json_build_object(
        'found_by', case when p_em is null then 'phone' else 'email' end,
        'stores', (select coalesce(json_agg(json_build_object('id', id, 'name', name) order by id),
                                   '[]') from stores where id = any (s.stores)),
        'bookings', (select coalesce(json_agg(json_build_object(
                'id', a.id, 'store_id', a.store_id, 'service', sv.name, 'starts_at', a.starts_at,
                'ends_at', a.ends_at, 'status', a.status, 'code', a.code,
                'name', a.customer_name, 'email', a.customer_email, 'phone', a.customer_phone,
                'device_serial', a.device_serial, 'problem', a.problem,
                'created_at', a.created_at, 'erased_at', a.erased_at) order by a.id), '[]')
            from appointments a join services sv on sv.id = a.service_id
            where a.id = any (s.appointments)),
        'visits', (select coalesce(json_agg(json_build_object(
                'id', v.id, 'store_id', v.store_id, 'kind', v.kind, 'day', v.day,
                'ticket', v.ticket, 'name', v.name, 'contact', v.contact, 'party', v.party,
                'status', v.status, 'arrived_at', v.arrived_at, 'done_at', v.done_at,
                'appointment_id', v.appointment_id, 'device_serial', v.device_serial)
                order by v.id), '[]')
            from visits v where v.id = any (s.visits)),
        'standby', (select coalesce(json_agg(json_build_object(
                'id', b.id, 'store_id', b.store_id, 'service_id', b.service_id, 'day', b.day,
                'name', b.name, 'email', b.email, 'phone', b.phone, 'status', b.status,
                'created_at', b.created_at) order by b.id), '[]')
            from standby b where b.id = any (s.standby)),
        'devices', (select coalesce(json_agg(json_build_object(
                'serial', d.serial, 'model', d.model, 'warranty_end', d.warranty_end,
                'owner', json_build_object('id', o.id, 'name', o.name, 'email', o.email,
                                           'phone', o.phone, 'since', o.since, 'until', o.until),
                'current', o.until is null) order by o.id), '[]')
            from device_owners o join devices d on d.id = o.device_id
            where o.id = any (s.owners)),
        'repairs', (select coalesce(json_agg(json_build_object(
                'id', r.id, 'number', r.number, 'store_id', r.store_id, 'serial', d.serial,
                'state', r.state, 'problem', r.problem, 'opened_at', r.opened_at,
                'promised_at', r.promised_at, 'estimate_cents', r.estimate_cents,
                'estimate_state', r.estimate_state, 'contact_owner_id', r.contact_owner_id,
                -- Their answers to its estimates: a decline's reason, a call-back request.
                'estimate_answers', (select coalesce(json_agg(json_build_object(
                        'version', e.version, 'state', e.state, 'decided_at', e.decided_at,
                        'decline_reason', e.decline_reason,
                        'callback_requested_at', e.callback_requested_at,
                        'callback_at', e.callback_at, 'callback_note', e.callback_note)
                        order by e.version), '[]')
                    from repair_estimates e where e.repair_id = r.id
                      and (e.decided_at is not null or e.callback_requested_at is not null)))
                order by r.id), '[]')
            from repair_orders r join devices d on d.id = r.device_id
            where r.id = any (s.repairs)),
        'threads', (select coalesce(json_agg(json_build_object(
                'id', t.id, 'store_id', t.store_id, 'ref_type', t.ref_type, 'ref_id', t.ref_id,
                'channel', t.channel, 'recipient', t.recipient, 'name', t.customer_name,
                'created_at', t.created_at,
                'messages', (select coalesce(json_agg(json_build_object(
                        'id', m.id, 'author', m.author, 'body', m.body,
                        'created_at', m.created_at) order by m.id), '[]')
                    from messages m where m.thread_id = t.id)) order by t.id), '[]')
            from message_threads t where t.id = any (s.threads)),
        -- What was sent to them: metadata only (the texts are dropped once delivered).
        'messages_sent', (select coalesce(json_agg(json_build_object(
                'id', x.id, 'store_id', x.store_id, 'kind', x.kind, 'channel', x.channel,
                'recipient', x.recipient, 'status', x.status, 'created_at', x.created_at,
                'sent_at', x.sent_at, 'ref_type', x.ref_type, 'ref_id', x.ref_id)
                order by x.id), '[]')
            from outbox x where x.id = any (s.outbox)),
        'promises', (select coalesce(json_agg(json_build_object(
                'id', p.id, 'store_id', p.store_id, 'ref_type', p.ref_type, 'ref_id', p.ref_id,
                'promised_at', p.promised_at, 'channel', p.channel, 'recipient', p.recipient,
                'resolved_at', p.resolved_at) order by p.id), '[]')
            from promises p where p.id = any (s.promises)),
        'surveys', (select coalesce(json_agg(json_build_object(
                'id', v.id, 'store_id', v.store_id, 'ref_type', v.ref_type, 'ref_id', v.ref_id,
                'answered_at', v.answered_at, 'satisfaction', v.satisfaction,
                'effort', v.effort, 'recommendation', v.recommendation, 'comment', v.comment)
                order by v.id), '[]')
            from surveys v where v.id = any (s.surveys)));
end $$;

-- The content of a 'message' entry of the health record with its text (or the hash of it)
-- replaced by 'erased'.
create or replace function customer_redacted_content(c jsonb) returns jsonb
language sql immutable as $$
    select c || jsonb_build_object('erased', true)
             || case when c ? 'body' then '{"body": "erased"}'::jsonb else '{}' end
             || case when c ? 'text' then '{"text": "erased"}'::jsonb else '{}' end
             -- a bare hash of a short text can be guessed by trying likely texts: it goes too
             || case when c ? 'sha256' then '{"sha256": "erased"}'::jsonb else '{}' end
             || case when c ? 'mac' then '{"mac": "erased"}'::jsonb else '{}' end
$$;

-- True when a store outside p_stores holds the ownership p_owner too: one of its repairs has it
-- as its contact (a repair keeps the contact given at intake, and messages it), or its staff
-- recorded it. Erasing it would erase that store's business record, which needs that store's
-- manager or an admin (README, "Access and erasure").
create or replace function customer_owner_held_elsewhere(p_owner bigint, p_stores bigint[])
returns boolean
language sql stable as $$
    select exists (select 1 from repair_orders r
                   where r.contact_owner_id = p_owner and r.store_id <> all (p_stores))
        or exists (select 1 from record_entries e
                   where e.kind = 'owner_change' and e.ref_type = 'owner' and e.ref_id = p_owner
                     and e.store_id is not null and e.store_id <> all (p_stores))
$$;

-- POST /api/customers/erase: see the header. An unknown person, or one already erased (their
-- blind indexes are gone with their contacts), is 404 and changes nothing.
create or replace function customer_erase(p_actor bigint, p_em text, p_ph text, p_req text)
returns json
language plpgsql as $$
declare
    s record;
    e record_entries%rowtype;
    n_redacted int := 0;
    redacted jsonb := '{}';    -- device id -> [{entry, hash, canonical_sha256}]
    dev text;
    n jsonb;
    k int;
    n_owners int;
    adm boolean := exists (select 1 from staff where id = p_actor and is_admin
                           and disabled_at is null);
begin
    s := customer_found(p_actor, p_em, p_ph);

    update appointments set customer_name = retention_erased_name(), customer_email = null,
        customer_phone = null, customer_email_bi = null, customer_phone_bi = null,
        erased_at = now(), updated_at = now()
    where id = any (s.appointments);
    -- Their links go with them: nothing opens the erased booking or repair any more.
    delete from appointment_tokens where appointment_id = any (s.appointments);
    update visits set name = retention_erased_name(), contact = null, contact_bi = null,
        problem = null, erased_at = now()
    where id = any (s.visits);
    -- A call out of turn's reason is staff text that may name them (051): it goes too.
    update visit_calls set override_reason = null
    where visit_id = any (s.visits) and override_reason is not null;
    update standby set name = retention_erased_name(), email = null, phone = null,
        email_bi = null, phone_bi = null, erased_at = now(),
        status = case when status = 'waiting' then 'left' else status end
    where id = any (s.standby);
    -- An ownership is on the shared record: a manager erases it only when no other store holds
    -- it too (see customer_owner_held_elsewhere); an admin erases it for the chain.
    update device_owners o set name = retention_erased_name(), email = null, phone = null,
        email_bi = null, phone_bi = null, erased_at = now()
    where o.id = any (s.owners)
      and (adm or not customer_owner_held_elsewhere(o.id, s.stores));
    get diagnostics n_owners = row_count;
    update repair_links set revoked_at = coalesce(revoked_at, now())
    where repair_id = any (s.repairs);
    update message_threads set customer_name = retention_erased_name(), recipient = null,
        recipient_bi = null, erased_at = now()
    where id = any (s.threads);
    update messages set body = 'erased' where thread_id = any (s.threads);
    delete from message_links where thread_id = any (s.threads);
    -- Messages not yet sent are cancelled; every one keeps its metadata only.
    update outbox set status = 'cancelled', claimed_until = null
    where id = any (s.outbox) and status in ('pending', 'failed');
    update outbox set recipient = null, recipient_bi = null, subject = '', body = '', sms = '',
        data = '{}'
    where id = any (s.outbox) and status <> 'sending';
    -- The device's conversations (054) show each of them as erased, one being sent included.
    update outbox set erased_at = coalesce(erased_at, now()) where id = any (s.outbox);
    update promises set recipient = null, recipient_bi = null, data = '{}',
        warned_at = coalesce(warned_at, now())
    where id = any (s.promises);
    update surveys set comment = null where id = any (s.surveys) and comment is not null;
    -- Their signatures of intake terms (026): the image goes, its hash and the record's entry stay.
    update repair_signatures set image = null where repair_id = any (s.repairs) and image is not null;
    update repair_estimates set decline_reason = null, callback_note = null
    where repair_id = any (s.repairs) and (decline_reason is not null or callback_note is not null);

    -- Message entries of their threads that still hold a text or its hash (see the header).
    for e in
        select * from record_entries
        where kind = 'message' and ref_type in ('appointment', 'repair')
          and (content->>'thread_id') ~ '^[0-9]{1,18}$'
          and (content->>'thread_id')::bigint = any (s.threads)
          and (content ? 'body' or content ? 'text' or content ? 'sha256' or content ? 'mac')
          and not coalesce((content->>'erased')::boolean, false)
        order by id
    loop
        perform set_config('carnet.redact_entry', e.id::text, true);
        update record_entries set content = customer_redacted_content(e.content)
        where id = e.id returning * into e;
        redacted := jsonb_set(redacted, array[e.device_id::text],
            coalesce(redacted->(e.device_id::text), '[]')
            || jsonb_build_array(jsonb_build_object('entry', e.id,
                   'hash', encode(e.hash, 'hex'),
                   'canonical_sha256',
                   encode(sha256(convert_to(record_canonical(e), 'UTF8')), 'hex'))));
        n_redacted := n_redacted + 1;
    end loop;
    perform set_config('carnet.redact_entry', '', true);
    for dev, n in select * from jsonb_each(redacted) loop
        perform record_append(dev::bigint, 'erasure',
            jsonb_build_object('redacted', n, 'reason', 'customer erasure'), p_actor);
    end loop;

    update erasure_requests set erased_at = now(), erased_by = p_actor
    where erased_at is null
      and ((ref_type = 'appointment' and ref_id = any (s.appointments))
           or (ref_type = 'repair' and ref_id = any (s.repairs)));
    get diagnostics k = row_count;

    -- Who erased whom: the person as the blind index they were found by, never in clear.
    perform carnet_audit(p_actor, 'customer_erase', 'customer', coalesce(p_em, p_ph), p_req);
    return json_build_object('erased', true, 'stores', to_json(s.stores),
        'bookings', cardinality(s.appointments), 'visits', cardinality(s.visits),
        'standby', cardinality(s.standby), 'owners', n_owners,
        'repairs', cardinality(s.repairs), 'threads', cardinality(s.threads),
        'messages_sent', cardinality(s.outbox), 'record_entries_redacted', n_redacted,
        'requests_closed', k);
end $$;

-- Records a customer's erasure request for an object of a store; asking again while it is open
-- answers the same request.
create or replace function customer_erasure_request(p_store bigint, p_type text, p_id bigint)
returns json
language plpgsql as $$
declare
    q erasure_requests%rowtype;
begin
    insert into erasure_requests (store_id, ref_type, ref_id) values (p_store, p_type, p_id)
    on conflict (ref_type, ref_id) where erased_at is null do nothing
    returning * into q;
    if q.id is null then
        select * into q from erasure_requests
        where ref_type = p_type and ref_id = p_id and erased_at is null;
    end if;
    perform carnet_audit(null, 'erasure_request', p_type, p_id::text, null);
    return json_build_object('requested', true, 'requested_at', q.requested_at,
        'message', 'The store has your request and will erase your personal data.');
end $$;

-- POST /api/manage/{token}/erasure-request
create or replace function customer_erasure_request_manage(p_token_hash text) returns json
language plpgsql as $$
declare
    a appointments%rowtype := booking_by_token(p_token_hash, false);
begin
    return customer_erasure_request(a.store_id, 'appointment', a.id);
end $$;

-- POST /api/repair-status/{token}/erasure-request
create or replace function customer_erasure_request_repair(p_token_hash text) returns json
language plpgsql as $$
declare
    l repair_links%rowtype := repair_link_find(p_token_hash, 'status');
    r repair_orders%rowtype;
begin
    select * into r from repair_orders where id = l.repair_id;
    return customer_erasure_request(r.store_id, 'repair', r.id);
end $$;

-- GET /api/stores/{store}/erasure-requests: the store's requests, open ones first, with the
-- contact to erase (as stored: carnetd opens it; an erased one reads 'erased customer').
create or replace function customer_erasure_requests(p_actor bigint, p_store bigint, p_req text)
returns json
language plpgsql as $$
begin
    perform carnet_require(p_actor, p_store, array['manager']);
    perform carnet_audit_read(p_actor, 'list', 'erasure_requests', p_store::text, p_req);
    return (select coalesce(json_agg(json_build_object(
            'id', q.id, 'ref_type', q.ref_type, 'ref_id', q.ref_id,
            'requested_at', q.requested_at, 'erased_at', q.erased_at, 'erased_by', q.erased_by,
            'status', case when q.erased_at is null then 'open' else 'erased' end,
            'name', coalesce(a.customer_name, o.name),
            'email', coalesce(a.customer_email, o.email),
            'phone', coalesce(a.customer_phone, o.phone),
            'repair_number', r.number)
            order by q.erased_at is not null, q.requested_at desc, q.id desc), '[]')
        from erasure_requests q
        left join appointments a on q.ref_type = 'appointment' and a.id = q.ref_id
        left join repair_orders r on q.ref_type = 'repair' and r.id = q.ref_id
        left join device_owners o on o.id = r.contact_owner_id
        where q.store_id = p_store);
end $$;
