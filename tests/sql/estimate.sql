-- Estimates: lines, totals computed in SQL (rounding half up: per line for the net, per rate for
-- the VAT), versions, and the customer's answers by link (approve, decline with a reason, call me).
begin;
\ir _helpers.sql

-- Rounding, half up: 1.5 x 333 = 499.5 -> 500; 0.25 x 2 = 0.5 -> 1. VAT per rate, once:
-- lines at 20 % total 500 + 1 = 501 -> 100.2 -> 100; at 5.5 %: 1999 x 0.055 = 109.945 -> 110.
select l ->> 'net' as net from jsonb_array_elements(repair_estimate_lines_in(
    '[{"kind": "labour", "description": "Labour", "quantity": 1.5, "unit_price": 333, "vat_rate": 2000},
      {"kind": "part", "description": "Screw", "quantity": 0.25, "unit_price": 2, "vat_rate": 2000},
      {"kind": "part", "description": "Screen", "quantity": 1, "unit_price": 1999, "vat_rate": 550}]')) l;
select * from repair_estimate_totals(repair_estimate_lines_in(
    '[{"kind": "labour", "description": "Labour", "quantity": 1.5, "unit_price": 333, "vat_rate": 2000},
      {"kind": "part", "description": "Screw", "quantity": 0.25, "unit_price": 2, "vat_rate": 2000},
      {"kind": "part", "description": "Screen", "quantity": 1, "unit_price": 1999, "vat_rate": 550}]'));
-- 12.5 % of 4 = 0.5 -> 1 (half up, not to even).
select vat_total from repair_estimate_totals(repair_estimate_lines_in(
    '[{"kind": "part", "description": "x", "quantity": 1, "unit_price": 4, "vat_rate": 1250}]'));
select repair_estimate_money(12950, 'EUR') as eur, repair_estimate_money(1200, 'JPY') as jpy,
       repair_estimate_money(5, 'EUR') as cents;

-- Bad lines: each refused naming the line and member.
select pg_temp.try($$select repair_estimate_lines_in('[]')$$);
select pg_temp.try($$select repair_estimate_lines_in(null)$$);
select pg_temp.try($$select repair_estimate_lines_in('{}')$$);
select pg_temp.try($$select repair_estimate_lines_in('[1]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "gift", "description": "x", "quantity": 1, "unit_price": 1, "vat_rate": 0}]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "part", "description": " ", "quantity": 1, "unit_price": 1, "vat_rate": 0}]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "part", "description": "x", "quantity": 0, "unit_price": 1, "vat_rate": 0}]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "part", "description": "x", "quantity": -1, "unit_price": 1, "vat_rate": 0}]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "part", "description": "x", "quantity": 1000, "unit_price": 1, "vat_rate": 0}]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "part", "description": "x", "quantity": 1.234, "unit_price": 1, "vat_rate": 0}]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "part", "description": "x", "quantity": 1, "unit_price": -5, "vat_rate": 0}]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "part", "description": "x", "quantity": 1, "unit_price": 10000001, "vat_rate": 0}]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "part", "description": "x", "quantity": 1, "unit_price": 1.5, "vat_rate": 0}]')$$);
select pg_temp.try($$select repair_estimate_lines_in('[{"kind": "part", "description": "x", "quantity": 1, "unit_price": 1, "vat_rate": 3001}]')$$);
select pg_temp.try(format('select repair_estimate_lines_in(%L)',
    (select jsonb_agg('{"kind": "part", "description": "x", "quantity": 1, "unit_price": 1, "vat_rate": 0}'::jsonb)
     from generate_series(1, 31))));

-- A repair to estimate.
select (repair_open(:tech, :paris, '{"serial": "F2LDEMO0PH13", "problem": "Cracked screen",
        "intake": {"checklist": [{"item": "screen", "ok": false}]}}', repeat('a', 64), 'r') ->> 'id')::bigint
    as rid \gset
-- Totals beyond 1 000 000.00 are refused, and so is another store's currency.
select pg_temp.try(format('select repair_estimate(%s, %s, %L, %L, %L)', :tech, :rid,
    '{"diagnosis": "d", "lines": [{"kind": "part", "description": "x", "quantity": 999, "unit_price": 10000000, "vat_rate": 0}]}',
    repeat('1', 64), 'r'));
select pg_temp.try(format('select repair_estimate(%s, %s, %L, %L, %L)', :tech, :rid,
    '{"diagnosis": "d", "currency": "USD", "lines": [{"kind": "part", "description": "x", "quantity": 1, "unit_price": 1, "vat_rate": 0}]}',
    repeat('1', 64), 'r'));
select pg_temp.try(format('select repair_estimate(%s, %s, %L, %L, %L)', :tech, :rid,
    '{"lines": [{"kind": "part", "description": "x", "quantity": 1, "unit_price": 1, "vat_rate": 0}]}',
    repeat('1', 64), 'r'));
-- Another store's manager.
select pg_temp.try(format('select repair_estimate(%s, %s, %L, %L, %L)', :lyon_manager, :rid,
    '{"diagnosis": "d", "lines": [{"kind": "part", "description": "x", "quantity": 1, "unit_price": 1, "vat_rate": 0}]}',
    repeat('1', 64), 'r'));
select count(*) as nothing_written from repair_estimates where repair_id = :rid;

-- Version 1, then version 2 supersedes it; both links stay, each bound to its version.
select e ->> 'version' as v, e ->> 'gross_total' as gross, e -> 'vat' as vat
from (select repair_estimate(:tech, :rid, '{"diagnosis": "Screen cracked", "terms": "Valid 30 days",
        "lines": [{"kind": "part", "description": "Screen", "quantity": 1, "unit_price": 10000, "vat_rate": 2000},
                  {"kind": "labour", "description": "Fitting", "quantity": 0.5, "unit_price": 6000, "vat_rate": 2000}]}',
        repeat('1', 64), 'r') -> 'estimate' as e) x;
select e ->> 'version' as v, e ->> 'gross_total' as gross, e -> 'versions' -> 1 ->> 'state' as v1
from (select repair_estimate(:tech, :rid, '{"diagnosis": "Screen cracked",
        "lines": [{"kind": "part", "description": "Screen", "quantity": 1, "unit_price": 9000, "vat_rate": 2000},
                  {"kind": "labour", "description": "Fitting", "quantity": 0.5, "unit_price": 6000, "vat_rate": 2000}]}',
        repeat('2', 64), 'r') -> 'estimate' as e) x;
select estimate_cents, estimate_state from repair_orders where id = :rid;
-- The first link shows its own version, superseded, and cannot answer it.
select v -> 'estimate' ->> 'version' as v, v -> 'estimate' ->> 'state' as state
from repair_estimate_view(repeat('1', 64)) v;
select pg_temp.try($$select repair_estimate_decide(repeat('1', 64), true, '{}')$$);
select pg_temp.try($$select repair_estimate_decide(repeat('2', 64), true, '{"version": 1}')$$);
select pg_temp.try($$select repair_estimate_decide(repeat('2', 64), false, '{}')$$);
select pg_temp.try($$select repair_estimate_view(repeat('a', 64))$$);

-- Call me: the estimate stays pending; the store's call-back list has it.
select pg_temp.try($$select repair_estimate_callback(repeat('2', 64), '{"when": "2001-01-01T10:00:00Z"}')$$);
select v -> 'estimate' ->> 'state' as state, v -> 'estimate' -> 'callback' ->> 'note' as note_hidden
from repair_estimate_callback(repeat('2', 64), jsonb_build_object('note', pg_temp.pd('after 6pm'))) v;
select number ~ '^R-PARIS-OPERA-' as numbered, version, call_at, note = pg_temp.pd('after 6pm') as sealed
from repair_estimate_callbacks(:paris);
select count(*) as lyon_list from repair_estimate_callbacks(:lyon);

-- Declined with a (sealed) reason; then it is answered.
select v -> 'estimate' ->> 'state' as state, v -> 'estimate' ->> 'decline_reason' as reason_hidden
from repair_estimate_decide(repeat('2', 64), false, jsonb_build_object('reason', pg_temp.pd('too dear'), 'version', 2)) v;
select decline_reason = pg_temp.pd('too dear') as sealed, state from repair_estimates
where repair_id = :rid and version = 2;
select pg_temp.try($$select repair_estimate_decide(repeat('2', 64), true, '{}')$$);
select count(*) as callbacks_left from repair_estimate_callbacks(:paris);
select repair_get(:tech, :rid, 'r') -> 'estimate' ->> 'decline_reason' = pg_temp.pd('too dear') as staff_sees;
select kind, content ->> 'version' as v from record_entries
where ref_type = 'repair' and ref_id = :rid and kind like '%estimate%' order by id;

rollback;
