-- 040: a webhook's URL is sealed at rest like its secret (issue #14, point 9, review): Slack- and
-- Zapier-style URLs carry a secret in their path or query, so whoever reads the table or a dump
-- could post as the store. carnetd seals the URL it checked; only the sending thread opens it.
-- Listing shows url_shown, written from the URL when it is saved: its scheme and host, the rest
-- masked (https://hooks.example.com/…). The full URL is shown once, in the reply that creates it.

alter table webhook_endpoints drop constraint webhook_endpoints_url_check;
alter table webhook_endpoints add column url_shown text not null default ''
    check (length(url_shown) <= 2100);
-- The same mask as webhook_url_shown (schema/api/webhooks.sql, loaded after this file).
update webhook_endpoints set url_shown =
    substring(url from '^https://[^/?#]*') ||
    case when substr(url, length(substring(url from '^https://[^/?#]*')) + 1) in ('', '/')
         then '/' else '/…' end;

insert into pd_columns (tbl, col, typ, mode) values ('webhook_endpoints', 'url', 'text', 'value');
-- What the sealing job looks for (017): the URLs saved in clear before this migration.
create index pd_clear_webhook_endpoints_url on webhook_endpoints (id)
    where url not like '{{pd:%';

-- The saves now take the sealed URL beside the body: the old signatures go, where an earlier
-- migrate made them (webhooks.sql
-- defines the new ones).
drop function if exists webhook_create(bigint, text, bigint, jsonb, text);
drop function if exists webhook_update(bigint, text, bigint, bigint, jsonb);
