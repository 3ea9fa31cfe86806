-- 017: personal data at rest is ciphertext.
--
-- Names, emails, phones, free-text contacts and message texts are stored as personal-data
-- markers ({{pd:<key id>:...}}, XChaCha20-Poly1305 under the data key, server/seal.c), opened by
-- carnetd only on their way to a reply or a message. Emails and phones are found again through
-- a keyed blind index (the *_bi columns). pd_columns lists every such column: carnetd's sealing
-- job (server/pdstore.c) walks it, so what was written in clear before this migration (and the
-- demo seed) is sealed in batches, and a data-key rotation re-seals under the new key.
--
-- mode 'value': the whole value is personal data; 'text': a text that may hold markers (an
-- outbox body), whose markers are re-sealed under the current key; 'json': a JSON object whose
-- members named in json_keys are personal data (a message's placeholders: the name), other
-- markers in it re-sealed. bi: the blind index column and what it indexes (an email, a phone,
-- or a contact that is either).

create table pd_columns (
    tbl text not null,
    col text not null,
    typ text not null default 'text' check (typ in ('text', 'jsonb')),
    mode text not null check (mode in ('value', 'text', 'json')),
    json_keys text[],
    bi_col text,
    bi_kind text check (bi_kind in ('email', 'phone', 'contact')),
    primary key (tbl, col),
    check ((bi_col is null) = (bi_kind is null))
);

insert into pd_columns (tbl, col, typ, mode, bi_col, bi_kind) values
    ('appointments', 'customer_name', 'text', 'value', null, null),
    ('appointments', 'customer_email', 'text', 'value', 'customer_email_bi', 'email'),
    ('appointments', 'customer_phone', 'text', 'value', 'customer_phone_bi', 'phone'),
    ('device_owners', 'name', 'text', 'value', null, null),
    ('device_owners', 'email', 'text', 'value', 'email_bi', 'email'),
    ('device_owners', 'phone', 'text', 'value', 'phone_bi', 'phone'),
    ('visits', 'name', 'text', 'value', null, null),
    ('visits', 'contact', 'text', 'value', 'contact_bi', 'contact'),
    ('standby', 'name', 'text', 'value', null, null),
    ('standby', 'email', 'text', 'value', 'email_bi', 'email'),
    ('standby', 'phone', 'text', 'value', 'phone_bi', 'phone'),
    ('message_threads', 'customer_name', 'text', 'value', null, null),
    ('message_threads', 'recipient', 'text', 'value', 'recipient_bi', 'contact'),
    ('messages', 'body', 'text', 'value', null, null),
    ('outbox', 'recipient', 'text', 'value', 'recipient_bi', 'contact'),
    ('outbox', 'subject', 'text', 'text', null, null),
    ('outbox', 'body', 'text', 'text', null, null),
    ('outbox', 'sms', 'text', 'text', null, null),
    ('outbox', 'data', 'jsonb', 'json', null, null),
    ('promises', 'recipient', 'text', 'value', 'recipient_bi', 'contact'),
    ('promises', 'data', 'jsonb', 'json', null, null);

update pd_columns set json_keys = array['name'] where mode = 'json';

alter table appointments add column customer_email_bi text, add column customer_phone_bi text;
alter table device_owners add column email_bi text, add column phone_bi text;
alter table visits add column contact_bi text;
alter table standby add column email_bi text, add column phone_bi text;
alter table message_threads add column recipient_bi text;
alter table outbox add column recipient_bi text;
alter table promises add column recipient_bi text;

create index appointments_email_bi_idx on appointments (customer_email_bi);
create index appointments_phone_bi_idx on appointments (customer_phone_bi);
create index device_owners_email_bi_idx on device_owners (email_bi);
create index device_owners_phone_bi_idx on device_owners (phone_bi);
create index standby_email_bi_idx on standby (email_bi);
create index standby_phone_bi_idx on standby (phone_bi);
create index visits_contact_bi_idx on visits (contact_bi);
create index message_threads_recipient_bi_idx on message_threads (recipient_bi);
create index outbox_recipient_bi_idx on outbox (recipient_bi);

-- What the sealing job looks for between rotations: values not sealed at all. A partial index
-- per column keeps that look cheap however large the table (it holds only clear values: none,
-- once the job has caught up).
do $$
declare
    p record;
begin
    for p in select tbl, col from pd_columns where mode = 'value' loop
        execute format('create index %I on %I (id) where %I not like %L',
                       'pd_clear_' || p.tbl || '_' || p.col, p.tbl, p.col, '{{pd:%');
    end loop;
    -- ... and sealed values whose blind index is missing (sealed by a caller that did not
    -- compute it): the job opens them and fills it in.
    for p in select tbl, col, bi_col from pd_columns where bi_col is not null loop
        execute format('create index %I on %I (id) where %I is null and %I is not null',
                       'pd_nobi_' || p.tbl || '_' || p.col, p.tbl, p.bi_col, p.col);
    end loop;
end $$;

-- The checks on the clear values (lengths, formats) cannot hold for ciphertext: the functions
-- that take them in (and carnetd before sealing) check them now.
do $$
declare
    c record;
begin
    for c in
        select con.conname, rel.relname
        from pg_constraint con
        join pg_class rel on rel.oid = con.conrelid
        join pd_columns p on p.tbl = rel.relname
        join pg_attribute a on a.attrelid = rel.oid and a.attname = p.col
        where con.contype = 'c' and p.mode = 'value' and a.attnum = any (con.conkey)
          and array_length(con.conkey, 1) = 1
    loop
        execute format('alter table %I drop constraint %I', c.relname, c.conname);
    end loop;
end $$;
