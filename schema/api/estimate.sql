-- Estimates: what a repair will cost, line by line, and the customer's answer by link.
--
-- Loaded after the numbered migrations on every migrate (tables in 027_estimate.sql), so this
-- file holds each function's one current definition.
--
-- Money is integers in the minor unit of the store's currency (stores.currency), never floating
-- point. A line is a part or labour: a quantity (0.01 to 999, two decimals at most: 1.5 hours of
-- labour), a unit price without VAT (0 to 10 000 000 minor units) and a VAT rate in basis points
-- (0 to 3000: 2000 is 20 %, 550 is 5.5 %). The totals are computed here, once, when a version is
-- written, and kept with it:
--   net of a line  = quantity x unit price, rounded half up to the minor unit;
--   VAT of a rate  = (sum of the nets of the lines at that rate) x rate / 10000, rounded half up
--                    (one rounding per rate, as an invoice states it, not one per line);
--   gross          = sum of the nets + sum of the VAT; at most 100 000 000 (the repair order's
--                    estimate_cents limit), beyond which the estimate is refused.
-- Every value is positive, so PostgreSQL's round(numeric) (half away from zero) is half up.
--
-- Versions: writing an estimate makes a new version; a pending one becomes `superseded` and
-- stays as history. Each version gets its own approval link (repair_links.estimate_id): a link
-- shows and answers its own version only, so a customer who reads version 1 cannot approve
-- version 2 by accident (409 estimate_changed), and the body may also name the version shown.

-- An amount as a message prints it: "129.50 EUR" ("1200 JPY" for a currency without a minor
-- unit).
create or replace function repair_estimate_money(p_amount bigint, p_currency text) returns text
language sql immutable as $$
    select case when p_currency in ('JPY', 'KRW', 'ISK', 'CLP', 'VND', 'XOF', 'XAF', 'UGX')
                then format('%s %s', p_amount, p_currency)
                else format('%s.%s %s', p_amount / 100, lpad((p_amount % 100)::text, 2, '0'),
                            p_currency) end
$$;

-- Checks a body's lines and returns them with their nets:
-- [{kind, description, quantity, unit_price, vat_rate, net}]. 422 naming lines[i].<member>.
create or replace function repair_estimate_lines_in(p jsonb) returns jsonb
language plpgsql immutable as $$
declare
    l jsonb;
    i int := 0;
    q numeric;
    res jsonb := '[]';
begin
    if p is null or p = 'null'::jsonb then
        perform carnet_fail(422, 'required', 'lines', 'an estimate has at least one line');
    end if;
    if jsonb_typeof(p) <> 'array' then
        perform carnet_fail(422, 'invalid', 'lines', 'a list of lines');
    end if;
    if jsonb_array_length(p) = 0 then
        perform carnet_fail(422, 'required', 'lines', 'an estimate has at least one line');
    end if;
    if jsonb_array_length(p) > 30 then
        perform carnet_fail(422, 'too_many', 'lines', 'at most 30 lines');
    end if;
    for l in select * from jsonb_array_elements(p) loop
        if jsonb_typeof(l) <> 'object' then
            perform carnet_fail(422, 'invalid', format('lines[%s]', i), 'a line is an object');
        end if;
        if l->>'kind' is null or l->>'kind' not in ('part', 'labour')
           or jsonb_typeof(l->'kind') <> 'string' then
            perform carnet_fail(422, 'invalid', format('lines[%s].kind', i), 'part or labour');
        end if;
        if jsonb_typeof(l->'description') is distinct from 'string'
           or length(btrim(l->>'description')) not between 1 and 200 then
            perform carnet_fail(422, 'invalid', format('lines[%s].description', i),
                'a description of 1 to 200 characters');
        end if;
        if jsonb_typeof(l->'quantity') is distinct from 'number'
           or (l->>'quantity') !~ '^[0-9]{1,3}(\.[0-9]{1,2})?$' or (l->>'quantity')::numeric = 0 then
            perform carnet_fail(422, 'invalid', format('lines[%s].quantity', i),
                'a quantity from 0.01 to 999, two decimals at most');
        end if;
        if jsonb_typeof(l->'unit_price') is distinct from 'number'
           or (l->>'unit_price') !~ '^[0-9]{1,8}$' or (l->>'unit_price')::bigint > 10000000 then
            perform carnet_fail(422, 'invalid', format('lines[%s].unit_price', i),
                'a unit price without VAT in minor units (cents), 0 to 10000000');
        end if;
        if jsonb_typeof(l->'vat_rate') is distinct from 'number'
           or (l->>'vat_rate') !~ '^[0-9]{1,4}$' or (l->>'vat_rate')::int > 3000 then
            perform carnet_fail(422, 'invalid', format('lines[%s].vat_rate', i),
                'a VAT rate in basis points, 0 to 3000 (2000 is 20 %)');
        end if;
        q := (l->>'quantity')::numeric;
        res := res || jsonb_build_object(
            'kind', l->>'kind', 'description', btrim(l->>'description'), 'quantity', q,
            'unit_price', (l->>'unit_price')::bigint, 'vat_rate', (l->>'vat_rate')::int,
            'net', round(q * (l->>'unit_price')::bigint)::bigint);
        i := i + 1;
    end loop;
    return res;
