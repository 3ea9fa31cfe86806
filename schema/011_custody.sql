-- 011_custody: a repair keeps the customer it was opened for (issue 12, point 1).
--
-- Until now every message about a repair went to whoever was the device's owner at the moment
-- of sending, so recording a new owner (from any store) redirected a repair's messages, and its
-- private status link with them. A repair now points at the owner row that was current at
-- intake. Owner rows are history: a change closes the row and adds one, it never rewrites it;
-- pointing at the row therefore keeps the contact as given, without a second copy of the
-- customer's personal data (an erasure of that row silences the repair, as it should).
-- A repair opened for a device without an owner takes the first owner recorded while it is
-- open (see device_owner_set): that fills an empty contact, it redirects nothing.
alter table repair_orders add column contact_owner_id bigint references device_owners(id);
-- An owner's erasure finds the repairs that would message them.
create index repair_orders_contact_idx on repair_orders (contact_owner_id)
    where contact_owner_id is not null;

-- Repairs opened before this: the owner who held the device when the repair was opened. An open
-- repair that had no owner then was being told whoever came first after; it keeps that one.
update repair_orders r set contact_owner_id = coalesce(
    (select o.id from device_owners o
     where o.device_id = r.device_id and o.since <= r.opened_at
       and (o.until is null or o.until > r.opened_at)),
    case when not (select terminal from repair_states where state = r.state) then
        (select o.id from device_owners o
         where o.device_id = r.device_id and o.since > r.opened_at
         order by o.since, o.id limit 1) end);

-- repair_contact took the device and read its current owner; it now takes the repair.
-- device_owner_set takes the request id, for the audit line of a custody override.
drop function if exists repair_contact(bigint);
drop function if exists device_owner_set(bigint, devices, jsonb, bigint, text);
