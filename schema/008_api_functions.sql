-- 008_api_functions: the API's functions now live in schema/api/<domain>.sql, one current
-- definition each, loaded after the migrations on every migrate (see server/migrate.c).
--
-- A database built by 001..007 still has the functions those files made. Where the api files
-- changed a function's argument types, `create or replace` would add an overload beside the old
-- one, so the old signatures are dropped here: the booking calls that took their store, object
-- and staff ids as text re-checked with a regex now take bigint (carnetd sends ids untyped and
-- PostgreSQL resolves them against the one signature left). booking_error_reply, SQL's copy of
-- the SQLSTATE -> HTTP mapping, is gone: carnetd keeps the only one. No cascade: nothing but
-- function bodies uses these, and a dependency would mean this list is wrong.
drop function if exists booking_store(text);
drop function if exists booking_list_services(text);
drop function if exists booking_availability(text, text, text, text);
drop function if exists booking_create(text, jsonb, text, text, text, text, text);
drop function if exists booking_create_do(text, jsonb, text, text);
drop function if exists booking_staff_appointment(text, text);
drop function if exists booking_day(bigint, text, text, text);
drop function if exists booking_staff_reschedule(bigint, text, text, jsonb, text);
drop function if exists booking_staff_cancel(bigint, text, text, text);
drop function if exists booking_set_hours(bigint, text, jsonb, text);
drop function if exists booking_add_closure(bigint, text, jsonb, text);
drop function if exists booking_add_service(bigint, text, jsonb, text);
drop function if exists booking_set_skills(bigint, text, text, jsonb, text);
drop function if exists booking_add_shift(bigint, text, jsonb, text);
drop function if exists booking_store_detail(text);
drop function if exists booking_shifts(bigint, text, text, text);
drop function if exists booking_delete_shift(bigint, text, text, text);
drop function if exists booking_error_reply(text, text, text, text, text);

-- Idempotent bookings store the first result as SQL gave it: a success as its status and body,
-- an error as its SQLSTATE and fields (message, detail, hint, constraint), raised again on a
-- retry so that carnetd's mapping makes the reply.
alter table booking_idempotency
    alter column status drop not null,
    alter column body drop not null,
    add column sqlstate text check (sqlstate ~ '^[0-9A-Z]{5}$'),
    add column error_message text,
    add column error_detail text,
    add column error_hint text,
    add column error_constraint text;

-- Errors stored by 002 as an HTTP reply become the CAnnn error that carnetd maps to the same
-- reply: MESSAGE = code, DETAIL = field (or the extra members with the field), HINT = message.
update booking_idempotency
set sqlstate = 'CA' || status,
    error_message = body -> 'error' ->> 'code',
    error_detail = case
        when (body -> 'error') - array['code', 'field', 'message'] = '{}'::jsonb
            then coalesce(body -> 'error' ->> 'field', '')
        else ((body -> 'error') - array['code', 'message']
              || jsonb_build_object('field', body -> 'error' ->> 'field'))::text end,
    error_hint = body -> 'error' ->> 'message',
    status = null,
    body = null
where status >= 300;

alter table booking_idempotency add constraint booking_idempotency_one_result check (
    case when sqlstate is null then status is not null and body is not null
         else status is null and body is null and error_message is not null end);
