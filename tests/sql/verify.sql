-- Verify: rows shown beside the record (trend values, repair states and moves) checked against
-- the chained entries they were written with.
begin;
\ir _helpers.sql
select (select id from devices where serial = 'F2LDEMO0PH13') as phone,
       (select id from devices where serial = 'C02DEMO0MBP1') as mac,
       (select id from repair_orders where device_id = (select id from devices
                                                         where serial = 'F2LDEMO0PH13')) as repair
\gset

-- The demo record agrees with itself.
select verify_derived(:phone) as phone, verify_derived(:mac) as mac;

-- A trend value edited by hand names the diagnostic entry it was written with.
update diagnostic_values set value = value + 1
where device_id = :phone and name = 'battery_health'
  and session_id = (select max(session_id) from diagnostic_values where device_id = :phone);
select (verify_derived(:phone) -> 0 ->> 0)::bigint = (
           select entry_id from diagnostic_sessions
           where id = (select max(session_id) from diagnostic_values where device_id = :phone))
       as names_the_entry,
       verify_derived(:phone) -> 0 ->> 1 as what;
update diagnostic_values set value = value - 1
where device_id = :phone and name = 'battery_health'
  and session_id = (select max(session_id) from diagnostic_values where device_id = :phone);
select verify_derived(:phone) as restored;

-- A value removed, or one added, is as visible as one changed.
savepoint s;
delete from diagnostic_values
where ctid = (select min(ctid) from diagnostic_values where device_id = :phone);
select json_array_length(verify_derived(:phone)) as removed;
rollback to savepoint s;
insert into diagnostic_values (session_id, device_id, test, name, value, unit, performed_at)
select session_id, device_id, test, name, value, unit, performed_at
from diagnostic_values where device_id = :phone limit 1;
select json_array_length(verify_derived(:phone)) as duplicated;
rollback to savepoint s;

-- Values moved to another device show there, with no entry of its own to name.
update diagnostic_values set device_id = :mac
where device_id = :phone and name = 'cycle_count';
select verify_derived(:mac) as moved_in,
       json_array_length(verify_derived(:phone)) > 0 as moved_out;
rollback to savepoint s;

-- A repair put back into another state, or a move rewritten, names its repair_opened entry.
update repair_orders set state = 'collected' where id = :repair;
select verify_derived(:phone) -> 0 ->> 1 as what,
       (verify_derived(:phone) -> 0 ->> 0)::bigint = (
           select id from record_entries where kind = 'repair_opened' and ref_id = :repair)
       as names_the_opening;
rollback to savepoint s;
update repair_moves set to_state = 'ready'
where id = (select max(id) from repair_moves where repair_id = :repair);
select verify_derived(:phone) -> 0 ->> 1 as what;
rollback to savepoint s;
select verify_derived(:phone) as untouched;

-- device_chain hands the same list to carnetd.
select device_chain(:admin, 'F2LDEMO0PH13', 'req-verify') -> 'derived' as derived;

rollback;
