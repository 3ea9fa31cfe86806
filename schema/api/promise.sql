-- Promises predicted from the bench (issue 17, point 3): when each open repair will likely be
-- ready, how likely it is to miss its promised date and why; the job that moves a promise the
-- prediction has passed and tells the customer early, once per broken promise; and the share
-- of promises kept per store.
--
-- The prediction is a plain sum, so that its reasons can be said in one line each:
--   start      now, or when the last awaited part should arrive (repair_parts.expected_at, 052)
--              while the work has not started (intake up to awaiting_parts)
--   + queue    the repairs ahead of it for the same technician (or on the store's untaken
--              bench), in promise order, that a technician is working on: promise_work_ahead()
--              each
--   + rest     how long repairs of the same kind (repair_orders.kind, "general" when unset)
--              took from the state it is in (from repairing once a part is awaited) to ready:
--              the median for the prediction, the 80th percentile for the risk, less the time
--              already spent in that state. The store's own repairs of the last year, or the
--              chain's when the store has fewer than promise_history_min(); with fewer than
--              that in the chain too, the documented default is promise_state_remaining (006),
--              and 1.5 times it for the 80th percentile.
-- risk: high when the prediction passes the promise, medium when only the 80th percentile
-- does, low otherwise; null without a promise.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace); tables change only in numbered migrations (052).

-- Below this many repairs of a kind, their history says too little: the default is used.
create or replace function promise_history_min() returns int
language sql immutable as $$ select 3 $$;

-- What one repair ahead in a technician's queue costs the repairs behind it.
create or replace function promise_work_ahead() returns interval
language sql immutable as $$ select interval '2 hours' $$;

-- The states in which a repair takes a technician's time (not waiting for the customer or parts).
create or replace function promise_bench_states() returns text[]
language sql immutable as $$ select array['intake', 'diagnosing', 'repairing', 'testing'] $$;

-- How long repairs of kind p_kind opened in the last year at store p_store (null: any store)
-- took from first entering p_state to first being ready: the median and 80th percentile in
-- seconds over the latest 200, and how many. The store's and the chain's are two branches (not
-- "p_store is null or ..."), so that each reads its own index (repair_orders_kind_idx,
-- repair_orders_kind_chain_idx, 052) in the plan kept for every call. No JIT: its estimate
-- passes the threshold, and compiling costs more than the query (called per repair shown).
create or replace function promise_stats(p_store bigint, p_kind text, p_state text,
                                         out median_s bigint, out p80_s bigint, out n int)
language sql stable set jit = off as $$
    with done as (
        select r.id from repair_orders r
        where p_store is not null and r.store_id = p_store and r.kind = p_kind
          and r.opened_at > now() - interval '1 year' and r.state in ('ready', 'collected')
        union all
        select r.id from repair_orders r
        where p_store is null and r.kind = p_kind
          and r.opened_at > now() - interval '1 year' and r.state in ('ready', 'collected')),
    h as (
        select extract(epoch from rd.at - en.at) as s
        from done r
        cross join lateral (select m.at from repair_moves m
                            where m.repair_id = r.id and m.to_state = p_state
                            order by m.id limit 1) en
        cross join lateral (select m.at from repair_moves m
                            where m.repair_id = r.id and m.to_state = 'ready'
                            order by m.id limit 1) rd
        where rd.at >= en.at
        order by rd.at desc
        limit 200)
    select round(percentile_cont(0.5) within group (order by s))::bigint,
           round(percentile_cont(0.8) within group (order by s))::bigint,
           count(*)::int
    from h
$$;

