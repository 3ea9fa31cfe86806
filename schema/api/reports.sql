-- Reports: the floor report per local day, the store's list of repair orders, and the
-- dashboard's figures over a range of dates beside the period before, with one CSV renderer.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations. A changed argument list needs a migration that drops
-- the old signature first (see 008_api_functions.sql).

-- One row per local day of the store from p_from to p_to (both included, in the store's time
-- zone), days without activity included as zeros, then the totals over the whole range.
--   bookings   appointments starting that day, whatever became of them (cancelled included)
--   cancelled  of those, cancelled;  no_shows: of those, marked no-show
--   walk_ins   walk-in visits that arrived that day;  served: visits that arrived and were done
--   wait       arrived_at -> called_at of the visits that were called (mean and 90th percentile,
--              continuous), service: service_started_at -> done_at; whole seconds, null when
--              no visit had one.
-- The totals add no_show_pct: no-shows of the bookings not cancelled (no_show_n of them: a
-- cancelled booking cannot be missed), null when there were none.
-- A visit belongs to the day it arrived, so a wait that runs past midnight stays with its day.
-- Days are bucketed with `at time zone`, never a fixed offset, so the 23-hour and 25-hour days
-- of the DST changes hold what happened on them.
create or replace function report_floor_range(p_store bigint, p_from date, p_to date) returns json
language plpgsql stable as $$
declare
    tz text;
    lo timestamptz;
    hi timestamptz;
begin
    select timezone into tz from stores where id = p_store;
    if tz is null then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    lo := p_from::timestamp at time zone tz;
    hi := (p_to + 1)::timestamp at time zone tz;
    return (
        with a as (
            select (starts_at at time zone tz)::date as day, status
            from appointments
            where store_id = p_store and starts_at >= lo and starts_at < hi),
        v as (
            select (arrived_at at time zone tz)::date as day, kind, done_at,
                   extract(epoch from called_at - arrived_at) as wait,
                   extract(epoch from done_at - service_started_at) as service
            from visits
            where store_id = p_store and arrived_at >= lo and arrived_at < hi),
        days as (
            select d::date as day from generate_series(p_from, p_to, interval '1 day') d),
        per_day as (
            select days.day,
                   (select count(*) from a where a.day = days.day) as bookings,
                   (select count(*) from a where a.day = days.day and status = 'cancelled')
                       as cancelled,
                   (select count(*) from a where a.day = days.day and status = 'no_show')
                       as no_shows,
                   (select count(*) from v where v.day = days.day and kind = 'walk_in')
                       as walk_ins,
                   (select count(*) from v where v.day = days.day and done_at is not null)
                       as served,
                   (select round(avg(wait))::bigint from v where v.day = days.day) as wait_mean_s,
                   (select round(percentile_cont(0.9) within group (order by wait))::bigint
                    from v where v.day = days.day and wait is not null) as wait_p90_s,
                   (select round(avg(service))::bigint from v where v.day = days.day)
                       as service_mean_s
            from days)
        select json_build_object(
            'store_id', p_store, 'timezone', tz, 'from', p_from, 'to', p_to,
            'days', (select json_agg(per_day order by day) from per_day),
            'totals', json_build_object(
                'bookings', (select count(*) from a),
                'cancelled', (select count(*) from a where status = 'cancelled'),
                'no_shows', (select count(*) from a where status = 'no_show'),
                'no_show_pct', (select round(100.0 * count(*) filter (where status = 'no_show')
                                             / nullif(count(*), 0), 1)
                                from a where status <> 'cancelled'),
                'no_show_n', (select count(*) from a where status <> 'cancelled'),
                'walk_ins', (select count(*) from v where kind = 'walk_in'),
                'served', (select count(*) from v where done_at is not null),
                'wait_mean_s', (select round(avg(wait))::bigint from v),
                'wait_p90_s', (select round(percentile_cont(0.9) within group (order by wait))
                                          ::bigint from v where wait is not null),
                'service_mean_s', (select round(avg(service))::bigint from v))));
end $$;

