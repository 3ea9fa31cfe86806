-- Talking to customers: the outbox (written in the cause's transaction), message threads by
-- link and by staff, surveys and the satisfaction report.
begin;
\ir _helpers.sql

-- The outbox refuses what it could never deliver.
select pg_temp.try($$select outbox_enqueue('booking_confirmed', 'fax', '+33612345678', 'en', '{}')$$);
select pg_temp.try($$select outbox_enqueue('booking_confirmed', 'email', 'not-an-address', 'en', '{}')$$);
select pg_temp.try($$select outbox_enqueue('no_such_kind', 'email', 'a@example.test', 'en', '{}')$$);
-- A sealed recipient (carnetd checked it before sealing) cannot be read here: accepted as it is,
-- with its blind index; a clear one is still checked.
select outbox_enqueue('booking_confirmed', 'email', '{{pd:0123456789abcdef:cmVjaXBpZW50}}', 'en',
                      '{}', null, null, null, null, repeat('f', 64)) as sealed_out \gset
select recipient, recipient_bi from outbox where id = :sealed_out;
select pg_temp.try($$select outbox_enqueue('booking_confirmed', 'sms', '{{pd:not a marker}}', 'en', '{}')$$);
select outbox_render('Hello {{name}}, see {{link}}', '{"name": "Ana", "link": "L"}') as rendered;
select pg_temp.try(format('select outbox_list(%s, %s, %L, 10)', :manager, :paris, 'lost'));
select pg_temp.try(format('select outbox_retry(%s, %s, %s, %L)', :manager, :paris, 999999, 'r'));

-- Threads: the demo repair thread has one unread customer message.
select m ->> 'unread' as unread, json_array_length(m -> 'threads') as threads
from message_threads_list(:manager, :paris, false) m;
select (select id from message_threads where ref_type = 'repair' and ref_id = 900001) as thread
\gset
select pg_temp.try(format('select message_thread_get(%s, %s, %s, %L)', :lyon_manager, :lyon,
                          :thread, 'r'));
select json_array_length(message_thread_get(:manager, :paris, :thread, 'req-1') -> 'messages')
       as messages;
select message_threads_list(:manager, :paris, true) ->> 'unread' as unread_after_reading;
select pg_temp.try(format('select message_staff_post(%s, %s, %s, %L, %L)', :manager, :paris,
                          :thread, '{"body": "  "}', 'r'));
select (message_staff_post(:manager, :paris, :thread, '{"body": "Samedi, oui."}', 'req-2')
        ->> 'thread_id')::bigint = :thread as posted;
-- The reply goes out with a fresh link to the thread.
select kind, channel, recipient from outbox where ref_type = 'thread' and ref_id = :thread;

-- The customer's side, by a link minted for the thread: taken from carnetd's stock, so the URL
-- carries the token only sealed. Stock one whose token this test knows.
\set tok 'thread-token-known-to-this-test-only-000000'
insert into link_stock (token_hash, sealed)
values (message_token_hash(:'tok'), '{{sealed:0123456789abcdef:thread-sealed}}');
delete from link_stock where token_hash <> message_token_hash(:'tok');
select message_link_mint(:thread) as link;
select count(*) as stock_left from link_stock;
-- An empty stock (no carnetd has run since the database was made) is a retryable 503.
select pg_temp.try(format('select message_link_mint(%s)', :thread));
select json_array_length(message_customer_get(message_token_hash(:'tok')) -> 'messages')
       as messages;
select pg_temp.try($$select message_customer_get(repeat('0', 64))$$);
select (message_customer_post(message_token_hash(:'tok'), '{"body": "Merci"}') ->> 'thread_id')::bigint
       = :thread as posted;
select pg_temp.try(format('select message_customer_post(%L, %L)', message_token_hash(:'tok'),
                          jsonb_build_object('body', repeat('x', 4001))));
-- A message as carnetd sends it: the text sealed, with the SHA-256 of the clear text. The
-- device's record keeps the message's id and that hash, never the text; the record view shows
-- the text from messages (a marker, opened by carnetd on the way out). A thread about a device,
-- opened with a sealed contact and its blind index:
select message_thread_open(:paris, 'repair', 990001, 'email', '{{pd:0123456789abcdef:dG8}}', 'en',
    '{{pd:0123456789abcdef:bmFtZQ}}', (select id from devices where serial = 'F2LDEMO0PH13'),
    repeat('c', 64)) as dthread \gset
select recipient_bi = repeat('c', 64) as thread_bi from message_threads where id = :dthread;
insert into link_stock (token_hash, sealed)
select message_token_hash('stock-' || i), '{{sealed:0123456789abcdef:stock}}'
from generate_series(1, 2) i;
select (message_staff_post(:manager, :paris, :dthread,
        jsonb_build_object('body', '{{pd:0123456789abcdef:c2VhbGVk}}', 'mac', repeat('5', 64),
                           'mac_key', '0123456789abcdef'),
        'r') ->> 'id')::bigint as sealed_id \gset
select body from messages where id = :sealed_id;
select content ? 'body' as text_in_chain, content ->> 'mac' = repeat('5', 64) as hash_in_chain
from record_entries where kind = 'message' and (content ->> 'message_id')::bigint = :sealed_id;
select e -> 'content' ->> 'body' as shown
from json_array_elements(device_record(:manager, 'F2LDEMO0PH13', null, 50, 'r') -> 'entries') e
where (e -> 'content' ->> 'message_id')::bigint = :sealed_id;
-- Its notice goes to the sealed recipient, with the thread's blind index.
select recipient, recipient_bi = repeat('c', 64) as notice_bi from outbox
where ref_type = 'thread' and ref_id = :dthread;
-- A clear text posted from SQL is hashed here.
select (message_staff_post(:manager, :paris, :dthread, '{"body": "Merci"}', 'r') ->> 'id')::bigint
       as clear_id \gset
select content ->> 'sha256' = encode(sha256(convert_to('Merci', 'UTF8')), 'hex') as clear_hashed
from record_entries where kind = 'message' and (content ->> 'message_id')::bigint = :clear_id;
-- A sealed text without its hash, or with a malformed one: refused.
select pg_temp.try(format('select message_customer_post(%L, %L)', message_token_hash(:'tok'),
                          '{"body": "{{pd:0123456789abcdef:c2VhbGVk}}"}'));
select pg_temp.try(format('select message_staff_post(%s, %s, %s, %L, %L)', :manager, :paris,
                          :thread, '{"body": "{{pd:0123456789abcdef:c2VhbGVk}}", "mac": "x", "mac_key": "0123456789abcdef"}',
                          'r'));

-- Surveys: one answer per link, values within their scales.
insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at)
values (:paris, 'visit', 1, message_token_hash('survey-token'), now() + interval '1 day');
select survey_get(message_token_hash('survey-token')) ->> 'ref_type' as ref_type;
select pg_temp.try(format('select survey_answer(%L, %L)', message_token_hash('survey-token'),
                          '{"satisfaction": 6}'));