end $$;

-- The totals of checked lines (repair_estimate_lines_in): the VAT per rate, rounded once per rate.
create or replace function repair_estimate_totals(p_lines jsonb, out net_total bigint,
                                                  out vat_total bigint, out gross_total bigint,
                                                  out vat jsonb)
language sql immutable as $$
    with per_rate as (
        select (l->>'vat_rate')::int as rate, sum((l->>'net')::bigint) as base
        from jsonb_array_elements(p_lines) l group by 1
    ), taxed as (
        select rate, base, round(base * rate / 10000.0)::bigint as tax from per_rate
    )
    select coalesce(sum(base), 0)::bigint, coalesce(sum(tax), 0)::bigint,
           coalesce(sum(base) + sum(tax), 0)::bigint,
           coalesce(jsonb_agg(jsonb_build_object('rate', rate, 'base', base, 'vat', tax)
                              order by rate), '[]')
    from taxed
$$;

-- One version as JSON. p_staff adds who wrote it, the customer's decline reason and call-back
-- note (sealed: carnetd opens them on the way out); the customer sees their own answer's state.
create or replace function repair_estimate_json(p_estimate bigint, p_staff boolean) returns json
language sql stable as $$
    select json_build_object(
        'version', e.version, 'state', e.state, 'currency', e.currency,
        'diagnosis', e.diagnosis, 'terms', e.terms,
        'lines', (select coalesce(json_agg(json_build_object(
                      'kind', l.kind, 'description', l.description, 'quantity', l.quantity,
                      'unit_price', l.unit_price, 'vat_rate', l.vat_rate, 'net', l.net)
                      order by l.position), '[]')
                  from repair_estimate_lines l where l.estimate_id = e.id),
        'vat', e.vat, 'net_total', e.net_total, 'vat_total', e.vat_total,
        'gross_total', e.gross_total, 'amount_cents', e.gross_total,
        'created_at', e.created_at, 'decided_at', e.decided_at,
        'decline_reason', case when p_staff then e.decline_reason end,
        'callback', case when e.callback_requested_at is null then null
                         else json_build_object('requested_at', e.callback_requested_at,
                                                'at', e.callback_at,
                                                'note', case when p_staff then e.callback_note end,
                                                'done_at', case when p_staff then e.callback_done_at end,
                                                'outcome', case when p_staff then e.callback_outcome end)
                    end,
        'written_by', case when p_staff then (select s.name from staff s where s.id = e.created_by) end)
    from repair_estimates e where e.id = p_estimate
$$;

-- The newest version of a repair's estimate (null when none was written). Staff also get the
-- earlier versions, newest first.
create or replace function repair_estimate_current(p_repair bigint, p_staff boolean) returns json
language sql stable as $$
    select case when p_staff
                then (repair_estimate_json(e.id, true)::jsonb || jsonb_build_object('versions',
                         (select jsonb_agg(jsonb_build_object('version', o.version,
                                     'state', o.state, 'gross_total', o.gross_total,
                                     'created_at', o.created_at) order by o.version desc)
                          from repair_estimates o where o.repair_id = p_repair)))::json
                else repair_estimate_json(e.id, false) end
    from repair_estimates e where e.repair_id = p_repair
    order by e.version desc limit 1
$$;

-- PUT /api/repairs/{id}/estimate: {diagnosis, terms?, lines: [{kind: part|labour, description,
-- quantity, unit_price, vat_rate}], currency?}. The currency is the store's (a different one is
-- refused). A new version supersedes the pending one; p_link_hash is the hash of the new
-- version's approval token made by carnetd, p_link_token the token, for the owner's message.
create or replace function repair_estimate(p_actor bigint, p_id bigint, p jsonb, p_link_hash text,
                                p_req text, p_link_token text default null) returns json
language plpgsql as $$
declare
    r repair_orders%rowtype := repair_lock(p_actor, p_id, array['technician', 'manager']);
    cur text := (select currency from stores where id = r.store_id);
    lines jsonb;
    t record;
    v int;
    e bigint;
