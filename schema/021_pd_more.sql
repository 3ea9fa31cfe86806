-- 021: a survey's comment is personal data too (017); a message's record entry keeps a keyed
-- hash of its text.
--
-- It is free text the customer writes to the store, as a message is: it may name them, give a
-- phone number, tell what happened to them. carnetd checks it and seals it before SQL sees it
-- (server/message.c); one written in clear (before this migration, or by an SQL caller) is
-- sealed by the sealing job, re-sealed at a rotation, and an erasure removes it (customers.sql).

insert into pd_columns (tbl, col, typ, mode) values ('surveys', 'comment', 'text', 'value');
-- The sealing job's look for clear values, as 017 made for the other columns.
create index pd_clear_surveys_comment on surveys (id) where comment not like '{{pd:%';

-- Its length cannot be checked on ciphertext: carnetd checks it before sealing.
do $$
declare
    c record;
begin
    for c in
        select con.conname
        from pg_constraint con
        join pg_class rel on rel.oid = con.conrelid
        join pg_attribute a on a.attrelid = rel.oid and a.attname = 'comment'
        where con.contype = 'c' and rel.relname = 'surveys' and a.attnum = any (con.conkey)
          and array_length(con.conkey, 1) = 1
    loop
        execute format('alter table surveys drop constraint %I', c.conname);
    end loop;
end $$;

-- A message's entry in the health record kept the SHA-256 of its clear text (019): whoever
-- reads the database could find a short or predictable text by trying likely ones. carnetd now
-- sends a keyed hash (mac, under the data key named by mac_key) instead; message_text_in and
-- message_record (schema/api/messages.sql) carry it as a JSON proof, so their signatures change.
-- Entries written before keep their SHA-256 (the chain covers them; an erasure removes it).
drop function if exists message_record(bigint, bigint, bigint, text);
drop function if exists message_text_in(jsonb);
