-- make bench, the chain day (case_chain_day.sh): 200 stores "chain-NNN", open every day around
-- the clock in UTC (the load runs whatever the hour), each with five staff who are specialists
-- and technicians, one 30-minute repair service, shifts for the coming 29 days, one device to
-- diagnose and, for the check-ins, one booking per staff member starting 25 minutes from now
-- (inside the default check-in window, 30 minutes early to 15 late, for the whole bench run).
-- Sessions are not made here: the case writes them with tokens only it knows.
-- Bookings go through carnetd during the run; these are written in clear, like the demo seed,
-- and carnetd seals them at start-up.
do $fill$
declare
    pw constant text := (select password_hash from staff where email = 'admin@carnet.test');
    alphabet constant text := '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
begin
    insert into stores (code, name, timezone)
    select 'chain-' || lpad(g::text, 3, '0'), 'Carnet Chain ' || g, 'UTC'
    from generate_series(1, 200) g;
    insert into store_hours (store_id, weekday, opens, closes)
    select s.id, d, '00:00', '23:59'
    from stores s cross join generate_series(1, 7) d where s.code like 'chain-%';
    insert into services (store_id, name, duration_min, skill, buffer_min)
    select id, 'Repair', 30, 'repair', 0 from stores where code like 'chain-%';
    insert into staff (email, name, password_hash)
    select format('%s-%s@bench.test', s.code, i), 'Chain Staff ' || i, pw
    from stores s cross join generate_series(1, 5) i where s.code like 'chain-%';
    insert into staff_roles (staff_id, store_id, role)
    select st.id, s.id, r.role
    from stores s
    join staff st on st.email like s.code || '-%@bench.test'
    cross join (values ('specialist'), ('technician')) r(role)
    where s.code like 'chain-%';
    insert into staff_skills (staff_id, store_id, skill)
    select r.staff_id, r.store_id, k.skill
    from staff_roles r join stores s on s.id = r.store_id
    cross join (values ('repair'), ('diagnostics')) k(skill)
    where s.code like 'chain-%' and r.role = 'technician';
    insert into shifts (store_id, staff_id, starts_at, ends_at)
    select k.store_id, k.staff_id, d, d + interval '23 hours 59 minutes'
    from (select distinct staff_id, store_id from staff_skills k join stores s on s.id = k.store_id
          where s.code like 'chain-%') k
    cross join generate_series(current_date::timestamp, current_date + 28, interval '1 day') d;
    insert into devices (serial, model)
    select 'CHAIN' || lpad(substr(code, 7), 5, '0'), 'iPhone 15' from stores where code like 'chain-%';
    -- one booking per staff member, 25 minutes from now; codes are the staff id in base 31
    insert into appointments (store_id, service_id, staff_id, starts_at, ends_at, blocked_until,
                              code, customer_name, customer_email, problem)
    select k.store_id, (select id from services where store_id = k.store_id),
           k.staff_id, date_trunc('minute', now()) + interval '25 minutes',
           date_trunc('minute', now()) + interval '55 minutes',
           date_trunc('minute', now()) + interval '55 minutes',
           (select string_agg(substr(alphabet, ((k.staff_id + 100000) / (31 ^ p)::bigint % 31)::int + 1, 1),
                              '' order by p desc) from generate_series(0, 5) p),
           'Chain Customer', 'chain@example.com', 'check-in bench'
    from (select distinct staff_id, store_id from staff_skills k join stores s on s.id = k.store_id
          where s.code like 'chain-%') k;
end
$fill$;
analyze;
select 'CHAIN_STORES=' || count(*) from stores where code like 'chain-%';
