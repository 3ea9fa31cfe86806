-- 054: the conversation follows the device (issue 17, point 5).
--
-- A message sent to a customer (outbox) and a thread written with them (message_threads, which
-- already had device_id) name the device they are about, beside the booking, visit or repair,
-- so a technician at any store reads every earlier conversation about a serial
-- (GET /api/devices/{serial}/conversations, message_device_conversations in
-- schema/api/messages.sql). outbox_enqueue and message_thread_open set it from the object the
-- message is about (message_ref_device); a device made later than its messages (a walk-in's,
-- made when the visit starts) takes them then (message_device_made, a trigger on devices); rows
-- written before are backfilled here the same way.
--
-- erased_at marks a sent message whose customer was erased (customer_erase): its recipient and
-- placeholders are gone, and the view says "erased" rather than showing an empty text. A
-- retention purge (purged_at, 014) is not an erasure: it keeps its own mark.

alter table outbox add column device_id bigint references devices(id),
                   add column erased_at timestamptz;
create index outbox_device_idx on outbox (device_id, id) where device_id is not null;
create index message_threads_device_idx on message_threads (device_id) where device_id is not null;

update message_threads t set device_id = r.device_id
from repair_orders r
where t.device_id is null and t.ref_type = 'repair' and r.id = t.ref_id;
update message_threads t set device_id = d.id
from appointments a join devices d on d.serial = a.device_serial
where t.device_id is null and t.ref_type = 'appointment' and a.id = t.ref_id;

update outbox o set device_id = r.device_id
from repair_orders r
where o.ref_type = 'repair' and r.id = o.ref_id;
update outbox o set device_id = d.id
from appointments a join devices d on d.serial = a.device_serial
where o.ref_type = 'appointment' and a.id = o.ref_id;
-- A booked visit's serial is its booking's; a walk-in's is the one given at the door.
update outbox o set device_id = d.id
from visits v join devices d on d.serial = v.device_serial
where o.ref_type = 'visit' and v.id = o.ref_id;
update outbox o set device_id = t.device_id
from message_threads t
where o.ref_type = 'thread' and t.id = o.ref_id and t.device_id is not null;

-- Only an erasure leaves a message without its recipient (a retention purge writes 'erased'
-- there and marks purged_at): those, and the messages of erased threads.
update outbox o set erased_at = coalesce(
        (select t.erased_at from message_threads t where o.ref_type = 'thread' and t.id = o.ref_id),
        now())
where o.recipient is null
   or (o.ref_type = 'thread'
       and exists (select 1 from message_threads t where t.id = o.ref_id and t.erased_at is not null));
