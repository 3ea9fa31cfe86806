-- Idempotency-Key (schema/api/idempotency.sql): idem_claim holds a new key, replays a stored
-- answer for the same request, refuses another request under the key; idem_store keeps the
-- answer; scopes are apart; idem_prune purges keys older than a day.
begin;
\ir _helpers.sql

-- No key: nothing held, nothing stored.
select idem_claim('t:1', null, null) is null as no_key;
select idem_store('t:1', null, '{"a": 1}');
select count(*) as rows from idempotency_replies;

-- Malformed hashes are refused (carnetd sends 64 hex digits).
select pg_temp.try(format('select idem_claim(%L, %L, %L)', 't:1', 'short', repeat('f', 64)));
select pg_temp.try(format('select idem_claim(%L, %L, %L)', 't:1', repeat('a', 64), null));

-- A new key is held (null), its answer stored; the same request replays it.
select idem_claim('t:1', repeat('a', 64), repeat('f', 64)) is null as new_key;
select idem_store('t:1', repeat('a', 64), '{"visit_id": 7}');
select idem_claim('t:1', repeat('a', 64), repeat('f', 64)) as replay;
-- Another request under the key: refused; the stored answer is unchanged.
select pg_temp.try(format('select idem_claim(%L, %L, %L)', 't:1', repeat('a', 64), repeat('e', 64)));
select answer from idempotency_replies where scope = 't:1';
-- The same key in another scope (another actor or store) is another key.
select idem_claim('t:2', repeat('a', 64), repeat('e', 64)) is null as other_scope_new;
select count(*) as rows from idempotency_replies;

-- Older than a day: purged; younger: kept.
update idempotency_replies set created_at = now() - interval '25 hours' where scope = 't:1';
select idem_prune() as purged;
select scope from idempotency_replies order by scope;

rollback;