-- All the history the slip job needs in one pass (promise_stats for every (store, kind, state)
-- at once, and the chain's with store_id null): the job forecasts every open repair each minute,
-- and one promise_stats per repair would make that cost open repairs x history.
create or replace function promise_stats_all()
returns table (store_id bigint, kind text, state text, median_s bigint, p80_s bigint, n int)
language sql stable as $$
    with done as (
        select r.id, r.store_id, r.kind
        from repair_orders r
        where r.opened_at > now() - interval '1 year' and r.state in ('ready', 'collected')),
    firsts as (
        select distinct on (m.repair_id, m.to_state) m.repair_id, m.to_state, m.at
        from done d join repair_moves m on m.repair_id = d.id
        order by m.repair_id, m.to_state, m.id),
    h as (
        select d.store_id, d.kind, en.to_state as state, extract(epoch from rd.at - en.at) as s,
               rd.at as ready_at
        from done d
        join firsts rd on rd.repair_id = d.id and rd.to_state = 'ready'
        join firsts en on en.repair_id = d.id
        where rd.at >= en.at),
    ranked as (
        select h.*, row_number() over (partition by h.store_id, h.kind, h.state
                                       order by h.ready_at desc) as i,
               row_number() over (partition by h.kind, h.state order by h.ready_at desc) as ci
        from h)
    select x.store_id, x.kind, x.state,
           round(percentile_cont(0.5) within group (order by x.s))::bigint,
           round(percentile_cont(0.8) within group (order by x.s))::bigint, count(*)::int
    from ranked x where x.i <= 200 group by x.store_id, x.kind, x.state
    union all
    select null, x.kind, x.state,
           round(percentile_cont(0.5) within group (order by x.s))::bigint,
           round(percentile_cont(0.8) within group (order by x.s))::bigint, count(*)::int
    from ranked x where x.ci <= 200 group by x.kind, x.state
$$;

-- The part repair r waits for: the one expected last, while the work has not started.
create or replace function promise_part(r repair_orders) returns repair_parts
language sql stable as $$
    select p.* from repair_parts p
    where r.state in ('intake', 'diagnosing', 'awaiting_approval', 'awaiting_parts')
      and p.repair_id = r.id and p.expected_at is not null
    order by p.expected_at desc, p.id desc limit 1
$$;

-- The prediction for repair r (see the header): {predicted_at, predicted_p80_at, promised_at,
-- risk, reasons: [{code: queue, ahead, technician} | {code: part, part_number, description,
-- expected_at} | {code: history, kind, from_state, median_s, p80_s, n} | {code: default, kind,
-- from_state, median_s}]}. Null for a repair that is ready or over. Called per repair shown (the
-- bench list, one repair); the slip job computes the same inputs for all repairs at once.
create or replace function promise_forecast(r repair_orders) returns jsonb
language plpgsql stable as $$
declare
    part repair_parts := promise_part(r);
    from_st text := case when part.id is not null then 'repairing' else r.state end;
    st record;
    ahead int;
begin
    if r.state = 'ready' or (select terminal from repair_states where state = r.state) then
        return null;
    end if;
    select count(*) into ahead
    from repair_orders o
    where o.store_id = r.store_id and o.id <> r.id
      and o.state = any (promise_bench_states())
      and ((r.technician_id is not null and o.technician_id = r.technician_id)
           or (r.technician_id is null and o.technician_id is null))
      and (coalesce(o.promised_at, 'infinity'), o.opened_at, o.id)
          < (coalesce(r.promised_at, 'infinity'), r.opened_at, r.id);
    st := promise_stats(r.store_id, r.kind, from_st);
    if st.n < promise_history_min() then
        st := promise_stats(null, r.kind, from_st);
    end if;
    return promise_forecast_of(r, ahead, part, st.median_s, st.p80_s, st.n);
end $$;

-- The prediction for repair r from its inputs: ahead (repairs ahead of it, promise_forecast),
-- part (promise_part) and the history of its kind from the state it counts from (median_s,
-- p80_s over n repairs, promise_stats; the default below promise_history_min()).
create or replace function promise_forecast_of(r repair_orders, ahead int, part repair_parts,
                                               median_s bigint, p80_s bigint, n int)
returns jsonb language plpgsql stable as $$
declare
    k text := r.kind;
    start timestamptz := now();
    from_st text := r.state;
    since timestamptz;
    med interval;
    p80 interval;
    queue interval := coalesce(ahead, 0) * promise_work_ahead();
    reasons jsonb := '[]';
    predicted timestamptz;
    predicted80 timestamptz;
begin
    if part.id is not null then
        start := greatest(now(), part.expected_at);
        from_st := 'repairing';
    end if;
    if ahead > 0 then
        reasons := reasons || jsonb_build_object('code', 'queue', 'ahead', ahead,
            'technician', (select s.name from staff s where s.id = r.technician_id));
    end if;
    if part.id is not null then
        reasons := reasons || jsonb_strip_nulls(jsonb_build_object('code', 'part',
            'part_number', part.part_number, 'description', part.description,
            'expected_at', part.expected_at));
    end if;
    if coalesce(n, 0) >= promise_history_min() then
        med := make_interval(secs => median_s);
        p80 := make_interval(secs => p80_s);
        reasons := reasons || jsonb_build_object('code', 'history', 'kind', k,
            'from_state', from_st, 'median_s', median_s, 'p80_s', p80_s, 'n', n);
    else
        med := coalesce((select remaining from promise_state_remaining where state = from_st),
                        interval '1 day');
        p80 := med * 1.5;
        reasons := reasons || jsonb_build_object('code', 'default', 'kind', k,
            'from_state', from_st, 'median_s', extract(epoch from med)::bigint,
            'n', coalesce(n, 0));
    end if;
    -- Time already spent in the state counts (not when the work waits for a part).
    if part.id is null then
        since := coalesce((select m.at from repair_moves m where m.repair_id = r.id
                           order by m.id desc limit 1), r.opened_at);
        med := greatest(med - (now() - since), interval '0');
        p80 := greatest(p80 - (now() - since), interval '0');
    end if;
    predicted := start + queue + med;
    predicted80 := start + queue + p80;
    return jsonb_build_object(
        'predicted_at', predicted, 'predicted_p80_at', predicted80,
        'promised_at', r.promised_at,
        'risk', case when r.promised_at is null then null
                     when predicted > r.promised_at then 'high'
                     when predicted80 > r.promised_at then 'medium'
                     else 'low' end,
        'reasons', reasons);
end $$;

-- A new promise for a slipped one: the prediction rounded up to the next quarter of an hour
-- (said to the minute, a date seconds past the old one would read as the same time).
create or replace function promise_new_date(p_predicted timestamptz, p_old timestamptz)
returns timestamptz language sql immutable as $$
    select date_bin('15 minutes',
                    greatest(p_predicted, p_old + interval '15 minutes')
                    + interval '15 minutes' - interval '1 microsecond',
                    timestamptz '2000-01-01 00:00+00')
$$;

-- Moves the promise of repair r (locked by the caller) to a new date after prediction f, once
-- per promise set by staff: false when this promise already slipped once, or when the job set
-- it (a promise the job moved is never moved again: the customer is told at most once per
-- promise staff gave, until staff give a new one, PUT .../promise). Both dates go to the
-- device's record (append-only, hash-chained), the customer is told with the new date
-- (promise_moved) unless they were erased or there is nobody to tell, and the watched promise
-- is marked told, so the early-warning job never warns of it again.
create or replace function promise_slip(r repair_orders, f jsonb) returns boolean
language plpgsql as $$
declare
    new_at timestamptz := promise_new_date((f->>'predicted_at')::timestamptz, r.promised_at);
    slip bigint;
    ob bigint;
begin
    if exists (select 1 from promise_slips s
               where s.repair_id = r.id and s.to_promised_at = r.promised_at) then
        return false;
    end if;
    insert into promise_slips (repair_id, store_id, from_promised_at, to_promised_at, forecast)
    values (r.id, r.store_id, r.promised_at, new_at, f)
    on conflict (repair_id, from_promised_at) do nothing
    returning id into slip;
    if slip is null then
        return false;
    end if;
    update repair_orders set promised_at = new_at, updated_at = now() where id = r.id;
    perform record_append(r.device_id, 'repair_promise',
        jsonb_build_object('number', r.number, 'promised_at', new_at,
                           'previous_promised_at', r.promised_at,
                           'kept_overnight', r.kept_overnight, 'predicted', true,
                           'reasons', f->'reasons'),
        null, r.store_id, 'repair', r.id);
    if exists (select 1 from repair_contact(r) x where x.recipient is not null)
       and not exists (select 1 from device_owners o
                       where o.id = r.contact_owner_id and o.erased_at is not null) then
        perform repair_notify(r, 'promise_moved',
                              jsonb_build_object('starts_at', r.promised_at, 'estimate_at', new_at));
        select max(id) into ob from outbox
        where ref_type = 'repair' and ref_id = r.id and kind = 'promise_moved';
        update promise_slips set outbox_id = ob where id = slip;
    end if;
    select * into r from repair_orders where id = r.id;
    perform repair_promise_watch(r);
    update promises set warned_at = coalesce(warned_at, now()), expected_at = new_at
    where ref_type = 'repair' and ref_id = r.id;
    return true;
end $$;

-- promise_forecast of every open repair with a promise, at once: the history once
-- (promise_stats_all), the work ahead with a window over each store's technician's queue (or
-- its untaken bench), the awaited part per repair (an index lookup). For the slip job.
create or replace function promise_forecasts_all()
returns table (id bigint, promised_at timestamptz, state text, forecast jsonb)
language sql stable as $$
    with st as materialized (select * from promise_stats_all()),
    live as (
        select o as r, o.id, o.promised_at, o.state,
               count(*) filter (where o.state = any (promise_bench_states())) over (
                   partition by o.store_id, o.technician_id
                   order by coalesce(o.promised_at, 'infinity'), o.opened_at, o.id
                   rows between unbounded preceding and 1 preceding)::int as ahead
        from repair_orders o
        join repair_states rs on rs.state = o.state and not rs.terminal
        where o.state <> 'ready'),
    parted as (
        select x.*, promise_part(x.r) as part from live x where x.promised_at is not null),
    f as (
        select p.id, p.promised_at, p.state,
               promise_forecast_of(p.r, p.ahead, p.part,
                   case when ss.n >= promise_history_min() then ss.median_s else cs.median_s end,
                   case when ss.n >= promise_history_min() then ss.p80_s else cs.p80_s end,
                   case when ss.n >= promise_history_min() then ss.n else cs.n end) as f
        from parted p
        left join st ss on ss.store_id = (p.r).store_id and ss.kind = (p.r).kind
             and ss.state = case when (p.part).id is not null then 'repairing' else p.state end
        left join st cs on cs.store_id is null and cs.kind = (p.r).kind
             and cs.state = case when (p.part).id is not null then 'repairing' else p.state end)
    select f.id, f.promised_at, f.state, f.f from f
$$;

-- The slip job: for each open repair with a promise, the prediction goes to its watched
-- promise (promises.expected_at, 006); a prediction past a promise still ahead moves the
-- promise (promise_slip), at most 50 a run. A promise already past is not moved: telling early
-- is too late, and the broken promise stays in the report as it was (the technician sets a new
-- one, PUT .../promise); the early-warning job (messages.sql) warns of it once. Nor is a promise
-- the job set itself (once per promise staff gave), nor one of a repair waiting for the
-- customer's approval (the store waits on them: "our bench is busier" would be untrue).
-- The forecasts are computed in one set-based pass (the history once per run,
-- promise_stats_all; the work ahead with a window), unlocked, and the 50 to move chosen there;
-- each is then locked (skipped when busy or changed since, the next run takes it). One repair
-- that cannot be moved (its message refused) is logged and skipped, never holds back the
-- others. Returns how many moved.
create or replace function job_promise_slips() returns int
language plpgsql as $$
declare
    c record;
    r repair_orders;
    todo jsonb;
    n int := 0;
begin
    with f as (select * from promise_forecasts_all()),
    judged as (
        select f.id, f.promised_at, f.state, f.forecast as f,
               (f.forecast->>'predicted_at')::timestamptz as predicted,
               f.forecast->>'risk' = 'high' and f.promised_at > now() as passed
        from f),
    told as (
        update promises pr set expected_at = j.predicted
        from judged j
        where not j.passed and pr.ref_type = 'repair' and pr.ref_id = j.id
          and pr.resolved_at is null and pr.warned_at is null
          and pr.expected_at is distinct from j.predicted)
    select coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'promised_at', t.promised_at,
                                                 'state', t.state, 'f', t.f)), '[]')
    into todo
    from (select j.* from judged j
          where j.passed and j.state <> 'awaiting_approval'
            and not exists (select 1 from promise_slips s
                            where s.repair_id = j.id and s.to_promised_at = j.promised_at)
          order by j.promised_at, j.id
          limit 50) t;
    for c in select * from jsonb_to_recordset(todo)
                 as x(id bigint, promised_at timestamptz, state text, f jsonb)
    loop
        begin
            select * into r from repair_orders where id = c.id for update skip locked;
            continue when not found or r.promised_at is distinct from c.promised_at
                          or r.state is distinct from c.state;
            if promise_slip(r, c.f) then
                n := n + 1;
            end if;
        exception when others then
            raise warning 'job_promise_slips: repair % not moved: %', c.id, sqlerrm;
        end;
    end loop;
    return n;
