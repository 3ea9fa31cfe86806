-- 046: every change that alters a store's free slots (booking_availability) says so on channel
-- carnet_avail, so each carnetd can drop what it cached of that store's month view (issue 16,
-- point 5). A payload is '<store>' (anything of the store may have changed) or
-- '<store> <first day> <last day>' (local days, YYYY-MM-DD, inclusive). A notification is sent
-- at commit and identical ones of one transaction are sent once.
--
-- What booking_availability reads: stores (time zone, closed), services, store_hours,
-- store_closures, staff_skills, staff (disabled), shifts and appointments. An appointment holds
-- its staff member in every store they work in, so it tells each of those stores. A slot starts
-- on its local day and may reach past midnight (buffer), hence the day before in a range.

create function avail_notify_range(p_stores bigint[], p_from timestamptz, p_to timestamptz)
returns void
language sql as $$
    select pg_notify('carnet_avail',
                     format('%s %s %s', st.id,
                            to_char((p_from at time zone st.timezone)::date - 1, 'YYYY-MM-DD'),
                            to_char((p_to at time zone st.timezone)::date, 'YYYY-MM-DD')))
    from stores st
    where st.id = any (p_stores)
$$;

create function avail_notify_row() returns trigger
language plpgsql as $$
begin
    if tg_table_name = 'appointments' then
        if tg_op <> 'INSERT' then
            perform avail_notify_range(
                array(select k.store_id from staff_skills k where k.staff_id = old.staff_id
                      union select old.store_id), old.starts_at, old.blocked_until);
        end if;
        if tg_op <> 'DELETE' then
            perform avail_notify_range(
                array(select k.store_id from staff_skills k where k.staff_id = new.staff_id
                      union select new.store_id), new.starts_at, new.blocked_until);
        end if;
    elsif tg_table_name = 'shifts' then
        if tg_op <> 'INSERT' then
            perform avail_notify_range(array[old.store_id], old.starts_at, old.ends_at);
        end if;
        if tg_op <> 'DELETE' then
            perform avail_notify_range(array[new.store_id], new.starts_at, new.ends_at);
        end if;
    elsif tg_table_name = 'store_closures' then
        if tg_op <> 'INSERT' then
            perform pg_notify('carnet_avail', format('%s %s %2$s', old.store_id, to_char(old.day, 'YYYY-MM-DD')));
        end if;
        if tg_op <> 'DELETE' then
            perform pg_notify('carnet_avail', format('%s %s %2$s', new.store_id, to_char(new.day, 'YYYY-MM-DD')));
        end if;
    elsif tg_table_name = 'stores' then
        perform pg_notify('carnet_avail', new.id::text);
    elsif tg_table_name = 'staff' then
        perform pg_notify('carnet_avail', k.store_id::text)
        from (select distinct store_id from staff_skills where staff_id = new.id) k;
    else
        -- services, store_hours, staff_skills: every row has its store_id.
        if tg_op <> 'INSERT' then
            perform pg_notify('carnet_avail', (to_jsonb(old) ->> 'store_id'));
        end if;
        if tg_op <> 'DELETE' then
            perform pg_notify('carnet_avail', (to_jsonb(new) ->> 'store_id'));
        end if;
    end if;
    return null;
end $$;

create trigger avail_notify after insert or delete on appointments
    for each row execute function avail_notify_row();
-- Only what holds time: notes, reminders and customer data leave the slots as they are.
create trigger avail_notify_update after update on appointments
    for each row
    when ((old.staff_id, old.store_id, old.starts_at, old.blocked_until,
           old.status in ('booked', 'checked_in', 'in_service'))
          is distinct from
          (new.staff_id, new.store_id, new.starts_at, new.blocked_until,
           new.status in ('booked', 'checked_in', 'in_service')))
    execute function avail_notify_row();
create trigger avail_notify after insert or update or delete on shifts
    for each row execute function avail_notify_row();
create trigger avail_notify after insert or update or delete on store_closures
    for each row execute function avail_notify_row();
create trigger avail_notify after insert or update or delete on services
    for each row execute function avail_notify_row();
create trigger avail_notify after insert or update or delete on store_hours
    for each row execute function avail_notify_row();
create trigger avail_notify after insert or update or delete on staff_skills
    for each row execute function avail_notify_row();
create trigger avail_notify after update on stores
    for each row when ((old.timezone, old.closed_at) is distinct from (new.timezone, new.closed_at))
    execute function avail_notify_row();
create trigger avail_notify after update on staff
    for each row when (old.disabled_at is distinct from new.disabled_at)
    execute function avail_notify_row();
