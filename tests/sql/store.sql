-- The chain's set-up: store_create / store_update (who may change which field, the checks,
-- closing), store_chain's counts, store_service_update and store_services_all, and a closed
-- store refused by the public writes (store_refuse_closed).
begin;
\ir _helpers.sql

-- Creating: admins only; each field checked; the code unique.
select pg_temp.try(format('select store_create(%s, %L, %L)', :manager, 'r1',
    '{"name": "X", "code": "xx", "timezone": "Europe/Paris", "currency": "EUR"}'));
select pg_temp.try(format('select store_create(%s, %L, %L)', :admin, 'r1',
    '{"name": "X", "code": "xx", "timezone": "Mars/Olympus", "currency": "EUR"}'));
select pg_temp.try(format('select store_create(%s, %L, %L)', :admin, 'r1',
    '{"name": "X", "code": "X X", "timezone": "Europe/Paris", "currency": "EUR"}'));
select pg_temp.try(format('select store_create(%s, %L, %L)', :admin, 'r1',
    '{"name": "X", "code": "xx", "timezone": "Europe/Paris", "currency": "eur"}'));
select pg_temp.try(format('select store_create(%s, %L, %L)', :admin, 'r1',
    '{"name": "X", "code": "xx", "timezone": "Europe/Paris"}'));
select pg_temp.try(format('select store_create(%s, %L, %L)', :admin, 'r1',
    '{"name": "X", "code": "paris-opera", "timezone": "Europe/Paris", "currency": "EUR"}'));
select pg_temp.try(format('select store_create(%s, %L, %L)', :admin, 'r1',
    '{"name": "X", "code": "xx", "timezone": "Europe/Paris", "currency": "EUR", "x": 1}'));
select s::jsonb - 'id' as created
from store_create(:admin, 'r2', '{"name": "Bordeaux", "code": "bordeaux", "timezone":
    "Europe/Paris", "currency": "EUR", "address": "1 cours", "hours": [{"weekday": 1,
    "opens": "09:00", "closes": "18:00"}]}') s;
select id as bdx from stores where code = 'bordeaux' \gset
select action, object_type from audit_log where request_id = 'r2' order by id;

-- Editing: a manager of the store changes name, address, phone; not the rest; not elsewhere.
select pg_temp.try(format('select store_update(%s, %L, %s, %L)', :manager, 'r3', :paris,
    '{"currency": "GBP"}'));
select pg_temp.try(format('select store_update(%s, %L, %s, %L)', :manager, 'r3', :paris,
    '{"closed": true}'));
select pg_temp.try(format('select store_update(%s, %L, %s, %L)', :lyon_manager, 'r3', :paris,
    '{"name": "Mine"}'));
select pg_temp.try(format('select store_update(%s, %L, %s, %L)', :admin, 'r3', :bdx,
    '{"code": "lyon-part-dieu"}'));
select pg_temp.try(format('select store_update(%s, %L, %s, %L)', :admin, 'r3', :bdx, '{}'));
select s->>'name' as name, s->>'phone' as phone
from store_update(:manager, 'r4', :paris, '{"name": "Paris Opéra", "phone": "01 02"}') s;

-- Closing: the public writes refuse it; reopening takes them again.
select s->>'closed' as closed from store_update(:admin, 'r5', :bdx, '{"closed": true}') s;
select pg_temp.try(format('select store_refuse_closed(%s)', :bdx));
select pg_temp.try(format('select floor_join_line(%s, %L, %L)', :bdx, '{"name": "x"}', 'h1'));
select pg_temp.try(format('select kiosk_begin(%s, %L, %L)', :bdx, '10.0.0.1', '{"code": "ABCDEF"}'));
-- Nor slots to pick, whatever the query.
select pg_temp.try(format('select booking_availability(%s, %L, %L, %L)', :bdx, '1', '2030-01-01', '2030-01-01'));
select pg_temp.try(format('select booking_availability(%s, null, null, null)', :bdx));
select count(*) as listed from json_array_elements(booking_list_stores()) x
where (x->>'id')::bigint = :bdx;
select action from audit_log where request_id = 'r5';
select s->>'closed' as closed from store_update(:admin, 'r6', :bdx, '{"closed": false}') s;
select pg_temp.try(format('select store_refuse_closed(%s)', :bdx));

-- The chain: admins only; every store, with numbers.
select pg_temp.try(format('select store_chain(%s, %L)', :manager, 'r7'));
select x->>'code' as code, x->>'closed' as closed,
       (x->>'appointments')::int >= 0 and (x->>'waiting')::int >= 0
       and (x->>'served')::int >= 0 and (x->>'open_repairs')::int >= 0 as counted
from json_array_elements(store_chain(:admin, 'r7')->'stores') x order by x->>'code';