select survey_answer(message_token_hash('survey-token'),
                     '{"satisfaction": 5, "effort": 2, "recommendation": 9}') as answer;
select pg_temp.try(format('select survey_answer(%L, %L)', message_token_hash('survey-token'),
                          '{"satisfaction": 4, "effort": 2, "recommendation": 9}'));
-- The score alone (the tap on a per-score link), then the rest, each once (036).
insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at)
values (:paris, 'visit', 2, message_token_hash('survey-two'), now() + interval '1 day');
select pg_temp.try(format('select survey_answer(%L, %L)', message_token_hash('survey-two'),
                          '{"effort": 2}'));
select survey_answer(message_token_hash('survey-two'), '{"satisfaction": 4}') as answer;
select survey_answer(message_token_hash('survey-two'), '{"effort": 3}') as answer;
select pg_temp.try(format('select survey_answer(%L, %L)', message_token_hash('survey-two'),
                          '{"effort": 5}'));
select satisfaction, effort, followup_at is not null as followup from surveys
where token_hash = message_token_hash('survey-two');
select pg_temp.try($$select survey_get(repeat('0', 64))$$);
select json_array_length(survey_report(:manager, :paris, 8, 'req-3') -> 'weeks') > 0 as weeks;

-- Reminders follow a moved booking: the day-before reminder of the old time went out, yet the
-- new time gets its own; the hour-before one (still pending) is replaced.
select (date_trunc('day', now() at time zone 'Europe/Paris') + interval '3 days 10 hours')
       at time zone 'Europe/Paris' as rem_old \gset
select outbox_schedule_reminders(999999, :paris, :'rem_old', 'email', 'rem@example.test', 'en',
                                 '{"name": "Rémi"}') as scheduled;
update outbox set status = 'sent', sent_at = now()
where ref_type = 'appointment' and ref_id = 999999 and kind = 'reminder_day';
select outbox_schedule_reminders(999999, :paris, :'rem_old'::timestamptz + interval '1 day',
                                 'email', 'rem@example.test', 'en', '{"name": "Rémi"}')
       as scheduled;
select kind, status,
       (next_attempt_at at time zone 'Europe/Paris')::date
           - (timestamptz :'rem_old' at time zone 'Europe/Paris')::date as day,
       to_char(next_attempt_at at time zone 'Europe/Paris', 'HH24:MI') as at
from outbox where ref_type = 'appointment' and ref_id = 999999 order by id;

rollback;
