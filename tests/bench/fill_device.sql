-- make bench: the health record among >= 1 million entries. 20,000 devices with 50 entries
-- each are bulk-loaded with triggers off (their chains are not what is measured); the measured
-- device gets 500 entries through record_append, the real writer, so its chain is genuine.
set session_replication_role = replica;
insert into devices (serial, model)
select 'BENCH' || lpad(g::text, 8, '0'), 'Filler ' || (g % 20)
from generate_series(1, 20000) g;
insert into record_entries (id, device_id, kind, content, at, prev_hash, hash)
select nextval('record_entries_id_seq'), d.id, 'note',
       jsonb_build_object('text', 'filler entry ' || n), now() - make_interval(mins => n),
       '\x0000000000000000000000000000000000000000000000000000000000000000',
       '\x0000000000000000000000000000000000000000000000000000000000000000'
from devices d cross join generate_series(1, 50) n
where d.serial like 'BENCH%';
set session_replication_role = origin;
insert into devices (serial, model) values ('BENCHTARGET01', 'iPhone 15');
select count(*) from (
    select record_append((select id from devices where serial = 'BENCHTARGET01'),
                         case when n % 5 = 0 then 'diagnostic' else 'note' end,
                         jsonb_build_object('text', 'entry ' || n, 'battery_health', 100 - n / 10),
                         (select id from staff where email = 'tech@carnet.test'),
                         (select id from stores where code = 'paris-opera'))
    from generate_series(1, 500) n) x;
analyze;
select 'SERIAL=BENCHTARGET01';
select 'ENTRIES=' || count(*) from record_entries;
select 'TECH=' || id from staff where email = 'tech@carnet.test';