-- GET /api/stores/{store}/reports/floor?days=N: the last N local days, today included.
-- The route lets only the store's managers (or an admin) in; C checked 1 <= N <= 90.
create or replace function report_floor(p_actor bigint, p_store bigint, p_days int, p_request text)
returns json language plpgsql stable as $$
declare
    tz text;
    today date;
begin
    select timezone into tz from stores where id = p_store;
    if tz is null then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    if p_days is null or p_days < 1 or p_days > 90 then
        perform carnet_fail(400, 'invalid', 'days', 'days is from 1 to 90');
    end if;
    today := (now() at time zone tz)::date;
    return report_floor_range(p_store, today - (p_days - 1), today);
end $$;

-- GET /api/stores/{store}/repairs?state=&limit=: newest first. `state` is a repair state, or
-- 'open' for every state that is not over (repair_states.terminal). at_risk: the promised date
-- comes before now plus what a repair usually still needs from its state
-- (promise_state_remaining, 006), the same rule the early-warning job follows; a repair that is
-- ready or over has no promise left to break. forecast: the bench's prediction and its risk
-- (promise.sql). Reading the list is audited like reading a repair.
create or replace function report_repairs(p_actor bigint, p_store bigint, p_state text, p_limit int,
                               p_request text)
returns json language plpgsql as $$
begin
    if p_state is not null and p_state <> 'open'
       and not exists (select 1 from repair_states where state = p_state) then
        perform carnet_fail(422, 'invalid', 'state', 'state is open or a repair state');
    end if;
    perform carnet_audit(p_actor, 'read', 'repair_list', p_store::text, p_request);
    return json_build_object('store_id', p_store, 'state', p_state, 'repairs', coalesce((
        select json_agg(json_build_object(
                   'id', r.id, 'number', r.number, 'serial', d.serial, 'model', d.model,
                   'state', r.state, 'promised_at', r.promised_at, 'opened_at', r.opened_at,
                   'updated_at', r.updated_at,
                   'at_risk', r.promised_at is not null and not rs.terminal
                              and r.state <> 'ready'
                              and r.promised_at < now() + coalesce(pr.remaining, interval '0'),
                   'forecast', (select promise_forecast(o) from repair_orders o where o.id = r.id))
                   order by r.opened_at desc, r.id desc)
        from (select * from repair_orders
              where store_id = p_store
                and (p_state is null
                     or (p_state = 'open' and state in (select state from repair_states
                                                        where not terminal))
                     or state = p_state)
              order by opened_at desc, id desc limit p_limit) r
        join devices d on d.id = r.device_id
        join repair_states rs on rs.state = r.state
        left join promise_state_remaining pr on pr.state = r.state), '[]'::json));
end $$;

-- ---- The dashboard (issue 14): ranges, the period before, sample sizes, CSV ----

-- A report date as typed: YYYY-MM-DD, or null when absent. Anything else is 422 on p_field.
create or replace function report_date(p text, p_field text) returns date
language plpgsql immutable as $$
declare
    d date;
begin
    if p is null then
        return null;
    end if;
    if p ~ '^\d{4}-\d{2}-\d{2}$' then
        begin
            d := p::date;
        exception when datetime_field_overflow or invalid_datetime_format then
            d := null;
        end;
    end if;
    if d is null then
        perform carnet_fail(422, 'invalid', p_field, p_field || ' is a date, YYYY-MM-DD');
    end if;
    return d;
end $$;

-- The store a store's report is about, or 404: every report of a store starts here. Not
-- booking_store, which also sets the transaction's TimeZone: reports are stable and reply in
-- the session's clock, naming the store's zone beside its local dates.
create or replace function report_store(p_store bigint) returns stores
language plpgsql stable as $$
declare
    s stores;
begin
    select * into s from stores where id = p_store;
    if not found then
        perform carnet_fail(404, 'not_found', 'store', 'no such store');
    end if;
    return s;
end $$;

-- A report's range in local dates of time zone p_tz, both ends included: `to` defaults to today,
-- `from` to p_days days ending on `to`. The previous period has the same length and ends the
-- day before `from`, so a change between the two is never a change of length.
create or replace function report_range(p_tz text, p_from text, p_to text, p_days int,
                                        out d_from date, out d_to date,
                                        out prev_from date, out prev_to date)
