-- Reports: the floor report per local day and the store's list of repair orders.
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
-- ready or over has no promise left to break. Reading the list is audited like reading a repair.
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
                              and r.promised_at < now() + coalesce(pr.remaining, interval '0'))
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
