-- 019: personal data sealed by carnetd on the way in, for devices, repairs and messages.
--
-- Owners, message texts and the recipients copied from them reach SQL as personal-data markers
-- (017), sealed by carnetd before the call, with their blind indexes computed there too: the
-- database cannot check or compare a sealed value, so the functions that took clear values
-- now take markers and the blind index beside them. Their signatures change, so the old ones
-- are dropped here and schema/api/{device,repair,messages}.sql create the new ones.
--
-- The health record's 'message' entries carry the message id and a SHA-256 of its clear text
-- from now on, not the text: a sealed text in a hash-chained entry could neither be re-sealed
-- under a new key nor erased without breaking the chain. The record view joins the text from
-- messages. Entries written before this migration keep their text (the chain covers them).

drop function if exists device_search(bigint, text, int, text);
drop function if exists repair_contact(repair_orders);
drop function if exists outbox_enqueue(text, text, text, text, jsonb, bigint, text, bigint,
                                       timestamptz);
drop function if exists outbox_schedule_reminders(bigint, bigint, timestamptz, text, text, text,
                                                  jsonb);
drop function if exists outbox_booking_event(text, bigint, bigint, timestamptz, text, text, text,
                                             jsonb);
drop function if exists message_thread_open(bigint, text, bigint, text, text, text, text, bigint);
drop function if exists promise_track(bigint, text, bigint, timestamptz, text, text, text, jsonb,
                                      text);
drop function if exists survey_offer(bigint, text, bigint, text, text, text, jsonb);
drop function if exists message_record(bigint, bigint, bigint);