end $$;

-- ---- The share of promises kept ----

-- Of stores p_stores, the promises that fell in local dates p_from..p_to: each repair's promise
-- as it stands now, kept when first ready (or collected, or returned) by the promised time, and
-- each promise the slip job moved away from (promise_slips), never kept (moved: the customer
-- was told early). A promise still ahead of a repair not yet ready is not judged yet, and a
-- cancelled repair promised nothing.
create or replace function promise_kept_rows(p_stores bigint[], p_from date, p_to date)
returns table (store_id bigint, repair_id bigint, number text, promised_at timestamptz,
               done_at timestamptz, kept boolean, moved boolean)
language sql stable as $$
    with st as (
        select id, (p_from::timestamp at time zone timezone) as lo,
               ((p_to + 1)::timestamp at time zone timezone) as hi
        from stores where id = any (p_stores)),
    p as (
        select r.store_id, r.id, r.number, r.promised_at, false as moved
        from st join repair_orders r on r.store_id = st.id
        where r.promised_at >= st.lo and r.promised_at < st.hi and r.state <> 'cancelled'
        union all
        select r.store_id, r.id, r.number, s.from_promised_at, true
        from st join promise_slips s on s.store_id = st.id
        join repair_orders r on r.id = s.repair_id
        where s.from_promised_at >= st.lo and s.from_promised_at < st.hi
          and r.state <> 'cancelled'),
    d as (
        select p.*, (select min(m.at) from repair_moves m
                     where m.repair_id = p.id
                       and m.to_state in ('ready', 'collected', 'returned_unrepaired')) as done_at
        from p)
    select d.store_id, d.id, d.number, d.promised_at, d.done_at,
           not d.moved and d.done_at is not null and d.done_at <= d.promised_at, d.moved
    from d
    where d.moved or d.done_at is not null or d.promised_at <= now()
