-- Promises predicted from the bench: the forecast (queue, awaited part, history or default),
-- the slip job (moves a promise once, records both dates, tells the customer), the share kept.
begin;
\ir _helpers.sql

-- A kind nobody has repaired yet: the default from intake (2 days).
select repair_open(:tech, :paris, '{"serial": "F2LPROM00001", "problem": "Cracked glass",
                                    "kind": "glassx", "promised_at": "2099-01-01T10:00:00Z",
                                    "intake": {"checklist": [{"item": "screen", "ok": false}]}}',
                   repeat('c', 64), 'r') -> 'forecast' as f \gset
select :'f'::jsonb ->> 'risk' as risk, r ->> 'code' as reason, r ->> 'median_s' as median_s
from jsonb_array_elements(:'f'::jsonb -> 'reasons') r where r ->> 'code' <> 'queue';
select (select max(id) from repair_orders) as rid \gset
select bench_take(:tech, :rid, 'r') ->> 'number' is not null as taken;
-- A bad kind, refused.
select pg_temp.try(format('select repair_open(%s, %s, %L, %L, %L)', :tech, :paris,
    '{"serial": "F2LPROM00002", "problem": "x", "kind": "Glass!",
      "intake": {"checklist": [{"item": "screen", "ok": true}]}}', repeat('c', 64), 'r'));

-- Two repairs promised earlier for the same technician: 2 x 2 hours ahead.
select repair_open(:tech, :paris, format('{"serial": "F2LPROM0000%s", "problem": "x",
                                           "kind": "glassx", "promised_at": "2098-12-01T10:00:00Z",
                                           "intake": {"checklist": [{"item": "s", "ok": true}]}}', i)::jsonb,
                   encode(sha256(('promise' || i)::bytea), 'hex'), 'r') is not null as opened
from generate_series(3, 4) i;
select bench_take(:tech, id, 'r') is not null as taken
from repair_orders where kind = 'glassx' and id <> :rid order by id;
select x.f -> 'reasons' -> 0 as queue,
       extract(epoch from (x.f ->> 'predicted_at')::timestamptz - now()) / 3600 between 51.9 and 52
           as two_days_and_four_hours
from (select promise_forecast(r) as f from repair_orders r where id = :rid) x;

-- An awaited part arriving in 5 days: then a day of repairing.
select repair_transition(:tech, :rid, '{"to": "diagnosing"}', 'r') ->> 'state' as state;
select pg_temp.try(format('select repair_part_add(%s, %s, %L, %L)', :tech, :rid,
                          '{"part_number": "G-1", "expected_at": "2001-01-01T00:00:00Z"}', 'r'));
select repair_part_add(:tech, :rid, format('{"part_number": "G-1", "expected_at": "%s"}',
                                          to_char(now() + interval '5 days', 'YYYY-MM-DD"T"HH24:MI:SSOF'))::jsonb,
                       'r') -> 'forecast' -> 'reasons' as reasons \gset
select r ->> 'code' as code, r ->> 'from_state' as from_state, r ->> 'part_number' as part
from jsonb_array_elements(:'reasons'::jsonb) r;

-- History: four glassy repairs ready 40 to 70 hours after intake (median 55 h, p80 64 h).
insert into devices (serial) select 'F2LPROMH' || i from generate_series(1, 4) i;
insert into repair_orders (number, device_id, store_id, state, problem, intake, kind, opened_at)
select 'R-PH-' || i, d.id, :paris, 'collected', 'x', '{}', 'glassy', now() - interval '3 days'
from generate_series(1, 4) i join devices d on d.serial = 'F2LPROMH' || i;
insert into repair_moves (repair_id, from_state, to_state, at)
select r.id, null, 'intake', now() - interval '3 days' from repair_orders r where r.number like 'R-PH-%'
union all
select r.id, 'testing', 'ready', now() - interval '3 days'
                                 + make_interval(hours => 30 + 10 * right(r.number, 1)::int)
from repair_orders r where r.number like 'R-PH-%';
select s.* from promise_stats(:paris, 'glassy', 'intake') s;
select promise_stats(null, 'glassy', 'repairing') as none_from_repairing;

-- The slip job's forecasts, all at once, are each repair's own (promise_forecast).
select count(*) > 0 as some, count(*) filter (where a.forecast is distinct from promise_forecast(r)
                                              or a.promised_at is distinct from r.promised_at) as differ
from promise_forecasts_all() a join repair_orders r on r.id = a.id;

-- The slip job: a promise the prediction passed moves once, with both dates in the record.
update repair_orders set promised_at = now() + interval '1 day' where id = :rid;
select job_promise_slips() > 0 as moved;
select promised_at > now() + interval '6 days' as new_date_after_the_part,
       (select count(*) from promise_slips where repair_id = :rid) as slips,
       (select content ? 'previous_promised_at' from record_entries
        where ref_type = 'repair' and ref_id = :rid and kind = 'repair_promise'
        order by id desc limit 1) as both_dates
from repair_orders where id = :rid;
select job_promise_slips() as moved_again;
select promise_forecast(r) ->> 'risk' as risk_now from repair_orders r where id = :rid;
select promise_new_date('2030-01-01 10:07:00+00', '2030-01-01 10:00:00+00') as rounded_up;

-- The share kept: who may read it.
select pg_temp.try(format('select promise_report(%s, %s, null, null, %L)', :lyon_manager, :paris, 'r'));
select pg_temp.try(format('select promise_report(%s, %s, null, null, %L)', :tech, :paris, 'r'));
select pg_temp.try(format('select promise_report(%s, %s, %L, null, %L)', :manager, :paris, 'x', 'r'));
select pg_temp.try(format('select promise_report_chain(%s, null, null, %L)', :manager, 'r'));
select promise_report(:manager, :paris, '2099-01-01', '2099-01-07', 'r')::jsonb
       - 'store_id' - 'previous' as empty;
rollback;