begin
    if r.state not in ('intake', 'diagnosing', 'awaiting_approval') then
        perform carnet_fail(409, 'bad_state', 'state',
            format('an estimate is written before the repair starts, not in %s', r.state));
    end if;
    if jsonb_typeof(p->'diagnosis') is distinct from 'string'
       or length(btrim(p->>'diagnosis')) = 0 then
        perform carnet_fail(422, 'required', 'diagnosis', 'summarise the diagnosis for the customer');
    end if;
    if length(btrim(p->>'diagnosis')) > 4000 then
        perform carnet_fail(422, 'invalid', 'diagnosis', 'at most 4000 characters');
    end if;
    if p ? 'terms' and p->'terms' <> 'null'::jsonb
       and (jsonb_typeof(p->'terms') <> 'string' or length(p->>'terms') > 4000) then
        perform carnet_fail(422, 'invalid', 'terms', 'terms of at most 4000 characters');
    end if;
    if p ? 'currency' and (jsonb_typeof(p->'currency') <> 'string' or p->>'currency' <> cur) then
        perform carnet_fail(422, 'invalid', 'currency',
            format('this store''s estimates are in %s', cur));
    end if;
    lines := repair_estimate_lines_in(p->'lines');
    select * into t from repair_estimate_totals(lines);
    if t.gross_total > 100000000 then
        perform carnet_fail(422, 'too_large', 'lines',
            format('the total may not exceed %s', repair_estimate_money(100000000, cur)));
    end if;
    update repair_estimates set state = 'superseded' where repair_id = r.id and state = 'pending';
    select coalesce(max(version), 0) + 1 into v from repair_estimates where repair_id = r.id;
    insert into repair_estimates (repair_id, version, currency, diagnosis, terms, net_total,
                                  vat_total, gross_total, vat, created_by)
    values (r.id, v, cur, btrim(p->>'diagnosis'), nullif(btrim(p->>'terms'), ''), t.net_total,
            t.vat_total, t.gross_total, t.vat, p_actor)
    returning id into e;
    insert into repair_estimate_lines (estimate_id, position, kind, description, quantity,
                                       unit_price, vat_rate, net)
    select e, (n - 1)::int, l->>'kind', l->>'description', (l->>'quantity')::numeric,
           (l->>'unit_price')::bigint, (l->>'vat_rate')::int, (l->>'net')::bigint
    from jsonb_array_elements(lines) with ordinality as x(l, n);
    update repair_orders set estimate_cents = t.gross_total, estimate_currency = cur,
        estimate_lines = lines, estimate_state = 'pending', estimate_decided_at = null,
        updated_at = now()
    where id = r.id;
    insert into repair_links (token_hash, repair_id, purpose, expires_at, estimate_id)
    values (p_link_hash, r.id, 'estimate', now() + interval '30 days', e);
    perform record_append(r.device_id, 'repair_estimate',
        jsonb_build_object('number', r.number, 'version', v, 'amount_cents', t.gross_total,
                           'net_total', t.net_total, 'vat_total', t.vat_total, 'currency', cur,
                           'diagnosis', btrim(p->>'diagnosis'), 'lines', lines),
        p_actor, r.store_id, 'repair', r.id);
    if p_link_token is not null then
        perform repair_notify(r, 'estimate_ready', jsonb_build_object(
            'amount', repair_estimate_money(t.gross_total, cur),
            'link', '{{public_url}}/estimate/#' || p_link_token));
    end if;
    perform carnet_audit(p_actor, 'estimate', 'repair', r.id::text, p_req);
    return repair_json(r.id);
end $$;

-- The approval link behind a hash: 404 (unknown, revoked, not an approval link) or 410 (expired).
create or replace function repair_estimate_link(p_hash text) returns repair_links
language sql stable as $$
    select repair_link_find(p_hash, 'estimate')
$$;

-- What the customer sees through an approval link: the repair as the status page shows it,
-- with the estimate of the link's own version (`superseded` when a newer one was sent).
create or replace function repair_estimate_customer_json(l repair_links) returns json
language sql stable as $$
    select (repair_customer_json(l.repair_id)::jsonb
            || jsonb_build_object('estimate', repair_estimate_json(l.estimate_id, false)))::json
$$;

-- GET /api/estimates/{token}
create or replace function repair_estimate_view(p_hash text) returns json
language plpgsql stable as $$
begin
    return repair_estimate_customer_json(repair_estimate_link(p_hash));
end $$;

-- The version behind a link, locked with its repair, when the customer may still answer it:
-- 409 estimate_changed (a newer version was written, or the body names another version),
-- already_decided, repair_closed; 422 when `version` is not a version number.
create or replace function repair_estimate_answerable(l repair_links, p jsonb) returns repair_estimates
language plpgsql as $$
declare
    r repair_orders%rowtype;
    e repair_estimates%rowtype;
