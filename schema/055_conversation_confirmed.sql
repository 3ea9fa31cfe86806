-- 055: a conversation follows a device only through a serial staff confirmed (review of #17, S3).
--
-- 054 attached a booking's and a visit's messages to the device of the serial the customer typed,
-- as its backfill and message_device_made did. That serial is only the customer's word (as
-- passport_device says): anyone could book with another's serial, write from the booking's link,
-- and have it shown as that device's earlier conversation at every store. Now (message_ref_device
-- in schema/api/messages.sql) a booking's or a visit's messages join the device once staff served
-- the visit (in service or done); this detaches the rows whose only link was the typed serial.
-- Repairs' and their threads' rows are not touched: a repair's device is staff's own.

update message_threads t set device_id = null
where t.device_id is not null and t.ref_type in ('appointment', 'visit')
  and not exists (select 1 from visits v join devices d on d.serial = v.device_serial
                  where d.id = t.device_id and v.status in ('in_service', 'done')
                    and ((t.ref_type = 'visit' and v.id = t.ref_id)
                         or (t.ref_type = 'appointment' and v.appointment_id = t.ref_id)));
update outbox o set device_id = null
where o.device_id is not null and o.ref_type in ('appointment', 'visit')
  and not exists (select 1 from visits v join devices d on d.serial = v.device_serial
                  where d.id = o.device_id and v.status in ('in_service', 'done')
                    and ((o.ref_type = 'visit' and v.id = o.ref_id)
                         or (o.ref_type = 'appointment' and v.appointment_id = o.ref_id)));
update outbox o set device_id = null
from message_threads t
where o.ref_type = 'thread' and t.id = o.ref_id and o.device_id is not null
  and t.device_id is null;
