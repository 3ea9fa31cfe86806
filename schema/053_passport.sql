-- 053: the chain's passport signing key (issue #17, a signed device passport).
--
-- One Ed25519 key pair signs every device passport (server/passport.c). The first carnetd to
-- start creates it and stores it here, so every carnetd of the chain signs with the same key;
-- the 32-byte seed rests sealed under the data key like personal data (a pd marker, registered
-- in pd_columns so a data-key rotation re-seals it). The public key and its id are not secret.
-- One row: a second start finds it (passport_key_ensure, schema/api/passport.sql).
create table passport_keys (
    id smallint primary key default 1 check (id = 1),
    key_id text not null check (key_id ~ '^[0-9a-f]{16}$'),
    public_key text not null check (public_key ~ '^[A-Za-z0-9_-]{43}$'),
    secret text not null,
    created_at timestamptz not null default now()
);

insert into pd_columns (tbl, col, typ, mode) values ('passport_keys', 'secret', 'text', 'value');
-- What the sealing job looks for (017): a seed written in clear by hand.
create index pd_clear_passport_keys_secret on passport_keys (id)
    where secret not like '{{pd:%';