$$;

create or replace function promise_kept_json(p_stores bigint[], p_from date, p_to date)
returns json language sql stable as $$
    select json_build_object(
        'kept', count(*) filter (where kept), 'n', count(*),
        'kept_pct', round(100.0 * count(*) filter (where kept) / nullif(count(*), 0), 1),
        'moved', count(*) filter (where moved))
    from promise_kept_rows(p_stores, p_from, p_to)
$$;

-- GET /api/stores/{store}/reports/promises?from=&to=&format=csv: the store's managers (and
-- admins). The figures of the range (default the last 7 local days) and of the period before,
-- and the repairs they count (the CSV's table).
create or replace function promise_report(p_actor bigint, p_store bigint, p_from text, p_to text,
                                          p_request text)
returns json language plpgsql as $$
declare
    s stores := report_store(p_store);
    rg record;
    cur json;
begin
    perform carnet_require(p_actor, s.id, array['manager']);
    select * into rg from report_range(s.timezone, p_from, p_to, 7);
    cur := promise_kept_json(array[s.id], rg.d_from, rg.d_to);
    perform carnet_audit(p_actor, 'read', 'repair_list', s.id::text, p_request);
    return json_build_object(
        'report', 'promises', 'store_id', s.id, 'store_code', s.code, 'timezone', s.timezone,
        'from', rg.d_from, 'to', rg.d_to,
        'kept', cur->'kept', 'n', cur->'n', 'kept_pct', cur->'kept_pct', 'moved', cur->'moved',
        'previous', json_build_object('from', rg.prev_from, 'to', rg.prev_to)::jsonb
                    || promise_kept_json(array[s.id], rg.prev_from, rg.prev_to)::jsonb,
        'repairs', coalesce((select json_agg(json_build_object(
                       'number', k.number, 'promised_at', k.promised_at, 'done_at', k.done_at,
                       'kept', k.kept, 'moved', k.moved) order by k.promised_at, k.repair_id)
                   from promise_kept_rows(array[s.id], rg.d_from, rg.d_to) k), '[]'::json));
end $$;

-- GET /api/reports/promises?from=&to=&format=csv: admins only. Per store by name, then the
-- chain's total (store_id null), pooled. Dates are each store's local dates.
create or replace function promise_report_chain(p_actor bigint, p_from text, p_to text,
                                                p_request text)
returns json language plpgsql stable as $$
declare
    rg record;
    ids bigint[];
begin
    if not staff_is_admin(p_actor) then
        perform carnet_fail(403, 'forbidden', null, 'the chain''s figures are for admins');
    end if;
    select * into rg from report_range('UTC', p_from, p_to, 7);
    ids := report_chain_stores(rg.d_from);
    return json_build_object(
        'report', 'promises', 'from', rg.d_from, 'to', rg.d_to,
        'stores', (
            select json_agg(x.row order by x.ord) from (
                select json_build_object('store_id', s.id, 'code', s.code, 'name', s.name)::jsonb
                       || promise_kept_json(array[s.id], rg.d_from, rg.d_to)::jsonb as row, u.ord
                from unnest(ids) with ordinality u(id, ord) join stores s on s.id = u.id
                union all
                select json_build_object('store_id', null, 'code', null, 'name', null)::jsonb
                       || promise_kept_json(ids, rg.d_from, rg.d_to)::jsonb, 2147483647) x));
end $$;