begin
    select * into r from repair_orders where id = l.repair_id for update;
    select * into e from repair_estimates where id = l.estimate_id for update;
    if p ? 'version' and (jsonb_typeof(p->'version') <> 'number'
                          or (p->>'version') !~ '^[0-9]{1,9}$') then
        perform carnet_fail(422, 'invalid', 'version', 'the version number shown');
    end if;
    if e.state = 'superseded' or (p ? 'version' and (p->>'version')::int <> e.version) then
        perform carnet_fail_extra(409, 'estimate_changed', 'version',
            'the store changed this estimate: read the new version before answering',
            jsonb_build_object('version', e.version,
                'latest', (select max(version) from repair_estimates where repair_id = r.id)));
    end if;
    if l.used_at is not null or e.state <> 'pending' then
        perform carnet_fail(409, 'already_decided', 'estimate',
            'this estimate has already been answered');
    end if;
    if (select terminal from repair_states where state = r.state) then
        perform carnet_fail(409, 'repair_closed', 'state', 'this repair is closed');
    end if;
    return e;
end $$;

-- POST /api/estimates/{token}/approve {version?} | /decline {reason, version?}. The reason comes
-- sealed from carnetd (personal data). The link is spent once the customer decides.
create or replace function repair_estimate_decide(p_hash text, p_approve boolean, p jsonb)
returns json language plpgsql as $$
declare
    l repair_links%rowtype := repair_estimate_link(p_hash);
    e repair_estimates%rowtype := repair_estimate_answerable(l, p);
    r repair_orders%rowtype;
    st text := case when p_approve then 'approved' else 'declined' end;
begin
    if not p_approve and (jsonb_typeof(p->'reason') is distinct from 'string'
                          or length(btrim(p->>'reason')) = 0) then
        perform carnet_fail(422, 'required', 'reason', 'tell the store why you decline');
    end if;
    select * into r from repair_orders where id = l.repair_id;
    update repair_estimates set state = st, decided_at = now(),
        decline_reason = case when p_approve then null else p->>'reason' end
    where id = e.id;
    update repair_orders set estimate_state = st, estimate_decided_at = now(), updated_at = now()
    where id = r.id;
    update repair_links set used_at = now() where token_hash = p_hash;
    perform record_append(r.device_id, 'estimate_' || st,
        jsonb_build_object('number', r.number, 'version', e.version,
                           'amount_cents', e.gross_total, 'currency', e.currency),
        null, r.store_id, 'repair', r.id);
    perform carnet_audit(null, case when p_approve then 'approve' else 'decline' end,
                         'repair', r.id::text, null);
    return repair_estimate_customer_json(l);
end $$;

-- POST /api/estimates/{token}/callback {when?, note?, version?}: the customer would rather talk
-- first. The estimate stays pending (the link still answers it); asking again replaces the
-- earlier request. `when` is a time in the next 60 days; the note (at most 500 characters,
-- checked by carnetd) comes sealed.
create or replace function repair_estimate_callback(p_hash text, p jsonb) returns json
language plpgsql as $$
declare
    l repair_links%rowtype := repair_estimate_link(p_hash);
    e repair_estimates%rowtype := repair_estimate_answerable(l, p);
    at timestamptz := device_parse_time(p->'when', 'when');
begin
    if at is not null and (at < now() or at > now() + interval '60 days') then
        perform carnet_fail(422, 'invalid', 'when', 'a time in the next 60 days');
    end if;
    if p ? 'note' and p->'note' <> 'null'::jsonb and jsonb_typeof(p->'note') <> 'string' then
        perform carnet_fail(422, 'invalid', 'note', 'a note is text');
    end if;
    update repair_estimates set callback_requested_at = now(), callback_at = at,
        callback_note = nullif(p->>'note', ''),
        callback_done_at = null, callback_done_by = null, callback_outcome = null
    where id = e.id;
    update repair_orders set updated_at = now() where id = l.repair_id;
    perform carnet_audit(null, 'callback', 'repair', l.repair_id::text, null);
    return repair_estimate_customer_json(l);
end $$;

-- The open call-back requests of a store, for its call-back list (observation.sql): the
-- customer asked to be called about a pending estimate, and nobody has called yet. `call_at` is the time they asked for (null: as soon as
-- possible); `note` is sealed (carnetd opens it on the way out).
create or replace function repair_estimate_callbacks(p_store bigint)
returns table (repair_id bigint, number text, version int, requested_at timestamptz,
               call_at timestamptz, note text)
language sql stable as $$
    select r.id, r.number, e.version, e.callback_requested_at, e.callback_at, e.callback_note
    from repair_estimates e join repair_orders r on r.id = e.repair_id
    where r.store_id = p_store and e.state = 'pending' and e.callback_requested_at is not null
      and e.callback_done_at is null
    order by coalesce(e.callback_at, e.callback_requested_at), e.id
$$;
