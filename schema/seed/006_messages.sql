-- Demo data for messages: a few weeks of answered surveys in Paris (so the manager's
-- satisfaction report has something to show) and a repair thread with an unread customer
-- message. Idempotent: does nothing once the demo surveys exist. Survey tokens here are
-- random and never sent, so these surveys cannot be opened by link.
do $seed$
declare
    paris bigint;
    t bigint;
begin
    select id into paris from stores where code = 'paris-opera';
    if paris is null or exists (select 1 from surveys where store_id = paris) then
        return;
    end if;
    -- Answered long ago: their links are the hashes of tokens nobody holds.
    insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at, answered_at,
                         satisfaction, effort, recommendation, comment)
    select paris, case when i % 3 = 0 then 'repair' else 'visit' end, 900000 + i,
           encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex'), now() + interval '14 days',
           now() - make_interval(days => i),
           (array[5, 4, 5, 3, 5, 4, 2, 5])[1 + i % 8], (array[2, 3, 1, 4, 2, 5, 6, 2])[1 + i % 8],
           (array[10, 9, 8, 6, 10, 9, 3, 9])[1 + i % 8],
           case when i % 5 = 0 then 'Friendly and quick.' end
    from generate_series(0, 34) i;
    t := message_thread_open(paris, 'repair', 900001, 'email', 'camille@example.test', 'fr',
                             'Camille Demo');
    insert into messages (thread_id, author, staff_id, body)
    select t, 'staff', id, 'Bonjour, la pièce arrive demain, nous vous tenons au courant.'
    from staff where email = 'tech@carnet.test';
    insert into messages (thread_id, author, body)
    values (t, 'customer', 'Merci ! Je peux passer la chercher samedi ?');
end
$seed$;
