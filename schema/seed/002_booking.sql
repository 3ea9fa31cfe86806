-- Demo booking set-up for both demo stores: opening hours Monday to Saturday 10:00-20:00, the
-- four services, the technicians' and specialists' skills, and shifts for the coming 4 weeks.
-- Idempotent: hours, services and skills are written once; shifts are topped up on every run
-- (a shift that already exists is skipped) so a demo database stays bookable as days pass.
do $seed$
declare
    st record;
    horizon constant int := 28;
begin
    for st in select id, code, timezone from stores where code in ('paris-opera', 'lyon-part-dieu')
    loop
        if not exists (select 1 from services where store_id = st.id) then
            insert into store_hours (store_id, weekday, opens, closes)
            select st.id, d, '10:00', '20:00' from generate_series(1, 6) d;
            insert into services (store_id, name, duration_min, skill, buffer_min) values
                (st.id, 'iPhone screen', 60, 'repair', 15),
                (st.id, 'Battery', 45, 'repair', 0),
                (st.id, 'Mac diagnostics', 30, 'diagnostics', 0),
                (st.id, 'Setup', 30, 'setup', 0);
            insert into staff_skills (staff_id, store_id, skill)
            select s.id, st.id, k.skill
            from staff s
            join (values ('tech@carnet.test', 'repair'), ('tech@carnet.test', 'diagnostics'),
                         ('tech2@carnet.test', 'repair'), ('tech2@carnet.test', 'diagnostics'),
                         ('specialist@carnet.test', 'setup'), ('manager@carnet.test', 'setup'),
                         ('lyon@carnet.test', 'repair'), ('lyon@carnet.test', 'diagnostics'),
                         ('lyon@carnet.test', 'setup')) k(email, skill) on k.email = s.email
            where exists (select 1 from staff_roles r where r.staff_id = s.id and r.store_id = st.id)
            on conflict do nothing;
        end if;
        -- Everyone with a skill here works the opening hours of each of the coming days.
        insert into shifts (store_id, staff_id, starts_at, ends_at)
        select st.id, k.staff_id, (d::date + h.opens) at time zone st.timezone,
               (d::date + h.closes) at time zone st.timezone
        from (select distinct staff_id from staff_skills where store_id = st.id) k
        cross join generate_series(current_date, current_date + horizon, interval '1 day') d
        join store_hours h on h.store_id = st.id and h.weekday = extract(isodow from d)
        on conflict do nothing;
    end loop;
end
$seed$;