language plpgsql stable as $$
begin
    d_from := report_date(p_from, 'from');
    d_to := coalesce(report_date(p_to, 'to'), (now() at time zone p_tz)::date);
    d_from := coalesce(d_from, d_to - (p_days - 1));
    if d_to < d_from then
        perform carnet_fail(422, 'invalid', 'to', 'to comes on or after from');
    end if;
    if d_to - d_from + 1 > 366 then
        perform carnet_fail(422, 'invalid', 'to', 'a range is at most 366 days');
    end if;
    prev_to := d_from - 1;
    prev_from := prev_to - (d_to - d_from);
end $$;

-- The headline figures of a set of stores over local dates p_from..p_to (each store's own clock):
--   open, at_risk, awaiting_approval, awaiting_parts: repairs in that state at the period's end
--     (now when the period runs to today): the state then is the last move before it (or the
--     state the first move after it left, or today's state for a repair without moves). at_risk
--     is report_repairs' rule at that moment, with today's promised date.
--   turnaround_median_h: median hours from opened to its first move to ready (or collected), of
--     the repairs whose move came in the period; turnaround_n of them.
--   approval_pct: approved of the estimates approved or declined in the period (approval_n).
--   first_visit_pct: of the visits done in the period that name a device (first_visit_n), those
--     not followed within 30 days of their end by another visit or a repair order for the same
--     serial, in any store. A repair opened during the visit counts as a follow-up. A visit of
--     the last 30 days is counted as resolved so far: its figure may still fall.
--   served: visits done in the period; csat_pct: answers of 4-5 of the surveys answered in the
--     period (csat_n).
-- Every percentage is null when its n is 0. Pooled over the stores, so a chain's total weighs
-- each store by its sample, never averages averages.
create or replace function report_figures(p_stores bigint[], p_from date, p_to date) returns json
language sql stable as $$
    with st as (
        select id, (p_from::timestamp at time zone timezone) as lo,
               ((p_to + 1)::timestamp at time zone timezone) as hi,
               least(now(), (p_to + 1)::timestamp at time zone timezone) as snap
        from stores where id = any(p_stores)),
    -- The repairs that may have been open at the snapshot: open now, or ended since (an ended
    -- repair never reopens), so years of collected repairs are never read.
    maybe as (
        select r.id from repair_orders r join st on st.id = r.store_id
        join repair_states rs on rs.state = r.state and not rs.terminal
        union
        select m.repair_id from st
        join repair_moves m on m.at >= st.snap
                           and m.to_state in ('collected', 'returned_unrepaired', 'cancelled')
        join repair_orders r on r.id = m.repair_id and r.store_id = st.id),
    snap as (
        select r.promised_at, st.snap,
               coalesce((select m.to_state from repair_moves m
                         where m.repair_id = r.id and m.at < st.snap
                         order by m.at desc, m.id desc limit 1),
                        (select m.from_state from repair_moves m
                         where m.repair_id = r.id and m.at >= st.snap
                         order by m.at, m.id limit 1),
                        r.state) as state
        from maybe join repair_orders r on r.id = maybe.id join st on st.id = r.store_id
        where r.opened_at < st.snap),
    open_ as (
        select s.state, s.promised_at is not null and s.state <> 'ready'
                        and s.promised_at < s.snap + coalesce(pr.remaining, interval '0')
                        as at_risk
        from snap s
        join repair_states rs on rs.state = s.state and not rs.terminal
        left join promise_state_remaining pr on pr.state = s.state),
    finished as (
        select extract(epoch from m.at - r.opened_at) / 3600.0 as hours
        from st
        join repair_moves m on m.at >= st.lo and m.at < st.hi
                           and m.to_state in ('ready', 'collected')
        join repair_orders r on r.id = m.repair_id and r.store_id = st.id
        where not exists (select 1 from repair_moves e
                          where e.repair_id = m.repair_id and e.to_state in ('ready', 'collected')
                            and (e.at, e.id) < (m.at, m.id))),
    decided as (
        select e.state
        from repair_estimates e
        join repair_orders r on r.id = e.repair_id join st on st.id = r.store_id
        where e.decided_at >= st.lo and e.decided_at < st.hi),
    done as (
        select v.* from visits v join st on st.id = v.store_id
        where v.status = 'done' and v.done_at >= st.lo and v.done_at < st.hi),
    fv as (
        select not exists (select 1 from visits w
                           where w.device_serial = v.device_serial and w.id <> v.id
                             and w.arrived_at > v.arrived_at
                             and w.arrived_at <= v.done_at + interval '30 days')
               and not exists (select 1 from repair_orders r join devices d on d.id = r.device_id
                               where d.serial = v.device_serial and r.opened_at >= v.arrived_at
                                 and r.opened_at <= v.done_at + interval '30 days') as resolved
        from done v where v.device_serial is not null),
    sat as (
        select s.satisfaction from surveys s join st on st.id = s.store_id
        where s.answered_at >= st.lo and s.answered_at < st.hi)
    select json_build_object(
        'open', (select count(*) from open_),
        'at_risk', (select count(*) from open_ where at_risk),
        'awaiting_approval', (select count(*) from open_ where state = 'awaiting_approval'),
        'awaiting_parts', (select count(*) from open_ where state = 'awaiting_parts'),
        'turnaround_median_h', (select round((percentile_cont(0.5) within group (order by hours))
                                             ::numeric, 1) from finished),
        'turnaround_n', (select count(*) from finished),
        'approval_pct', (select round(100.0 * count(*) filter (where state = 'approved')
                                      / nullif(count(*), 0), 1) from decided),
        'approval_n', (select count(*) from decided),
        'first_visit_pct', (select round(100.0 * count(*) filter (where resolved)
                                         / nullif(count(*), 0), 1) from fv),
        'first_visit_n', (select count(*) from fv),
        'served', (select count(*) from done),
        'csat_pct', (select round(100.0 * count(*) filter (where satisfaction >= 4)
                                  / nullif(count(*), 0), 1) from sat),
        'csat_n', (select count(*) from sat))
$$;

-- The figures of report_figures as table rows: one per figure, with its sample size (null for
-- a count, which needs none) and the same for the period before.
create or replace function report_figure_rows(p_cur json, p_prev json, p_names text[])
returns json language sql immutable as $$
    select coalesce(json_agg(json_build_object(
               'figure', f.name, 'value', p_cur -> f.name, 'n', p_cur -> f.n,
               'previous', p_prev -> f.name, 'previous_n', p_prev -> f.n) order by f.ord),
           '[]'::json)
    from (select name, ord,
                 case when name like '%\_pct' or name like '%\_median\_h'
                      then regexp_replace(name, '_(pct|median_h)$', '') || '_n' end as n
          from unnest(p_names) with ordinality u(name, ord)) f
$$;

-- GET /api/stores/{store}/reports/repairs?from=&to=: the repair figures (report_figures) of
-- the range, default the last 7 local days, and of the period before.
create or replace function report_repairs_period(p_actor bigint, p_store bigint, p_from text,
                                                 p_to text, p_request text)
returns json language plpgsql stable as $$
declare
    s stores;
    rg record;
begin
    s := report_store(p_store);
    select * into rg from report_range(s.timezone, p_from, p_to, 7);
    return json_build_object(
        'report', 'repairs', 'store_id', s.id, 'store_code', s.code, 'timezone', s.timezone,
        'from', rg.d_from, 'to', rg.d_to,
        'previous', json_build_object('from', rg.prev_from, 'to', rg.prev_to),
        'figures', report_figure_rows(report_figures(array[s.id], rg.d_from, rg.d_to),
                                      report_figures(array[s.id], rg.prev_from, rg.prev_to),
                                      array['open', 'at_risk', 'awaiting_approval',
                                            'awaiting_parts', 'turnaround_median_h',
                                            'approval_pct', 'first_visit_pct']));
end $$;

-- GET /api/stores/{store}/reports/staff?from=&to=: per staff member of the store (a role there,
-- a visit served or a call made there in either period), by name: the visits they served (done), the median
-- minutes from service start to done (service_n visits had both), and the CSAT of the surveys
-- about their visits answered, and the calls they made (visit_calls: call next or calling one
-- given person) with how many were out of turn (overrides, override_pct of calls, null without
-- calls), over the range and over the period before; `calls` holds the store's totals of the
-- same. One pass each over the visits, the surveys and the calls of both periods, grouped by
-- person and period, so the cost does not grow with the number of staff.
create or replace function report_staff(p_actor bigint, p_store bigint, p_from text, p_to text,
                                        p_request text)
returns json language plpgsql stable as $$
declare
    s stores;
    rg record;
    lo timestamptz;
    hi timestamptz;
    plo timestamptz;
begin
    s := report_store(p_store);
    select * into rg from report_range(s.timezone, p_from, p_to, 7);
    lo := rg.d_from::timestamp at time zone s.timezone;
    hi := (rg.d_to + 1)::timestamp at time zone s.timezone;
    plo := rg.prev_from::timestamp at time zone s.timezone;
    return json_build_object(
        'report', 'staff', 'store_id', s.id, 'store_code', s.code, 'timezone', s.timezone,
        'from', rg.d_from, 'to', rg.d_to,
        'previous', json_build_object('from', rg.prev_from, 'to', rg.prev_to),
        'staff', coalesce((
            with served as (
                select v.specialist_id as staff_id, v.done_at >= lo as cur, count(*) as served,
                       round((percentile_cont(0.5) within group (
                                 order by extract(epoch from v.done_at - v.service_started_at))
                              / 60)::numeric, 1) as service_median_min,
                       count(v.service_started_at) as service_n
                from visits v
                where v.store_id = s.id and v.status = 'done'
                  and v.done_at >= plo and v.done_at < hi
                group by 1, 2),
            rated as (
                select v.specialist_id as staff_id, sv.answered_at >= lo as cur,
                       round(100.0 * count(*) filter (where sv.satisfaction >= 4)
                             / nullif(count(*), 0), 1) as csat_pct,
                       count(*) as csat_n
                from surveys sv join visits v on v.id = sv.ref_id
                where sv.ref_type = 'visit' and sv.store_id = s.id
                  and sv.answered_at >= plo and sv.answered_at < hi
                group by 1, 2),
            called as (
                select k.called_by as staff_id, k.called_at >= lo as cur, count(*) as calls,
                       count(*) filter (where k.override) as overrides
                from visit_calls k
                where k.store_id = s.id and k.called_at >= plo and k.called_at < hi
                group by 1, 2)
            select json_agg(json_build_object(
                       'staff_id', p.id, 'name', p.name, 'served', coalesce(c.served, 0),
                       'service_median_min', c.service_median_min,
                       'service_n', coalesce(c.service_n, 0),
                       'csat_pct', cr.csat_pct, 'csat_n', coalesce(cr.csat_n, 0),
                       'calls', coalesce(kc.calls, 0), 'overrides', coalesce(kc.overrides, 0),
                       'override_pct', round(100.0 * kc.overrides / nullif(kc.calls, 0), 1),
                       'previous', json_build_object(
                           'served', coalesce(b.served, 0),
                           'service_median_min', b.service_median_min,
                           'service_n', coalesce(b.service_n, 0), 'csat_pct', br.csat_pct,
                           'csat_n', coalesce(br.csat_n, 0), 'calls', coalesce(kb.calls, 0),
                           'overrides', coalesce(kb.overrides, 0),
                           'override_pct', round(100.0 * kb.overrides / nullif(kb.calls, 0), 1)))
                   order by p.name, p.id)
            from staff p
            left join served c on c.staff_id = p.id and c.cur
            left join served b on b.staff_id = p.id and not b.cur
            left join rated cr on cr.staff_id = p.id and cr.cur
            left join rated br on br.staff_id = p.id and not br.cur
            left join called kc on kc.staff_id = p.id and kc.cur
            left join called kb on kb.staff_id = p.id and not kb.cur
            where exists (select 1 from staff_roles r where r.staff_id = p.id and r.store_id = s.id)
               or exists (select 1 from visits v where v.specialist_id = p.id
                            and v.store_id = s.id and v.done_at >= plo and v.done_at < hi)
               or kc.calls is not null or kb.calls is not null),
            '[]'::json),
        'calls', (select json_build_object(
                      'calls', count(*) filter (where k.called_at >= lo),
                      'overrides', count(*) filter (where k.called_at >= lo and k.override),
                      'override_pct', round(100.0 * count(*) filter (where k.called_at >= lo
                                                                      and k.override)
                                            / nullif(count(*) filter (where k.called_at >= lo), 0), 1),
                      'previous', json_build_object(
                          'calls', count(*) filter (where k.called_at < lo),
                          'overrides', count(*) filter (where k.called_at < lo and k.override),
                          'override_pct', round(100.0 * count(*) filter (where k.called_at < lo
                                                                          and k.override)
                                                / nullif(count(*) filter (where k.called_at < lo), 0), 1)))
                  from visit_calls k
                  where k.store_id = s.id and k.called_at >= plo and k.called_at < hi));
end $$;

-- One row of the chain report: a store's headline figures (report_figures) over the range and
-- the period before; with a null p_store, the total of the stores in p_stores.
create or replace function report_chain_row(p_stores bigint[], p_store bigint, p_code text,
                                            p_name text, p_from date, p_to date,
                                            p_prev_from date, p_prev_to date)
returns json language sql stable as $$
    select json_build_object(
        'store_id', p_store, 'code', p_code, 'name', p_name,
        'open', c -> 'open', 'at_risk', c -> 'at_risk',
        'awaiting_approval', c -> 'awaiting_approval', 'awaiting_parts', c -> 'awaiting_parts',
        'turnaround_median_h', c -> 'turnaround_median_h', 'turnaround_n', c -> 'turnaround_n',
        'approval_pct', c -> 'approval_pct', 'approval_n', c -> 'approval_n',
        'first_visit_pct', c -> 'first_visit_pct', 'first_visit_n', c -> 'first_visit_n',
        'served', c -> 'served', 'csat_pct', c -> 'csat_pct', 'csat_n', c -> 'csat_n',
        'previous', p)
    from (select report_figures(p_stores, p_from, p_to) as c,
                 report_figures(p_stores, p_prev_from, p_prev_to) as p) x
$$;

-- The stores a chain report covers, by name: the open ones and those closed on or after p_since
-- (each store's local date), so that every chain report counts the same stores.
create or replace function report_chain_stores(p_since date) returns bigint[]
language sql stable as $$
    select coalesce(array_agg(id order by name, id), '{}') from stores
    where closed_at is null or closed_at >= p_since::timestamp at time zone timezone
$$;

-- GET /api/reports/chain?from=&to=: admins only. The headline figures (report_figures) per store,
-- open stores and those closed after the previous period began, by name, then one last row,
-- store_id null, with the chain's total pooled over them. Dates are each store's local dates; the default range ends today in UTC.
create or replace function report_chain(p_actor bigint, p_from text, p_to text, p_request text)
returns json language plpgsql stable as $$
declare
    rg record;
    ids bigint[];
begin
    if not staff_is_admin(p_actor) then
        perform carnet_fail(403, 'forbidden', null, 'the chain''s figures are for admins');
    end if;
    select * into rg from report_range('UTC', p_from, p_to, 7);
    ids := report_chain_stores(rg.prev_from);
    return json_build_object(
        'report', 'chain', 'from', rg.d_from, 'to', rg.d_to,
        'previous', json_build_object('from', rg.prev_from, 'to', rg.prev_to),
        'stores', (
            select json_agg(x.row order by x.ord) from (
                select report_chain_row(array[s.id], s.id, s.code, s.name, rg.d_from, rg.d_to,
                                        rg.prev_from, rg.prev_to) as row, u.ord
                from unnest(ids) with ordinality u(id, ord) join stores s on s.id = u.id
                union all
                select report_chain_row(ids, null, null, null, rg.d_from, rg.d_to, rg.prev_from,
                                        rg.prev_to), 2147483647) x));
end $$;

-- GET .../reports/floor?from=&to=: report_floor_range over the range (default: p_days days
-- ending today) and the totals of the period before.
create or replace function report_floor_period(p_actor bigint, p_store bigint, p_from text,
                                               p_to text, p_days int, p_request text)
returns json language plpgsql stable as $$
declare
    s stores;
    rg record;
    cur json;
begin
    s := report_store(p_store);
    select * into rg from report_range(s.timezone, p_from, p_to, p_days);
    cur := report_floor_range(s.id, rg.d_from, rg.d_to);
    return json_build_object(
        'report', 'floor', 'store_id', s.id, 'store_code', s.code, 'timezone', s.timezone,
        'from', rg.d_from, 'to', rg.d_to, 'days', cur -> 'days', 'totals', cur -> 'totals',
        'previous', json_build_object(
            'from', rg.prev_from, 'to', rg.prev_to,
            'totals', report_floor_range(s.id, rg.prev_from, rg.prev_to) -> 'totals'));
end $$;

-- A cell of a report's CSV: empty for null, numbers and booleans as JSON writes them, text with
-- a leading ' when it starts like a formula (= + - @ tab CR: a spreadsheet would run it), and
-- quoted (RFC 4180) when it holds a comma, a quote or a line break.
create or replace function report_csv_cell(v json) returns text
language sql immutable as $$
    select case
        when v is null or json_typeof(v) = 'null' then ''
        when json_typeof(v) <> 'string' then v::text
        else (select case when t ~ '[",\r\n]' then '"' || replace(t, '"', '""') || '"' else t end
              from (select case when (v #>> '{}') ~ '^[=+\-@\t\r]' then '''' || (v #>> '{}')
                                else v #>> '{}' end as t) x)
    end
$$;

-- A report as CSV: the table p_table (default p_default) of p_report, that is a member holding
-- an array of row objects. The columns are the first row's members in order, a nested object's
-- as "member.sub" (e.g. previous.served); lines end in CRLF. An empty table is an empty file.
-- Returns {filename, csv}; the filename names the report, the store (none for the chain's), the
-- table when it is not the default, and the range.
create or replace function report_csv(p_report json, p_table text, p_default text) returns json
language plpgsql immutable as $$
declare
    tbl text := coalesce(nullif(p_table, ''), p_default);
    tables text;
    rows_ json;
    cols text[];
    body text;
begin
    select string_agg(key, ', ' order by ord) into tables
    from json_each(p_report) with ordinality e(key, value, ord)
    where json_typeof(value) = 'array';
    rows_ := p_report -> tbl;
    if rows_ is null or json_typeof(rows_) <> 'array' then
        perform carnet_fail(422, 'invalid', 'table', 'table is one of: ' || tables);
    end if;
    select array_agg(path order by o1, o2) into cols from (
        select e.ord as o1, coalesce(n.ord, 0) as o2,
               case when n.key is null then e.key else e.key || '.' || n.key end as path
        from json_each(rows_ -> 0) with ordinality e(key, value, ord)
        left join lateral json_each(case when json_typeof(e.value) = 'object' then e.value end)
                  with ordinality n(key, value, ord) on true) c;
    if cols is null then
        body := '';
    else
        select (select string_agg(report_csv_cell(to_json(c)), ',' order by i)
                from unnest(cols) with ordinality u(c, i)) || E'\r\n'
               || coalesce(string_agg(l.line, E'\r\n' order by l.ord) || E'\r\n', '')
          into body
        from (select x.ord, (select string_agg(report_csv_cell(x.value #> string_to_array(c, '.')),
                                               ',' order by i)
                             from unnest(cols) with ordinality u(c, i)) as line
              from json_array_elements(rows_) with ordinality x(value, ord)) l;
    end if;
    return json_build_object(
        'filename', regexp_replace(
            concat_ws('-', 'carnet', p_report ->> 'report', p_report ->> 'store_code',
                      case when tbl <> p_default then tbl end,
                      (p_report ->> 'from') || '_' || (p_report ->> 'to')) || '.csv',
            '[^A-Za-z0-9._-]', '_', 'g'),
        'csv', body);
end $$;
