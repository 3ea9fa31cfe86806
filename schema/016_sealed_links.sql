-- 016: no live customer link rests in the database in clear.
--
-- Links the database puts in a message used to be minted in SQL (message_token_new) and written
-- into the outbox body. Now carnetd keeps a stock of ready links here, each the token's hash and
-- the token sealed under the data key (server/linkstock.c, server/seal.c); SQL takes one
-- (link_stock_take) and the outbox opens the seal only to deliver. A delivered message keeps its
-- metadata (kind, recipient, times, outcome) but not its text.

create table link_stock (
    id bigint generated always as identity primary key,
    token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
    sealed text not null check (sealed like '{{sealed:%}}'),
    created_at timestamptz not null default now()
);

drop function if exists message_token_new();

-- What was already delivered, cancelled or given up has no reason to keep its text (and the
-- working links in it).
update outbox set subject = '', body = '', sms = ''
where status in ('sent', 'failed', 'cancelled');