-- Services: edit, archive, bad values, another store's.
select id as svc from services where store_id = :paris order by id limit 1 \gset
select id as lyon_svc from services where store_id = :lyon order by id limit 1 \gset
select pg_temp.try(format('select store_service_update(%s, %L, %s, %s, %L)', :manager, 'r8',
    :paris, :svc, '{"price_minor": -1}'));
select pg_temp.try(format('select store_service_update(%s, %L, %s, %s, %L)', :manager, 'r8',
    :paris, :svc, '{"duration_min": 481}'));
select pg_temp.try(format('select store_service_update(%s, %L, %s, %s, %L)', :manager, 'r8',
    :paris, :lyon_svc, '{"name": "x"}'));
select pg_temp.try(format('select store_service_update(%s, %L, %s, %s, %L)', :lyon_manager, 'r8',
    :paris, :svc, '{"name": "x"}'));
select s::jsonb - 'id' - 'store_id' - 'name' - 'skill' as edited
from store_service_update(:manager, 'r9', :paris, :svc,
                          '{"price_minor": 2500, "description": "Quick", "active": false}') s;
select count(*) as bookable from json_array_elements(booking_list_services(:paris)) x
where (x->>'id')::bigint = :svc;
select x->>'active' as active from json_array_elements(store_services_all(:specialist, 'r10', :paris)->'services') x
where (x->>'id')::bigint = :svc;
select pg_temp.try(format('select store_services_all(%s, %L, %s)', :lyon_manager, 'r10', :paris));

-- Each field's check (store_field_*), one wrong value at a time: the code, field and words.
select pg_temp.try(format('select store_update(%s, %L, %s, %L)', :admin, 'r8', :bdx, x))
from unnest(array['{"name": " "}', '{"name": 5}', '{"address": null}',
                  format('{"address": "%s"}', repeat('x', 301)), '{"closed": "yes"}',
                  '{"cancel_bookings": 1}']) x;
select pg_temp.try(format('select store_service_update(%s, %L, %s, %s, %L)', :manager, 'r8',
    :paris, :svc, x))
from unnest(array[format('{"name": "%s"}', repeat('x', 101)), '{"name": 5}',
                  '{"duration_min": 4}', '{"duration_min": "30"}', '{"duration_min": 30.5}',
                  '{"buffer_min": 241}', '{"buffer_min": -1}', '{"description": 5}',
                  format('{"description": "%s"}', repeat('x', 501)), '{"active": "no"}']) x;

-- Adding a service takes a price and a description, and refuses a negative price.
select pg_temp.try(format('select booking_add_service(%s, %s, %L, %L)', :manager, :paris,
    '{"name": "Neg", "duration_min": 30, "skill": "repair", "price_minor": -5}', 'r11'));
select pg_temp.try(format('select booking_add_service(%s, %s, %L, %L)', :manager, :paris,
    '{"duration_min": 30, "skill": "repair"}', 'r11'));
select s::jsonb - 'id' - 'store_id' as added
from booking_add_service(:manager, :paris,
    '{"name": "Priced", "duration_min": 30, "skill": "repair", "price_minor": 990,
      "description": "d"}', 'r12') s;

-- Closing with a booking to come: refused with their count (nothing changes), or, asked to,
-- the bookings are cancelled, each customer told, and the store closes.
insert into services (store_id, name, duration_min, skill) values (:bdx, 'Fix', 30, 'repair')
returning id as bdx_svc \gset
insert into appointments (store_id, service_id, staff_id, starts_at, ends_at, blocked_until,
                          code, customer_name, customer_email)
values (:bdx, :bdx_svc, :admin, now() + interval '3 days', now() + interval '3 days 30 minutes',
        now() + interval '3 days 30 minutes', 'BDX234', pg_temp.pd('x'),
        pg_temp.pd('x@example.com'));
select pg_temp.try(format('select store_update(%s, %L, %s, %L)', :admin, 'r13', :bdx,
    '{"closed": true}'));
select pg_temp.try(format('select store_update(%s, %L, %s, %L)', :admin, 'r13', :bdx,
    '{"cancel_bookings": true}'));
select closed_at is null as still_open from stores where id = :bdx;
select s->>'closed' as closed, s->>'cancelled_bookings' as cancelled
from store_update(:admin, 'r14', :bdx, '{"closed": true, "cancel_bookings": true}') s;
select status from appointments where code = 'BDX234';
select kind from outbox where ref_type = 'appointment'
  and ref_id = (select id from appointments where code = 'BDX234') order by id;
select action, object_type from audit_log where request_id = 'r14' order by id;

-- The stores staff may use, closed ones too (last): an admin every one.
select x->>'code' as code, x->>'closed' as closed
from json_array_elements(store_staff_stores(:manager, 'r15')) x;
select count(*) = (select count(*) from stores) as every_store,
       (array_agg(x->>'closed'))[count(*)] as last_closed
from json_array_elements(store_staff_stores(:admin, 'r15')) x;

rollback;
